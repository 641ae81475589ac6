package reports

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func sample() *report.Report {
	return &report.Report{Period: report.Period{From: "2026-10-25", To: "2026-11-23", Text: "25 Oct – 23 Nov 2026"},
		Headline:  report.Headline{Visits: 10, Workable: 8},
		Operators: []report.Operator{{Network: "EE (234-30)", Text: "EE (234-30): workable in 70% of 10 visits, 2 areas"}},
		DeadZones: []string{"Longbridge"},
		Networks: []report.Row{
			{Key: "Wi-Fi NHS-Community", Kind: "wifi", GreenPct: 80, AmberPct: 15, RedPct: 5, ConnectedHours: 30.5},
			{Key: "EE (234-30)", Kind: "cellular", GreenPct: 40, AmberPct: 40, RedPct: 20, ConnectedHours: 12},
		}}
}

func TestViewShowsHeadlineAndBars(t *testing.T) {
	for _, ascii := range []bool{false, true} {
		th := theme.New(theme.Options{ASCII: ascii, NoColor: true})
		out := ansi.Strip(View(th, sample(), nil, netstate.SyncStatus{}, netstate.VisitStatus{}, time.UTC, 80, 12))
		for _, want := range []string{"25 Oct – 23 Nov 2026", "8 of 10 (80%)", "70% of 10 visits", "Dead zones: Longbridge", "Wi-Fi NHS-Community", "EE (234-30)", th.Symbol(netstate.LevelGreen) + " 80%", th.Symbol(netstate.LevelRed) + " 20%", "30.5h", netstate.WordDoNotProceed} {
			if !strings.Contains(out, want) {
				t.Errorf("ascii=%v: %q missing from\n%s", ascii, want, out)
			}
		}
		for i, l := range strings.Split(out, "\n") {
			if w := ansi.StringWidth(l); w > 80 {
				t.Errorf("line %d is %d cells wide", i, w)
			}
		}
		green, amber := "█", "▒"
		if ascii {
			green, amber = "#", "="
		}
		wifi := strings.Split(out, "\n")[5]
		if g, a := strings.Count(wifi, green), strings.Count(wifi, amber); g <= 3*a || a == 0 {
			t.Errorf("ascii=%v: Wi-Fi bar has %d green and %d amber cells for 80%%/15%%: %q", ascii, g, a, wifi)
		}
	}
}

func TestViewEmptyAndError(t *testing.T) {
	th := theme.New(theme.Options{NoColor: true})
	if out := ansi.Strip(View(th, &report.Report{}, nil, netstate.SyncStatus{}, netstate.VisitStatus{}, time.UTC, 40, 12)); !strings.Contains(out, "press v") || !strings.Contains(out, "No connection sessions") {
		t.Fatalf("empty report:\n%s", out)
	}
	// A visit open on the screen (VISIT 0m) is not "no visits".
	open := netstate.VisitStatus{Open: true, Since: time.Date(2026, 11, 23, 14, 2, 0, 0, time.UTC)}
	if out := ansi.Strip(View(th, &report.Report{}, nil, netstate.SyncStatus{}, open, time.UTC, 80, 12)); strings.Contains(out, "No visits marked yet") ||
		!strings.Contains(out, "Visit in progress since 14:02: it counts once you press v to leave.") {
		t.Errorf("an open visit in the report:\n%s", out)
	}
	if out := ansi.Strip(View(th, nil, errors.New("no journal yet"), netstate.SyncStatus{}, netstate.VisitStatus{}, time.UTC, 40, 12)); !strings.Contains(out, "no journal yet") {
		t.Fatalf("error:\n%s", out)
	}
	for w := 0; w < 50; w += 7 {
		for h := 0; h < 8; h++ {
			View(th, sample(), nil, netstate.SyncStatus{}, netstate.VisitStatus{}, time.UTC, w, h) // must not panic
		}
	}
}

func TestRecentSessionsListed(t *testing.T) {
	th := theme.New(theme.Options{})
	start := time.Date(2026, 11, 23, 9, 5, 0, 0, time.UTC)
	r := &report.Report{Recent: []report.Session{
		{Kind: "wifi", Network: "NHS-Community", Start: start, End: start.Add(40 * time.Minute), EndReason: "carrier lost",
			Green: 30 * time.Minute, Amber: 6 * time.Minute, Red: 4 * time.Minute, MedRTT: 41},
		{Kind: "cellular", Network: "EE", Start: start.Add(-time.Hour), End: start.Add(-30 * time.Minute), EndReason: "deactivated",
			Green: 30 * time.Minute},
		{Kind: "wifi", Network: "Cafe", Start: time.Now().Add(-5 * time.Minute)},
	}}
	out := ansi.Strip(View(th, r, nil, netstate.SyncStatus{}, netstate.VisitStatus{}, time.UTC, 100, 20))
	for _, want := range []string{"RECENT SESSIONS", "11-23 09:05 Wi-Fi    NHS-Community        40m ● 75% ▲ 15% ■ 10%   41ms  carrier lost",
		"11-23 08:05 Cellular EE                   30m ●100% ▲  0% ■  0%  deactivated", "Cafe                  5m in progress"} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q:\n%s", want, out)
		}
	}
}

// TestViewSaysWhenTheJournalLastReachedTheServer: the fleet issue's
// "the TUI's reports view shows when the journal last reached the server".
func TestViewSaysWhenTheJournalLastReachedTheServer(t *testing.T) {
	th := theme.New(theme.Options{NoColor: true})
	at := time.Date(2026, 11, 30, 12, 40, 0, 0, time.UTC)
	for _, c := range []struct {
		st   netstate.SyncStatus
		want string
	}{
		{netstate.SyncStatus{Server: "https://fleet", LastOK: at}, "Journal last reached the fleet server at Mon 12:40"},
		{netstate.SyncStatus{Server: "https://fleet"}, "Journal not yet sent to the fleet server"},
		{netstate.SyncStatus{Server: "https://fleet", LastOK: at, Error: "connection refused"}, "last try failed: connection refused"},
	} {
		if out := ansi.Strip(View(th, sample(), nil, c.st, netstate.VisitStatus{}, time.UTC, 100, 14)); !strings.Contains(out, c.want) {
			t.Errorf("want %q in\n%s", c.want, out)
		}
	}
	if out := ansi.Strip(View(th, sample(), nil, netstate.SyncStatus{}, netstate.VisitStatus{}, time.UTC, 100, 14)); strings.Contains(out, "fleet server") {
		t.Errorf("no fleet server configured, yet:\n%s", out)
	}
}
