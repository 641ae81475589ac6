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
	out := ansi.Strip(m.View(theme.New(theme.Options{}), &s, nil, 100, 10, false, true))
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
	out := ansi.Strip(m.View(th, &s, nil, 60, 2, true, true))
	lines := strings.Split(out, "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], ">") {
		t.Fatalf("a 2-row window should scroll to show the cursor:\n%s", out)
	}
	m.Move(&s, -10)
	if m.Selected(&s).ID != "eth0" {
		t.Fatalf("clamped to the top: %s", m.Selected(&s).ID)
	}
	for _, w := range []int{1, 10, 40, 80, 200} {
		for _, line := range strings.Split(m.View(th, &s, nil, w, 4, w < 80, true), "\n") {
			if ansi.StringWidth(line) > w {
				t.Fatalf("width %d exceeded: %q", w, ansi.Strip(line))
			}
		}
	}
	empty := netstate.Snapshot{}
	if !strings.Contains(ansi.Strip(m.View(th, &empty, nil, 40, 3, false, true)), "no network devices") {
		t.Fatal("an empty list should say so")
	}
}

// TestOneWordPerState: a connected link with no internet says the light's
// own DO NOT PROCEED whole (finding: "NO GO" beside a DO NOT PROCEED light,
// cut to 13 cells), and a VPN row says what the VPN line says.
func TestOneWordPerState(t *testing.T) {
	s := snap()
	s.Links[1].Probe = netstate.Probe{OK: netstate.No, Reason: "timeout"}
	s.Links = append(s.Links, netstate.Link{ID: "tun0", Kind: netstate.KindVPN, Profile: "NHS-VPN", State: netstate.StateConnected})
	netstate.Apply(&s, netstate.DefaultThresholds())
	if s.Links[1].Level != netstate.LevelRed {
		t.Fatalf("setup: Wi-Fi level %v", s.Links[1].Level)
	}
	th := theme.New(theme.Options{ASCII: true})
	up := &Tunnel{VPN: netstate.VPNStatus{Profile: "NHS-VPN", Phase: netstate.VPNUp}, Path: netstate.LevelRed}
	var m Model
	for _, tc := range []struct {
		width   int
		compact bool
	}{{80, false}, {40, true}, {36, true}} {
		lines := strings.Split(ansi.Strip(m.View(th, &s, up, tc.width, 10, tc.compact, true)), "\n")
		if !strings.Contains(lines[1], netstate.WordDoNotProceed) {
			t.Errorf("%d cols: the Wi-Fi row should say %q whole: %q", tc.width, netstate.WordDoNotProceed, lines[1])
		}
		if !strings.Contains(lines[4], netstate.WordDoNotProceed) {
			t.Errorf("%d cols: a VPN up over a red path should say %q: %q", tc.width, netstate.WordDoNotProceed, lines[4])
		}
		for _, l := range lines {
			if strings.Contains(l, "NO GO") || ansi.StringWidth(l) > tc.width {
				t.Errorf("%d cols: %q", tc.width, l)
			}
		}
	}
	waiting := &Tunnel{VPN: netstate.VPNStatus{Profile: "NHS-VPN", Phase: netstate.VPNWaiting}}
	s.Links[4].State, s.Links[4].Level, s.Links[4].Reason = netstate.StateDisconnected, netstate.LevelRed, "vpn down"
	row := strings.Split(ansi.Strip(m.View(th, &s, waiting, 80, 10, false, true)), "\n")[4]
	if word, _ := netstate.VPNWord(waiting.VPN, netstate.LevelUnknown); !strings.Contains(row, "o "+word) || word != netstate.WordStandby {
		t.Errorf("a waiting VPN's row should say %s as its line does: %q", word, row)
	}
	failed := &Tunnel{VPN: netstate.VPNStatus{Profile: "NHS-VPN", Phase: netstate.VPNRetrying}}
	if row := strings.Split(ansi.Strip(m.View(th, &s, failed, 80, 10, false, true)), "\n")[4]; !strings.Contains(row, "x "+netstate.WordFailed) {
		t.Errorf("a retrying VPN's row should say FAILED: %q", row)
	}
}
