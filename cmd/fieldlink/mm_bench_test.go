package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/testbed/atmodem"
	"github.com/fieldlink/fieldlink/backend/testbed/realmm"
)

// monitorState is `mmcli -m any --monitor-state`: the yardstick, the real
// daemon's own client told of the same change.
type monitorState struct {
	mu    sync.Mutex
	lines []stamped
}

type stamped struct {
	at   time.Time
	text string
}

func startMonitorState(tb testing.TB, h *realmm.Harness) *monitorState {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// Line-buffered: mmcli's stdio would hold the lines back in a pipe.
	cmd := exec.CommandContext(ctx, "stdbuf", "-oL", "mmcli", "-m", "any", "--monitor-state")
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+h.BusAddress)
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cancel(); cmd.Wait() })
	m := &monitorState{}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m.mu.Lock()
			m.lines = append(m.lines, stamped{time.Now(), sc.Text()})
			m.mu.Unlock()
		}
	}()
	return m
}

// saw is when a line holding s arrived after t (zero: not yet).
func (m *monitorState) saw(s string, after time.Time) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.lines {
		if l.at.After(after) && strings.Contains(l.text, s) {
			return l.at
		}
	}
	return time.Time{}
}

// BenchmarkRealModemManagerChangeToScreen: the simulated modem loses its
// registration and gets it back, FIELDLINK_MM_CHANGES times (default 10)
// each way, on the real ModemManager: how soon `mmcli --monitor-state`
// prints the modem's new state, how soon `fieldlink status --watch --json`
// has it, and how soon the TUI on a terminal says "no network". Reported
// as p50/p95 of each and fieldlink's p50 over mmcli's.
func BenchmarkRealModemManagerChangeToScreen(b *testing.B) {
	changes := 10
	if v, err := strconv.Atoi(os.Getenv("FIELDLINK_MM_CHANGES")); err == nil && v > 0 {
		changes = v
	}
	h := enabledModem(b, realmm.Options{})
	mon := startMonitorState(b, h)
	w := watchStatus(b, h.BusAddress)
	dir := b.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, nil, 0o600)
	env := []string{"DBUS_SYSTEM_BUS_ADDRESS=" + h.BusAddress, "TERM=xterm-256color", "LANG=C.UTF-8", "FIELDLINK_RUNTIME_DIR=" + dir}
	tui := startOnPTYWith(b, ptyOptions{state: filepath.Join(dir, "state"), want: "fieldlink", env: env}, "--config", cfg)
	b.Cleanup(tui.stop)
	w.until(b, "the modem registered", time.Time{}, 15*time.Second, func(l map[string]any) bool {
		return field(l, "cellular.registration") == "home"
	})
	waitUntil(b, "the modem on the TUI", 15*time.Second, func() bool { return strings.Contains(tui.screen(), "FieldLink Net") })
	var mmcli, status, screen []time.Duration
	b.ResetTimer()
	for i := 0; i < changes; i++ {
		for _, c := range []struct {
			reg   atmodem.Registration
			state string // mmcli's words for the modem's new state
			json  string
		}{{atmodem.Searching, "--> 'searching'", "searching"}, {atmodem.Home, "--> 'registered'", "home"}} {
			mark := tui.mark()
			from := time.Now()
			h.Modem.Set(func(n *atmodem.Network) { n.Reg = c.reg })
			waitUntil(b, "mmcli "+c.state, 15*time.Second, func() bool { return !mon.saw(c.state, from).IsZero() })
			ours := w.until(b, "registration "+c.json, from, 15*time.Second, func(l map[string]any) bool {
				return field(l, "cellular.registration") == c.json
			})
			mmcli = append(mmcli, mon.saw(c.state, from).Sub(from))
			status = append(status, ours.Sub(from))
			if c.reg == atmodem.Searching {
				at := waitUntil(b, "no network on the TUI", 15*time.Second, func() bool { return strings.Contains(tui.since(mark), "no network") })
				screen = append(screen, at.Sub(from))
			}
			time.Sleep(1500 * time.Millisecond) // settled before the next change
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(pctDur(mmcli, 50)), "mmcli-p50-ms")
	b.ReportMetric(ms(pctDur(mmcli, 95)), "mmcli-p95-ms")
	b.ReportMetric(ms(pctDur(status, 50)), "status-p50-ms")
	b.ReportMetric(ms(pctDur(status, 95)), "status-p95-ms")
	b.ReportMetric(ms(pctDur(screen, 50)), "tui-p50-ms")
	b.ReportMetric(ms(pctDur(screen, 95)), "tui-p95-ms")
	if p := pctDur(mmcli, 50); p > 0 {
		b.ReportMetric(float64(pctDur(status, 50))/float64(p), "status/mmcli-p50")
	}
	b.ReportMetric(0, "ns/op")
}
