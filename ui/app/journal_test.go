package app

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// press sends a key and runs the command it returns (once), as the
// program would.
func press(m *Model, k rune) {
	_, cmd := m.Update(tea.KeyPressMsg{Code: k, Text: string(k)})
	if cmd != nil {
		if msg := cmd(); msg != nil {
			m.Update(msg)
		}
	}
}

func screenText(m *Model) string { return ansi.Strip(m.Render()) }

func TestVisitKey(t *testing.T) {
	moments := replay(t, "home-visit", 0)
	calls := 0
	m := New(Options{Theme: theme.New(theme.Options{NoColor: true}), MarkVisit: func() (string, error) {
		calls++
		if calls == 1 {
			return "Visit started", nil
		}
		return "", errors.New("the journal is on a read-only file system")
	}})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(StateMsg(moments[0].State))
	press(m, 'v')
	if calls != 1 || !strings.Contains(screenText(m), "Visit started") {
		t.Fatalf("after v (%d calls):\n%s", calls, screenText(m))
	}
	press(m, 'v')
	if !strings.Contains(screenText(m), "Visit not recorded: the journal is on a read-only file system") {
		t.Fatalf("a failed mark must say so:\n%s", screenText(m))
	}
	press(m, 'j')
	if strings.Contains(screenText(m), "Visit not recorded") {
		t.Fatal("the answer should clear on the next key")
	}

	obs := New(Options{Theme: theme.New(theme.Options{NoColor: true})})
	obs.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	obs.Update(StateMsg(moments[0].State))
	press(obs, 'v')
	if !strings.Contains(screenText(obs), "Visits cannot be marked here") {
		t.Fatalf("a screen without a way to mark visits must say so:\n%s", screenText(obs))
	}
}

// TestOpenVisitStaysOnScreen: while a visit is open the banner says so,
// with its elapsed time, whatever scrolls through the events (finding:
// "Visit started" scrolled away and nothing showed the visit was open).
func TestOpenVisitStaysOnScreen(t *testing.T) {
	moments := replay(t, "home-visit", 0)
	now := moments[0].State.Snapshot.Time
	for _, size := range [][2]int{{80, 24}, {40, 12}, {120, 30}} {
		clock := now.Add(12*time.Minute + 30*time.Second)
		m := New(Options{Theme: theme.New(theme.Options{NoColor: true, ASCII: true}), Now: func() time.Time { return clock }})
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		st := moments[0].State
		st.Work.Visit = netstate.VisitStatus{Open: true, Since: now}
		for i := 0; i < 50; i++ {
			st.Events = append(st.Events, netstate.Event{Time: now, Kind: netstate.EventNote, Text: "something else happened"})
		}
		m.Update(StateMsg(st))
		if s := screenText(m); !strings.Contains(s, "VISIT 12m") {
			t.Fatalf("%dx%d: no open visit on screen:\n%s", size[0], size[1], s)
		}
		st.Work.Visit = netstate.VisitStatus{}
		m.Update(StateMsg(st))
		if s := screenText(m); strings.Contains(s, "VISIT") {
			t.Fatalf("%dx%d: a closed visit still shown:\n%s", size[0], size[1], s)
		}
	}
}

func TestReportsKey(t *testing.T) {
	moments := replay(t, "home-visit", 0)
	built := 0
	m := New(Options{Theme: theme.New(theme.Options{NoColor: true}), Report: func() (*report.Report, error) {
		built++
		return &report.Report{Headline: report.Headline{Visits: 4, Workable: 3},
			Networks: []report.Row{{Key: "EE (234-30)", Kind: "cellular", GreenPct: 50, AmberPct: 30, RedPct: 20, ConnectedHours: 2}}}, nil
	}})
	for _, size := range [][2]int{{80, 24}, {40, 12}, {160, 50}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		m.Update(StateMsg(moments[0].State))
		press(m, 'r')
		out := screenText(m)
		if !strings.Contains(out, "3 of 4") || !strings.Contains(out, "EE (234-30)") {
			t.Fatalf("%dx%d reports view:\n%s", size[0], size[1], out)
		}
		if lines := strings.Split(out, "\n"); len(lines) > size[1] {
			t.Fatalf("%dx%d: %d lines", size[0], size[1], len(lines))
		}
		press(m, 'r')
		if strings.Contains(screenText(m), "3 of 4") {
			t.Fatal("r again should go back")
		}
	}
	if built != 3 {
		t.Fatalf("report built %d times, want each time the view opens", built)
	}
}
