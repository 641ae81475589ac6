package events

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func TestNewestFirstWithTimes(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	evs := []netstate.Event{
		{Time: at, Kind: netstate.EventLevel, Level: netstate.LevelGreen, Text: "GO: Wi-Fi 72%"},
		{Time: at.Add(20 * time.Second), Kind: netstate.EventNote, Text: "Moving to the back bedroom"},
		{Time: at.Add(21 * time.Second), Kind: netstate.EventLevel, Level: netstate.LevelAmber, Text: "MARGINAL: Wi-Fi weak: 50%"},
	}
	out := ansi.Strip(View(theme.New(theme.Options{ASCII: true}), evs, time.UTC, 60, 2, false))
	want := " 09:00:21 ! MARGINAL: Wi-Fi weak: 50%\n 09:00:20 > Moving to the back bedroom"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	compact := ansi.Strip(View(theme.New(theme.Options{}), evs, time.UTC, 20, 1, true))
	if compact != " 09:00 ▲ MARGINAL: …" {
		t.Fatalf("compact %q", compact)
	}
	if !strings.Contains(View(theme.New(theme.Options{}), nil, time.UTC, 40, 3, false), "no events yet") {
		t.Fatal("empty pane should say so")
	}
}

// TestGoodNewsNeverRed: "carrier back" at a red level (internet not yet
// checked) is drawn with a neutral mark, not a red square; an event with
// no level still has a mark.
func TestGoodNewsNeverRed(t *testing.T) {
	th := theme.New(theme.Options{})
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	back := Row(th, &netstate.Event{Time: at, Kind: netstate.EventLinkUp, Level: netstate.LevelRed, Text: "Wired eth0: carrier back"}, time.UTC, 80, false)
	if strings.Contains(back, th.Fg[netstate.LevelRed].Render("■")) || !strings.Contains(ansi.Strip(back), "+ Wired eth0: carrier back") {
		t.Errorf("good news drawn %q", ansi.Strip(back))
	}
	plain := ansi.Strip(Row(th, &netstate.Event{Time: at, Kind: netstate.EventService, Text: "NetworkManager is running"}, time.UTC, 80, false))
	if !strings.Contains(plain, "09:00:00 - NetworkManager is running") {
		t.Errorf("an event with no level: %q", plain)
	}
	bad := ansi.Strip(Row(th, &netstate.Event{Time: at, Kind: netstate.EventLinkDown, Level: netstate.LevelRed, Text: "Wired eth0: carrier lost"}, time.UTC, 80, false))
	if !strings.Contains(bad, "■ Wired eth0: carrier lost") {
		t.Errorf("bad news: %q", bad)
	}
}

// TestEventsLoseFiguresBeforeWords: an event too long for its row drops
// its figures first (finding: "Switched to cellular (EE, 4G): Wi-Fi 3
// probes failed (timeout) 0.2 …" at 80x24), and a text that fits is kept
// whole.
func TestEventsLoseFiguresBeforeWords(t *testing.T) {
	long := "Switched to cellular (EE, 4G): Wi-Fi 3 probes failed (timeout) 0.2 s ago"
	if got := Shorten(long, 200); got != long {
		t.Errorf("a text that fits was changed: %q", got)
	}
	if got := Shorten(long, 50); got != "Switched to cellular: Wi-Fi 3 probes failed" {
		t.Errorf("shortened: %q", got)
	}
	if got := Shorten("Cellular EE 4G via wwan0: signal -95 dBm, probe 62 ms", 30); got != "Cellular EE 4G: signal" {
		t.Errorf("figures: %q", got)
	}
}
