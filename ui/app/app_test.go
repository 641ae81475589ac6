package app

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/sim"
	replaypkg "github.com/fieldlink/fieldlink/backend/testbed/replay"
	"github.com/fieldlink/fieldlink/backend/vpn"
	"github.com/fieldlink/fieldlink/ui/theme"
)

var base = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// moment is the engine state right after a scenario's changes at At.
type moment struct {
	At    time.Duration
	Note  string
	State engine.State
}

// replay plays a scenario through the engine and failover (deterministic,
// no clock) and returns the state at each key moment: the start, and every
// narrated step.
func replay(t testing.TB, name string, until time.Duration) []moment {
	t.Helper()
	sc, err := sim.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	p := failover.DefaultPolicy()
	opt := replaypkg.Options{Thresholds: netstate.DefaultThresholds(), Policy: &p}
	if name := sc.VPNProfile(); name != "" {
		opt.VPN = &vpn.Policy{Profile: name, Auto: true}
	}
	var out []moment
	for i, m := range replaypkg.Run(sc, base, until, opt) {
		if i == 0 || len(m.Notes) > 0 {
			note := ""
			if len(m.Notes) > 0 {
				note = m.Notes[len(m.Notes)-1]
			}
			out = append(out, moment{At: m.At, Note: note, State: m.State})
		}
	}
	return out
}

type mode struct {
	name    string
	opts    theme.Options
	profile colorprofile.Profile
}

var modes = []mode{
	{"color", theme.Options{}, colorprofile.ANSI256},
	{"ascii", theme.Options{ASCII: true}, colorprofile.ANSI256},
	{"nocolor", theme.Options{NoColor: true}, colorprofile.ASCII},
}

