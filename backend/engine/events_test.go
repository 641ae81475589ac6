package engine

import (
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// TestFailureToldWithItsReason: NetworkManager's failed state and its
// reason can arrive in separate signals (a modem's "PPP failed to
// start"); the failure is told once, with the reason, and still told
// when the reason never comes.
func TestFailureToldWithItsReason(t *testing.T) {
	link := func(st netstate.State, why string) *netstate.Snapshot {
		return &netstate.Snapshot{Links: []netstate.Link{{ID: "pts/0", Interface: "pts/0", Kind: netstate.KindCellular, State: st, StateReason: why}}}
	}
	texts := func(prev, next *netstate.Snapshot) []string {
		var out []string
		for _, ev := range deriveEvents(prev, next, time.Now(), "") {
			if ev.Kind == netstate.EventLinkDown {
				out = append(out, ev.Text)
			}
		}
		return out
	}
	connecting := link(netstate.StateConnecting, "")
	bare := link(netstate.StateFailed, "")
	told := link(netstate.StateFailed, "PPP failed to start")
	after := link(netstate.StateDisconnected, "")
	for _, c := range []struct {
		name       string
		prev, next *netstate.Snapshot
		want       []string
	}{
		{"the state before its reason", connecting, bare, nil},
		{"the reason after", bare, told, []string{"Cellular pts/0: connection failed: PPP failed to start"}},
		{"both at once", connecting, told, []string{"Cellular pts/0: connection failed: PPP failed to start"}},
		{"told, then over", told, after, nil},
		{"the reason never came", bare, after, []string{"Cellular pts/0: connection failed"}},
	} {
		got := texts(c.prev, c.next)
		if len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestRegistrationEvents: a change of registration is told with the
// operator; ModemManager going silent (registration unknown, as when it
// stops) is not news about the network.
func TestRegistrationEvents(t *testing.T) {
	cell := func(r netstate.Registration, op string) *netstate.Snapshot {
		return &netstate.Snapshot{Links: []netstate.Link{{ID: "pts/0", Interface: "pts/0", Kind: netstate.KindCellular,
			State: netstate.StateDisconnected, Cell: netstate.Cell{Registration: r, Operator: op}}}}
	}
	texts := func(prev, next *netstate.Snapshot) []string {
		var out []string
		for _, ev := range deriveEvents(prev, next, time.Now(), "") {
			out = append(out, ev.Text)
		}
		return out
	}
	home, roaming, silent := cell(netstate.RegHome, "EE"), cell(netstate.RegRoaming, "vodafone IE"), cell(netstate.RegUnknown, "")
	if got := texts(home, roaming); len(got) != 1 || got[0] != "pts/0: roaming on vodafone IE" {
		t.Errorf("home → roaming: %q", got)
	}
	if got := texts(home, silent); len(got) != 0 {
		t.Errorf("ModemManager silent: %q, want nothing", got)
	}
	if got := texts(silent, home); len(got) != 1 || got[0] != "pts/0: home on EE" {
		t.Errorf("back: %q", got)
	}
}
