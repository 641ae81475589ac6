package app

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func benchView(b *testing.B, w, h int) {
	st := replay(b, "home-visit", 2*time.Minute)[2].State // several links, many events
	m := New(Options{Theme: theme.New(theme.Options{}), Thresholds: netstate.DefaultThresholds(), Location: time.UTC})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(StateMsg(st))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = m.View()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/frame")
}

// BenchmarkView80x24 reports the cost of one frame at the SSH size
// (target < 1 ms).
func BenchmarkView80x24(b *testing.B) { benchView(b, 80, 24) }

// BenchmarkView200x60 reports the cost of one frame on a wide screen
// (target < 1 ms).
func BenchmarkView200x60(b *testing.B) { benchView(b, 200, 60) }

// countingWriter counts what the renderer sends to the terminal.
type countingWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *countingWriter) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]byte(nil), c.buf.Bytes()...)
	c.buf.Reset()
	return out
}

// waitQuiet waits until the renderer has written something and then been
// quiet for a few frames.
func (c *countingWriter) waitQuiet(tb testing.TB) []byte {
	var got []byte
	deadline := time.Now().Add(5 * time.Second)
	quiet := 0
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		chunk := c.take()
		got = append(got, chunk...)
		if len(chunk) == 0 && len(got) > 0 {
			quiet++
			if quiet >= 3 {
				return got
			}
		} else {
			quiet = 0
		}
	}
	tb.Fatalf("renderer never settled (%d bytes)", len(got))
	return nil
}

// BenchmarkBarChangeBytes reports the bytes Bubble Tea's renderer writes to
// an 80x24 terminal when one link's signal drops a bar (target < 1 KB):
// what a technician pays per change over a slow SSH link.
func BenchmarkBarChangeBytes(b *testing.B) {
	st := replay(b, "home-visit", 2*time.Minute)[0].State
	var total, first int
	for b.Loop() {
		out := &countingWriter{}
		states := make(chan engine.State, 1)
		m := New(Options{Theme: theme.New(theme.Options{}), Thresholds: netstate.DefaultThresholds(), Location: time.UTC, States: states})
		ctx, cancel := context.WithCancel(context.Background())
		p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(nil), tea.WithOutput(out),
			tea.WithWindowSize(80, 24), tea.WithColorProfile(colorprofile.ANSI256), tea.WithoutSignalHandler(),
			tea.WithEnvironment([]string{"TERM=xterm-256color"}))
		done := make(chan struct{})
		go func() { p.Run(); close(done) }()
		states <- st
		first = len(out.waitQuiet(b))

		next := st
		next.Snapshot = st.Snapshot.Clone()
		l := next.Snapshot.Link("wwan0")
		l.Signal.RSRP = netstate.Some(-100) // four bars down to three
		states <- next
		changed := out.waitQuiet(b)
		if !strings.Contains(string(changed), "-100") {
			b.Fatalf("the change was not drawn: %q", changed)
		}
		total += len(changed)
		cancel()
		<-done
	}
	b.ReportMetric(float64(total)/float64(b.N), "bytes/change")
	b.ReportMetric(float64(first), "bytes/first-frame")
}
