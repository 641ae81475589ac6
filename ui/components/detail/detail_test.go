package detail

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func TestEveryRawFigureIsShown(t *testing.T) {
	l := netstate.Link{ID: "wwan0", Kind: netstate.KindCellular, Interface: "wwan0", State: netstate.StateConnected,
		Cell: netstate.Cell{Operator: "EE", MCC: "234", MNC: "30", Tech: netstate.TechLTE, Registration: netstate.RegHome,
			TAC: "1A2B", CellID: "01A4F3C"},
		Signal: netstate.Signal{RSSI: netstate.Some(-67), RSRP: netstate.Some(-95), RSRQ: netstate.Some(-9), SINR: netstate.Some(14)},
		Probe: netstate.Probe{OK: netstate.Yes, RTT: netstate.Some(62), Target: "https://clinical.example/health", Bound: true,
			Checked: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), BytesToday: 3 << 20}}
	now := time.Date(2026, 11, 23, 9, 0, 12, 0, time.UTC)
	netstate.Apply(&netstate.Snapshot{Links: []netstate.Link{l}}, netstate.DefaultThresholds())
	for _, width := range []int{60, 100} {
		out := ansi.Strip(strings.Join(Lines(theme.New(theme.Options{}), netstate.DefaultThresholds(), &l, true, time.UTC, now, width), "\n"))
		for _, want := range []string{"RSSI          -67 dBm", "RSRP          -95 dBm", "RSRQ          -9 dB", "SINR          14 dB",
			"RSCP          —", "MCC-MNC       234-30", "TAC           1A2B", "Cell ID       01A4F3C", "Round trip    62 ms",
			"Bound         yes, to wwan0", "In use        yes (default route)", "Technology    LTE (4G)",
			"Checked       09:00:00 (12 s ago)", "Target        https://clinical.example/health",
			"Traffic today 3.0 MB (probes, both ways)"} {
			if !strings.Contains(out, want) {
				t.Errorf("width %d: lacks %q:\n%s", width, want, out)
			}
		}
	}
}

func TestAccessPointsListed(t *testing.T) {
	l := netstate.Link{ID: "wlan0", Kind: netstate.KindWiFi, WiFi: netstate.WiFi{SSID: "A", FrequencyMHz: 5180,
		AccessPoints: []netstate.AccessPoint{{SSID: "A", Strength: 72, FrequencyMHz: 5180, Security: "wpa2-psk"}, {SSID: "B", Strength: 20}}}}
	out := ansi.Strip(strings.Join(Lines(theme.New(theme.Options{ASCII: true}), netstate.DefaultThresholds(), &l, false, time.UTC, time.Time{}, 100), "\n"))
	for _, want := range []string{"Visible networks (2)", "###.  72% A wpa2-psk 5 GHz", "#...  20% B open", "5180 MHz (5 GHz)"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
}

func TestViewScrollsWithinBounds(t *testing.T) {
	lines := []string{"a", "b", "c", "d"}
	if got := View(lines, 10, 2); got != "c\nd" {
		t.Fatalf("offset past the end: %q", got)
	}
	if got := View(lines, -3, 2); got != "a\nb" {
		t.Fatalf("negative offset: %q", got)
	}
	if got := View(lines, 0, 10); got != "a\nb\nc\nd" {
		t.Fatalf("taller than content: %q", got)
	}
}

// TestLongValuesWrapNotCut is finding 3 of "The screens, tried by a tired
// nurse": at 80x24 the details cut "connected, since 09:00…" and the
// verdict's reason. A value too long for its column wraps under itself.
func TestLongValuesWrapNotCut(t *testing.T) {
	l := netstate.Link{ID: "wwan0", Kind: netstate.KindCellular, Interface: "wwan0", State: netstate.StateConnected,
		Since: time.Date(2026, 11, 23, 9, 0, 44, 0, time.UTC), Profile: "EE Internet",
		Routes: []netstate.Route{{Dest: "0.0.0.0/0", NextHop: "10.64.3.1", Metric: 700}},
		Cell:   netstate.Cell{Operator: "EE", MCC: "234", MNC: "30", Tech: netstate.TechLTE, Registration: netstate.RegHome}}
	s := netstate.Snapshot{Links: []netstate.Link{l}}
	netstate.Apply(&s, netstate.DefaultThresholds())
	l = s.Links[0]
	l.Reason = "4G RSRP -99 dBm, probe 70 ms, and a long explanation a technician must read whole"
	for _, width := range []int{80, 60} {
		lines := Lines(theme.New(theme.Options{}), netstate.DefaultThresholds(), &l, true, time.UTC, time.Time{}, width)
		joined := strings.Join(strings.Fields(ansi.Strip(strings.Join(lines, " "))), " ")
		for _, want := range []string{"connected, since 09:00:44", "a long explanation a technician must read whole"} {
			// (Two columns interleave their wrapped lines: read the one.)
			if width < 76 && !strings.Contains(joined, want) {
				t.Errorf("width %d: %q is cut:\n%s", width, want, ansi.Strip(strings.Join(lines, "\n")))
			}
		}
		for i, ln := range lines {
			if ansi.StringWidth(ln) > width || strings.Contains(ansi.Strip(ln), "…") {
				t.Errorf("width %d line %d cut or too wide: %q", width, i, ansi.Strip(ln))
			}
		}
	}
}

// TestVisibleNetworksDropTheBandBeforeCutting: in the 80-column detail's
// left column, "NHS-Community wpa2-psk 5 G…" lost the band mid-word; the
// band goes first, then the security, and the name is cut last.
func TestVisibleNetworksDropTheBandBeforeCutting(t *testing.T) {
	l := netstate.Link{ID: "wlan0", Kind: netstate.KindWiFi, WiFi: netstate.WiFi{SSID: "NHS-Community",
		AccessPoints: []netstate.AccessPoint{{SSID: "NHS-Community", Strength: 50, FrequencyMHz: 5180, Security: "wpa2-psk"}}}}
	for width, want := range map[int]string{39: "NHS-Community wpa2-psk", 60: "NHS-Community wpa2-psk 5 GHz", 28: "NHS-Community"} {
		out := ansi.Strip(strings.Join(Lines(theme.New(theme.Options{}), netstate.DefaultThresholds(), &l, false, time.UTC, time.Time{}, width), "\n"))
		var row string
		for _, ln := range strings.Split(out, "\n") {
			if strings.Contains(ln, " 50% ") {
				row = ln
			}
		}
		if !strings.HasSuffix(strings.TrimRight(row, " "), want) {
			t.Errorf("width %d: row %q, want it to end %q", width, row, want)
		}
	}
}