// render draws a state at a size through a pinned color profile, as the
// terminal would receive it.
func render(t testing.TB, st engine.State, md mode, w, h int) string {
	m := New(Options{Theme: theme.New(md.opts), Thresholds: netstate.DefaultThresholds(), Location: time.UTC,
		Now: func() time.Time { return st.Snapshot.Time }})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(StateMsg(st))
	var buf bytes.Buffer
	cw := &colorprofile.Writer{Forward: &buf, Profile: md.profile}
	if _, err := cw.WriteString(m.Render()); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var scenarios = []struct {
	name  string
	until time.Duration
}{
	{"home-visit", 2*time.Minute + 30*time.Second},
	{"captive-portal", 100 * time.Second},
	{"cable-pulled", 80 * time.Second},
	{"rural-cellular", 110 * time.Second},
	{"nm-restart", 50 * time.Second},
	{"steady", time.Minute},
}

func TestGoldenScreens(t *testing.T) {
	for _, sc := range scenarios {
		moments := replay(t, sc.name, sc.until)
		for _, size := range [][2]int{{80, 24}, {40, 12}, {30, 8}, {120, 40}, {200, 60}} {
			for _, md := range modes {
				t.Run(fmt.Sprintf("%s/%dx%d/%s", sc.name, size[0], size[1], md.name), func(t *testing.T) {
					var b strings.Builder
					for _, mo := range moments {
						fmt.Fprintf(&b, "=== at %s: %s\n", fmtDur(mo.At), mo.Note)
						b.WriteString(render(t, mo.State, md, size[0], size[1]))
						b.WriteString("\n")
					}
					golden.RequireEqual(t, b.String())
				})
			}
		}
	}
}

func fmtDur(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

var sgrColor = regexp.MustCompile(`\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7]|10[0-7])[0-9;]*m`)

// TestInvariants checks, for every moment of every scenario at many sizes
// and in every mode, what must always hold.
func TestInvariants(t *testing.T) {
	sizes := [][2]int{{0, 0}, {1, 1}, {10, 3}, {39, 12}, {40, 11}, {40, 12}, {52, 17}, {79, 23}, {80, 24}, {100, 30}, {120, 30}, {200, 60}, {250, 80}}
	for _, sc := range scenarios {
		for _, mo := range replay(t, sc.name, sc.until) {
			for _, md := range modes {
				for _, sz := range sizes {
					w, h := sz[0], sz[1]
					out := render(t, mo.State, md, w, h)
					lines := strings.Split(out, "\n")
					where := fmt.Sprintf("%s at %s, %dx%d %s", sc.name, fmtDur(mo.At), w, h, md.name)
					if w > 0 && len(lines) > h {
						t.Fatalf("%s: %d lines", where, len(lines))
					}
					for _, l := range lines {
						if ansi.StringWidth(l) > w {
							t.Fatalf("%s: line wider than the terminal: %q", where, ansi.Strip(l))
						}
					}
					plain := ansi.Strip(out)
					if w >= MinWidth && h >= MinHeight {
						if !strings.Contains(plain, "DEMO") {
							t.Fatalf("%s: simulated data without the DEMO banner", where)
						}
						word := mo.State.Snapshot.Level.Word()
						if !strings.Contains(plain, word) {
							t.Fatalf("%s: light word %q missing", where, word)
						}
					} else if w >= 30 && h >= 2 && !strings.Contains(plain, "too small") {
						t.Fatalf("%s: should say the terminal is too small:\n%s", where, plain)
					}
					// Simulated data is marked at every size that has room
					// for the word (finding: a bare "● GO" at 30x8).
					if w >= 4 && h >= 1 && !strings.Contains(plain, "DEMO") {
						t.Fatalf("%s: simulated data without DEMO:\n%s", where, plain)
					}
					if md.opts.ASCII {
						for _, r := range plain {
							if r > 127 {
								t.Fatalf("%s: non-ASCII %q in ASCII mode", where, r)
							}
						}
					}
					if md.opts.NoColor && sgrColor.MatchString(out) {
						t.Fatalf("%s: color escape under NO_COLOR", where)
					}
				}
			}
		}
	}
}

func TestKeys(t *testing.T) {
	st := replay(t, "home-visit", time.Minute)[0].State
	m := New(Options{Theme: theme.New(theme.Options{}), Thresholds: netstate.DefaultThresholds(), Location: time.UTC})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(StateMsg(st))
	press := func(s string) tea.Cmd {
		k := tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
		switch s {
		case "down":
			k = tea.KeyPressMsg{Code: tea.KeyDown}
		case "enter":
			k = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			k = tea.KeyPressMsg{Code: tea.KeyEscape}
		}
		_, cmd := m.Update(k)
		return cmd
	}
	// The selection starts on the link carrying the work, not on row 1
	// (a dead dock).
	if l := m.links.Selected(&m.state.Snapshot); l.ID != "wlan0" {
		t.Fatalf("first selection %s", l.ID)
	}
	press("down")
	press("down")
	press("down")
	press("down") // past the end stays on the last
	if l := m.links.Selected(&m.state.Snapshot); l.ID != "tun0" {
		t.Fatalf("selection after moving down %s", l.ID)
	}
	press("k")
	press("enter")
	plain := ansi.Strip(m.Render())
	for _, want := range []string{"Cellular wwan0", "Operator      EE", "MCC-MNC       234-30", "RSRP          -95 dBm", "SINR          14 dB", "TAC           1A2B", "esc back"} {
		if !strings.Contains(plain, want) {
			t.Fatalf("detail view lacks %q:\n%s", want, plain)
		}
	}
	press("esc")
	press("?")
	if plain := ansi.Strip(m.Render()); !strings.Contains(plain, "WHAT THE LIGHT MEANS") {
		t.Fatalf("help view:\n%s", plain)
	}
	press("?")
	if cmd := press("q"); cmd == nil {
		t.Fatal("q should quit")
	} else if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("q should return tea.Quit")
	}
}

// The selection follows the link, not the row, when links come and go.
func TestSelectionFollowsLink(t *testing.T) {
	moments := replay(t, "home-visit", time.Minute)
	m := New(Options{Theme: theme.New(theme.Options{}), Location: time.UTC})
	m.Update(StateMsg(moments[0].State))
	m.links.Move(&m.state.Snapshot, 1) // from wlan0, carrying the work, to wwan0
	st := moments[0].State
	st.Snapshot.Links = st.Snapshot.Links[1:] // eth0 goes away
	m.Update(StateMsg(st))
	if l := m.links.Selected(&m.state.Snapshot); l.ID != "wwan0" {
		t.Fatalf("selection jumped to %s", l.ID)
	}
}

func TestFatalMsgQuitsWithError(t *testing.T) {
	m := New(Options{})
	_, cmd := m.Update(FatalMsg{Err: fmt.Errorf("NetworkManager vanished")})
	if cmd == nil || m.Err() == nil {
		t.Fatal("FatalMsg should quit with the error")
	}
}

func TestObserverBanner(t *testing.T) {
	st := replay(t, "steady", time.Minute)[0].State
	st.Role, st.Holder = engine.Observer, "fieldlink pid 4242 (kiosk) since 08:00"
	out := ansi.Strip(render(t, st, modes[0], 80, 24))
	if !strings.Contains(out, "OBSERVER") || !strings.Contains(out, "in charge: fieldlink pid 4242 (kiosk) since 08:00") {
		t.Fatalf("observer banner missing:\n%s", out)
	}
}

// TestHelpScrollsWhenCut: at 40x12 the help does not fit; it says there
// is more and scrolls to its last line (finding: cut after "r reports").
func TestHelpScrollsWhenCut(t *testing.T) {
	st := replay(t, "home-visit", time.Minute)[0].State
	m := New(Options{Theme: theme.New(theme.Options{}), Thresholds: netstate.DefaultThresholds(), Location: time.UTC})
	m.Update(tea.WindowSizeMsg{Width: 40, Height: 12})
	m.Update(StateMsg(st))
	m.Update(tea.KeyPressMsg{Code: '?', Text: "?"})
	first := ansi.Strip(m.Render())
	if !strings.Contains(first, "more below") {
		t.Fatalf("the cut help does not say there is more:\n%s", first)
	}
	for i := 0; i < 30; i++ {
		m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	}
	last := ansi.Strip(m.Render())
	if !strings.Contains(last, "work will not get through") || !strings.Contains(last, "top: up or k") {
		t.Fatalf("the help's end is out of reach:\n%s", last)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyUp})
	if back := ansi.Strip(m.Render()); back == last {
		t.Fatal("one key up after the end does not scroll back at once")
	}
}

