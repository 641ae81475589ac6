package system

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/testbed/realnm"
)

// TestRealNetworkManager runs against a real NetworkManager managing a veth
// cable: fieldlink must see the device, its profile, carrier, address and
// state; see a cable pull as carrier loss long before NetworkManager
// changes the device state; and activate and deactivate the profile.
func TestRealNetworkManager(t *testing.T) {
	h := realnm.Start(t, realnm.Options{Cables: 1})
	if err := h.AddProfile("wired1", 0, 100); err != nil {
		t.Fatal(err)
	}
	if err := h.WaitConnected("veth0", 15*time.Second); err != nil {
		t.Fatalf("veth0 never connected: %v\n%s", err, h.Log("nm.log"))
	}

	src, err := New(Options{Address: h.BusAddress})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type stamped struct {
		at   time.Time
		snap netstate.Snapshot
	}
	updates := make(chan stamped, 1024)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(u netstate.Update) { updates <- stamped{time.Now(), u.Snapshot} }) }()
	defer func() { cancel(); <-done }()

	wait := func(what string, within time.Duration, pred func(l *netstate.Link, s *netstate.Snapshot) bool) stamped {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case u := <-updates:
				if l := u.snap.Link("veth0"); l != nil && pred(l, &u.snap) {
					return u
				}
			case <-deadline:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	u := wait("veth0 activated", 5*time.Second, func(l *netstate.Link, s *netstate.Snapshot) bool {
		return l.State == netstate.StateConnected && len(l.Addresses) > 0
	})
	l := u.snap.Link("veth0")
	if l.Kind != netstate.KindEthernet || l.Carrier != netstate.Yes || l.Profile != "wired1" ||
		!strings.HasPrefix(l.Addresses[0], "10.99.0.") || l.Gateway != "10.99.0.1" || u.snap.Primary != "veth0" {
		t.Fatalf("veth0 as fieldlink sees it: %+v (primary %q)", l, u.snap.Primary)
	}

	pulled := time.Now()
	if err := h.Pull(0); err != nil {
		t.Fatal(err)
	}
	carrier := wait("carrier lost", 3*time.Second, func(l *netstate.Link, _ *netstate.Snapshot) bool { return l.Carrier == netstate.No })
	if carrier.snap.Link("veth0").State != netstate.StateConnected {
		t.Fatalf("the state changed with the carrier; NetworkManager's grace period is what fieldlink must beat")
	}
	state := wait("NetworkManager's state change", 15*time.Second, func(l *netstate.Link, _ *netstate.Snapshot) bool {
		return l.State != netstate.StateConnected
	})
	carrierAfter, stateAfter := carrier.at.Sub(pulled), state.at.Sub(pulled)
	t.Logf("cable pull: carrier loss seen after %v, NetworkManager's device state change after %v", carrierAfter, stateAfter)
	if carrierAfter > 500*time.Millisecond {
		t.Fatalf("carrier loss took %v to show", carrierAfter)
	}
	if stateAfter < carrierAfter+2*time.Second {
		t.Fatalf("expected NetworkManager's state to lag the carrier by seconds; carrier %v, state %v", carrierAfter, stateAfter)
	}

	if err := h.Plug(0); err != nil {
		t.Fatal(err)
	}
	wait("reconnected", 20*time.Second, func(l *netstate.Link, _ *netstate.Snapshot) bool {
		return l.State == netstate.StateConnected && l.Carrier == netstate.Yes && len(l.Addresses) > 0
	})

	if err := src.Deactivate(ctx, "wired1"); err != nil {
		t.Fatal(err)
	}
	wait("deactivated through fieldlink", 10*time.Second, func(l *netstate.Link, _ *netstate.Snapshot) bool {
		return l.State == netstate.StateDisconnected && l.Profile == ""
	})
	if err := src.Activate(ctx, "wired1"); err != nil {
		t.Fatal(err)
	}
	wait("activated through fieldlink", 15*time.Second, func(l *netstate.Link, _ *netstate.Snapshot) bool {
		return l.State == netstate.StateConnected && l.Profile == "wired1"
	})
	if !strings.HasPrefix(h.DeviceState("veth0"), "100") {
		t.Fatalf("nmcli disagrees: %s", h.DeviceState("veth0"))
	}
}
