package networks

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func snap() netstate.Snapshot {
	return netstate.Snapshot{Links: []netstate.Link{
		{ID: "eth0", Kind: netstate.KindEthernet},
		{ID: "wlan0", Kind: netstate.KindWiFi, State: netstate.StateConnected, WiFi: netstate.WiFi{SSID: "NHS-Community",
			AccessPoints: []netstate.AccessPoint{
				{SSID: "BT-Hub-7A2F", Strength: 81, Security: join.WPA2},
				{SSID: "NHS-Community", Strength: 64, Security: join.WPA2, Saved: true},
				{SSID: "eduroam", Strength: 50, Security: join.Enterprise},
				{SSID: "Cafe-Free", Strength: 20, Security: join.Open},
			}}},
	}}
}

func press(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	}
	return tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
}

func typeText(m *Model, rows []Row, s string) {
	for _, r := range s {
		m.Key(press(string(r)), rows)
	}
}

func TestRowsPutTheNetworkInUseFirstAndMarkITsList(t *testing.T) {
	s := snap()
	rows := Rows(&s, join.Policy{SSIDs: []string{"NHS-*", "eduroam"}})
	var got []string
	for _, r := range rows {
		got = append(got, r.AP.SSID)
	}
	if strings.Join(got, ",") != "NHS-Community,BT-Hub-7A2F,eduroam,Cafe-Free" {
		t.Fatalf("order %v: want the one in use, then strongest first", got)
	}
	if !rows[0].AP.Active || !rows[0].Allowed || rows[1].Allowed || !rows[2].Allowed {
		t.Fatalf("rows %+v", rows)
	}
	var m Model
	out := ansi.Strip(m.View(theme.New(theme.Options{}), netstate.DefaultThresholds(), rows, "", nil, 80, 12))
	for _, want := range []string{"in use", "not on IT's list", "802.1X log-in", "WPA2", "open", "▸ ▂▄▆·  64%  NHS-Community"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q missing:\n%s", want, out)
		}
	}
}

func TestEnterJoinsAPersonalNetworkAsItIs(t *testing.T) {
	s := snap()
	rows := Rows(&s, join.Policy{})
	var m Model
	m.Key(press("down"), rows)
	act, req := m.Key(press("enter"), rows)
	if act != Join || req != (join.Request{SSID: "BT-Hub-7A2F", Interface: "wlan0"}) {
		t.Fatalf("enter on BT-Hub: %v %+v", act, req)
	}
	if act, _ := m.Key(press("s"), rows); act != Scan {
		t.Fatalf("s: %v", act)
	}
	if act, _ := m.Key(press("esc"), rows); act != Close {
		t.Fatalf("esc: %v", act)
	}
}

func TestEnterpriseNetworkAsksMethodUserAndDomainNeverThePassword(t *testing.T) {
	s := snap()
	rows := Rows(&s, join.Policy{})
	var m Model
	m.Key(press("down"), rows)
	m.Key(press("down"), rows)
	if act, _ := m.Key(press("enter"), rows); act != None {
		t.Fatalf("enter on eduroam joined at once: %v", act)
	}
	out := ansi.Strip(m.View(theme.New(theme.Options{}), netstate.DefaultThresholds(), rows, "", nil, 80, 14))
	if !strings.Contains(out, "eduroam asks for a network log-in") || !strings.Contains(out, "User name") || strings.Contains(out, "Password ") {
		t.Fatalf("802.1X form:\n%s", out)
	}
	typeText(&m, rows, "nurse@trust.nhs.uk")
	m.Key(press("tab"), rows)
	typeText(&m, rows, "radius.trust.nhs.uk")
	m.Key(press("tab"), rows) // to the method
	m.Key(press("right"), rows)
	m.Key(press("tab"), rows)
	m.Key(press("tab"), rows)
	act, req := m.Key(press("enter"), rows)
	want := join.Request{SSID: "eduroam", Interface: "wlan0", EAP: join.TTLS, Identity: "nurse@trust.nhs.uk", Domain: "radius.trust.nhs.uk"}
	if act != Join || req != want {
		t.Fatalf("form gave %v %+v, want %+v", act, req, want)
	}
}

func TestRefusalAndNewsShowAboveTheList(t *testing.T) {
	s := snap()
	rows := Rows(&s, join.Policy{})
	var m Model
	news := &netstate.Event{Kind: netstate.EventJoin, Level: netstate.LevelRed, Text: "BT-Hub-7A2F was not joined: the key or log-in was refused"}
	out := ansi.Strip(m.View(theme.New(theme.Options{}), netstate.DefaultThresholds(), rows, "only a technician may join a network", news, 80, 12))
	lines := strings.Split(out, "\n")
	if !strings.Contains(lines[1], "only a technician") || !strings.Contains(lines[2], "■ BT-Hub-7A2F was not joined") {
		t.Fatalf("refusal and news:\n%s", out)
	}
}

func TestGoldenNetworks(t *testing.T) {
	s := snap()
	rows := Rows(&s, join.Policy{SSIDs: []string{"NHS-*", "eduroam", "BT-*"}})
	var b strings.Builder
	for _, size := range [][2]int{{80, 12}, {40, 8}, {120, 10}} {
		for _, o := range []theme.Options{{NoColor: true}, {ASCII: true, NoColor: true}} {
			var m Model
			b.WriteString(m.View(theme.New(o), netstate.DefaultThresholds(), rows, "", nil, size[0], size[1]) + "\n---\n")
		}
	}
	var m Model
	m.Key(press("down"), rows)
	m.Key(press("down"), rows)
	m.Key(press("enter"), rows)
	b.WriteString(m.View(theme.New(theme.Options{NoColor: true}), netstate.DefaultThresholds(), rows, "", nil, 80, 12) + "\n")
	for i, l := range strings.Split(b.String(), "\n") {
		if ansi.StringWidth(l) > 120 {
			t.Errorf("line %d too wide: %q", i, l)
		}
	}
	golden.RequireEqual(t, b.String())
}
