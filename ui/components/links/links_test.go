package links

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func snap() netstate.Snapshot {
	s := netstate.Snapshot{Primary: "wlan0", Links: []netstate.Link{
		{ID: "eth0", Kind: netstate.KindEthernet, State: netstate.StateUnavailable, Carrier: netstate.No},
		{ID: "wlan0", Kind: netstate.KindWiFi, Interface: "wlan0", State: netstate.StateConnected,
			WiFi: netstate.WiFi{SSID: "NHS-Community"}, Signal: netstate.Signal{Strength: netstate.Some(72)},
			Probe: netstate.Probe{OK: netstate.Yes, RTT: netstate.Some(38)}},
		{ID: "wwan0", Kind: netstate.KindCellular, State: netstate.StateDisconnected,
			Cell:   netstate.Cell{Operator: "EE", Tech: netstate.TechLTE, Registration: netstate.RegRoaming},
			Signal: netstate.Signal{RSRP: netstate.Some(-95), SINR: netstate.Some(14)}},
		{ID: "wwan1", Kind: netstate.KindCellular, State: netstate.StateConnecting},
	}}
	netstate.Apply(&s, netstate.DefaultThresholds())
	return s
}

func TestRowsSayStatusInWords(t *testing.T) {
	s := snap()
	var m Model
	out := ansi.Strip(m.View(theme.New(theme.Options{}), &s, 100, 10, false, true))
	lines := strings.Split(out, "\n")
	if len(lines) != 4 {
		t.Fatalf("rows %d:\n%s", len(lines), out)
	}
	for i, want := range []string{"✕ DOWN", "● GO", "○ STANDBY", "◌ CONNECTING"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("row %d lacks %q: %q", i, want, lines[i])
		}
	}
	if !strings.Contains(lines[1], "in use") || !strings.Contains(lines[1], "NHS-Community") || !strings.Contains(lines[1], "72%") {
		t.Errorf("primary Wi-Fi row: %q", lines[1])
	}
	if !strings.Contains(lines[2], "EE 4G roaming") || !strings.Contains(lines[2], "RSRP -95 SINR 14") {
		t.Errorf("cellular row: %q", lines[2])
	}
	// The cursor starts on the link carrying the work (finding: the
	// details pane showed a dead dock at row 1).
	if !strings.HasPrefix(lines[1], "▸") || strings.HasPrefix(lines[0], "▸") {
		t.Errorf("cursor should start on the link in use: %q", out)
	}
}

func TestCursorAndScrolling(t *testing.T) {
	s := snap()
	var m Model
	th := theme.New(theme.Options{ASCII: true})
	m.Move(&s, 3)
	if m.Selected(&s).ID != "wwan1" {
		t.Fatalf("selected %s", m.Selected(&s).ID)
	}
	out := ansi.Strip(m.View(th, &s, 60, 2, true, true))
	lines := strings.Split(out, "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], ">") {
		t.Fatalf("a 2-row window should scroll to show the cursor:\n%s", out)
	}
	m.Move(&s, -10)
	if m.Selected(&s).ID != "eth0" {
		t.Fatalf("clamped to the top: %s", m.Selected(&s).ID)
	}
	for _, w := range []int{1, 10, 40, 80, 200} {
		for _, line := range strings.Split(m.View(th, &s, w, 4, w < 80, true), "\n") {
			if ansi.StringWidth(line) > w {
				t.Fatalf("width %d exceeded: %q", w, ansi.Strip(line))
			}
		}
	}
	empty := netstate.Snapshot{}
	if !strings.Contains(ansi.Strip(m.View(th, &empty, 40, 3, false, true)), "no network devices") {
		t.Fatal("an empty list should say so")
	}
}
