package app

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// run presses keys and carries out the commands they return, as Bubble
// Tea would.
func run(m *Model, keys ...string) {
	for _, k := range keys {
		_, cmd := m.Update(keyMsg(k))
		if cmd != nil {
			if msg := cmd(); msg != nil {
				m.Update(msg)
			}
		}
	}
}

func TestWOpensTheNetworksAndEnterAsksToJoin(t *testing.T) {
	st := replay(t, "home-visit", time.Minute)[0].State
	var asked []join.Request
	scans := 0
	m := New(Options{Theme: theme.New(theme.Options{}), Thresholds: netstate.DefaultThresholds(), Location: time.UTC,
		Scan: func() string { scans++; return "Looking for networks" },
		Join: func(r join.Request) string {
			asked = append(asked, r)
			return "Joining " + r.SSID + ": a key, if needed, is asked here."
		},
		JoinPolicy: join.Policy{SSIDs: []string{"NHS-*", "BT-*"}}})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(StateMsg(st))
	run(m, "w")
	out := ansi.Strip(m.Render())
	if !strings.Contains(out, "NETWORKS IN RANGE (3)") || !strings.Contains(out, "NHS-Community") || scans != 1 {
		t.Fatalf("w: scans %d\n%s", scans, out)
	}
	// The list has the keys: j moves it, not the links behind it.
	run(m, "j", "enter")
	if len(asked) != 1 || asked[0].SSID != "BT-Hub-7A2F" || asked[0].Interface != "wlan0" {
		t.Fatalf("asked %+v", asked)
	}
	if out := ansi.Strip(m.Render()); !strings.Contains(out, "Joining BT-Hub-7A2F") {
		t.Fatalf("the answer is not shown:\n%s", out)
	}
	// Off IT's list: refused on the screen, never asked.
	run(m, "j", "enter")
	if len(asked) != 1 || !strings.Contains(m.flash, "not on IT's list") {
		t.Fatalf("an off-list network was asked for: %+v, flash %q", asked, m.flash)
	}
	// News of the join shows on the list.
	st.Events = append(st.Events, netstate.Event{Kind: netstate.EventJoin, Level: netstate.LevelGreen, Text: "Joined BT-Hub-7A2F."})
	m.Update(StateMsg(st))
	if out := ansi.Strip(m.Render()); !strings.Contains(out, "● Joined BT-Hub-7A2F.") {
		t.Fatalf("join news missing:\n%s", out)
	}
	run(m, "esc")
	if m.screen != screenMain {
		t.Fatal("esc did not close the list")
	}
}

func TestJoinRefusedByPolicyAsksNothing(t *testing.T) {
	st := replay(t, "home-visit", time.Minute)[0].State
	asked := 0
	m := New(Options{Theme: theme.New(theme.Options{}), Thresholds: netstate.DefaultThresholds(), Location: time.UTC,
		Join:        func(join.Request) string { asked++; return "" },
		JoinRefusal: "IT set up this device's networks: joining another is turned off"})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(StateMsg(st))
	run(m, "w", "enter")
	out := ansi.Strip(m.Render())
	if asked != 0 || !strings.Contains(out, "joining another is turned off") {
		t.Fatalf("asked %d:\n%s", asked, out)
	}
}

func TestKioskAdminKeysWorkOnTheNetworksList(t *testing.T) {
	st := replay(t, "home-visit", time.Minute)[0].State
	m := New(Options{Theme: theme.New(theme.Options{}), Location: time.UTC, Kiosk: true, AdminKeys: []string{"x", "y"}})
	m.Update(StateMsg(st))
	run(m, "w", "q")
	if m.screen != screenMain || m.adminExit {
		t.Fatal("q on the kiosk's list should only close it")
	}
	run(m, "w", "x")
	_, cmd := m.Update(keyMsg("y"))
	if !m.adminExit || cmd == nil {
		t.Fatal("the admin sequence did not end the kiosk from the networks list")
	}
}