// TestFleetHereLine: what the fleet found in the area the device is in
// is shown under the work, whole where it fits and shortened with its
// figures last where it does not, and left out on a compact screen.
func TestFleetHereLine(t *testing.T) {
	st := replay(t, "home-visit", time.Minute)[0].State
	st.Work.Ahead = "Kings Heath: Vodafone workable in 91% of 212 visits, EE 47% of 190, O2 40% of 150"
	for _, size := range [][2]int{{120, 40}, {80, 24}, {40, 12}} {
		m := New(Options{Theme: theme.New(theme.Options{}), Thresholds: netstate.DefaultThresholds(), Location: time.UTC,
			Now: func() time.Time { return st.Snapshot.Time }})
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		m.Update(StateMsg(st))
		plain := ansi.Strip(m.Render())
		switch {
		case size[0] >= 120 && !strings.Contains(plain, "Fleet here: "+st.Work.Ahead):
			t.Errorf("%dx%d: the whole line is missing:\n%s", size[0], size[1], plain)
		case size[0] == 80 && (!strings.Contains(plain, "Fleet here: Kings Heath: Vodafone workable in 91% of 212 visits, EE 47% of 190\n") ||
			strings.Contains(plain, "O2")):
			t.Errorf("%dx%d: the line lost its words:\n%s", size[0], size[1], plain)
		case size[0] == 40 && strings.Contains(plain, "Fleet here"):
			t.Errorf("%dx%d: a compact screen shows it:\n%s", size[0], size[1], plain)
		}
	}
}
