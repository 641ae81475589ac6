package system

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/nm"
	"github.com/fieldlink/fieldlink/backend/probe"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
)

// wiredRig is two cables on the fake NetworkManager (profiles at metrics
// 100 and 200, both up: hot standby) under the real source, engine and
// failover, probes answered by a stub.
type wiredRig struct {
	e        *env
	eng      *engine.Engine
	src      *Source
	check    *stubCheck
	dev      [2]dbus.ObjectPath
	profile  [2]dbus.ObjectPath
	states   <-chan engine.State
	last     engine.State
	cancel   context.CancelFunc
	done     chan error
	policy   failover.Policy
	profiles [2]map[string]map[string]dbus.Variant
}

func newWiredRig(t *testing.T, policy failover.Policy) *wiredRig {
	t.Helper()
	r := &wiredRig{e: newEnv(t, false), check: &stubCheck{down: map[string]bool{}}, policy: policy}
	for i, metric := range []int64{100, 200} {
		iface := []string{"eth0", "eth1"}[i]
		r.dev[i] = r.e.nm.AddDevice(fakebus.DeviceSpec{Interface: iface, Type: fakebus.DevEthernet, Carrier: true})
		p := fakebus.ProfileSettings("wired"+iface[3:], "802-3-ethernet", iface)
		p["ipv4"] = map[string]dbus.Variant{"route-metric": dbus.MakeVariant(metric)}
		r.profiles[i] = p
		r.profile[i] = r.e.nm.AddProfile(p)
		r.e.nm.Connect(r.profile[i], r.dev[i])
	}
	r.start(t)
	return r
}

func (r *wiredRig) start(t *testing.T) {
	t.Helper()
	src, err := New(Options{Address: r.e.d.Address})
	if err != nil {
		t.Fatal(err)
	}
	r.src = src
	pc := probe.Config{Targets: []probe.Target{{Kind: probe.TCP, Address: "192.0.2.1:443"}}, Active: 100 * time.Millisecond, Idle: 100 * time.Millisecond,
		Doubt: 50 * time.Millisecond, Standby: 200 * time.Millisecond, Timeout: 100 * time.Millisecond}
	r.policy.Prefer = []string{"eth0", "eth1"}
	r.policy.Standby = failover.Hot
	r.eng = engine.New(src, engine.Options{Thresholds: netstate.DefaultThresholds(), Role: engine.Holder,
		Failover: failover.New(r.policy), Actuator: src, Prober: probe.NewProber(pc, r.check, nil, true)})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.eng.Run(ctx) }()
	states, stop := r.eng.Subscribe()
	r.states = states
	t.Cleanup(func() { stop(); cancel(); <-r.done })
}

// wait waits until the engine's state satisfies pred.
func (r *wiredRig) wait(t *testing.T, what string, within time.Duration, pred func(st engine.State) bool) engine.State {
	t.Helper()
	deadline := time.After(within)
	if pred(r.last) {
		return r.last
	}
	for {
		select {
		case st := <-r.states:
			r.last = st
			if pred(st) {
				return st
			}
		case <-deadline:
			var evs []string
			for _, ev := range r.last.Events {
				evs = append(evs, string(ev.Kind)+": "+ev.Text)
			}
			t.Fatalf("%s: not within %v; primary %q, events:\n%s", what, within, r.last.Snapshot.Primary, strings.Join(evs, "\n"))
		}
	}
}

func said(st engine.State, kind netstate.EventKind, sub string) int {
	n := 0
	for _, ev := range st.Events {
		if ev.Kind == kind && strings.Contains(ev.Text, sub) {
			n++
		}
	}
	return n
}

func (r *wiredRig) pull(i int) { r.e.nm.SetCarrier(r.dev[i], false) }
func (r *wiredRig) plug(i int) { r.e.nm.SetCarrier(r.dev[i], true) }
func (r *wiredRig) metric(i int) int64 {
	a := r.e.nm.ActiveOn(r.dev[i])
	if a == "" {
		return -1
	}
	ip, _ := r.e.nm.Prop(r.dev[i], fakebus.NMDevice, "Ip4Config")
	rd, _ := r.e.nm.Prop(ip.(dbus.ObjectPath), fakebus.NMIP4, "RouteData")
	for _, route := range rd.([]map[string]dbus.Variant) {
		if route["dest"].Value() == "0.0.0.0" {
			return int64(route["metric"].Value().(uint32))
		}
	}
	return -1
}

// giveUp is NetworkManager giving up a cable without carrier (after its
// 6 s wait): the connection goes down, and the device is unavailable.
func (r *wiredRig) giveUp(i int) {
	if a := r.e.nm.ActiveOn(r.dev[i]); a != "" {
		r.e.nm.Deactivate(a)
	}
	r.e.nm.SetDeviceState(r.dev[i], 20, 40)
}

// TestDemotionIsReadFromTheRoutes is findings 1, 3 and 4 of "Failover
// that stays right all day", on the fake NetworkManager through the real
// source: after a long outage the re-plugged cable comes back at its
// profile's metric and is held (the mark of the earlier demotion does not
// linger); the fail-back is said when the route moves; the restored
// metric is the profile's own; and every later pull is failed over at
// once.
func TestDemotionIsReadFromTheRoutes(t *testing.T) {
	r := newWiredRig(t, failover.Policy{FailbackAfter: time.Second, MinDwell: 500 * time.Millisecond, FlapWindow: time.Second})
	r.wait(t, "work on eth0", 5*time.Second, func(st engine.State) bool { return st.Snapshot.Primary == "eth0" })
	for round := 1; round <= 3; round++ {
		pulled := time.Now()
		r.pull(0)
		r.wait(t, "pull: route on eth1", time.Second, func(st engine.State) bool { return st.Snapshot.Primary == "eth1" })
		if took := time.Since(pulled); took > time.Second {
			t.Fatalf("round %d: failover took %v", round, took)
		}
		if m := r.metric(0); m < 20000 {
			t.Fatalf("round %d: eth0 not demoted (metric %d)", round, m)
		}
		if round%2 == 1 {
			// A long outage: NetworkManager gives up, then the cable
			// comes back and NetworkManager activates its profile anew.
			r.giveUp(0)
			r.wait(t, "eth0 down", 2*time.Second, func(st engine.State) bool {
				l := st.Snapshot.Link("eth0")
				return l != nil && l.State != netstate.StateConnected
			})
			r.plug(0)
			r.e.nm.SetDeviceState(r.dev[0], 30, 40)
			r.e.nm.Connect(r.profile[0], r.dev[0])
			st := r.wait(t, "the returning cable held", 2*time.Second, func(st engine.State) bool {
				l := st.Snapshot.Link("eth0")
				return l != nil && l.State == netstate.StateConnected && l.Demoted && st.Snapshot.Primary == "eth1"
			})
			if said(st, netstate.EventDecision, "Keeping the work on wired eth1 until wired eth0") < round/2+1 {
				t.Fatalf("round %d: no hold said", round)
			}
		} else {
			r.plug(0)
		}
		back := r.wait(t, "fail-back", 10*time.Second, func(st engine.State) bool { return st.Snapshot.Primary == "eth0" })
		// The fail-back is said with the route's move, not 30 s later.
		if n := said(back, netstate.EventFailback, "Back on wired eth0"); n != round {
			r.wait(t, "the fail-back said", 300*time.Millisecond, func(st engine.State) bool {
				return said(st, netstate.EventFailback, "Back on wired eth0") == round
			})
		}
		if m := r.metric(0); m != 100 {
			t.Fatalf("round %d: eth0 restored to metric %d, not its profile's 100", round, m)
		}
	}
}

// TestNetworkManagerRestartIsNotAFailure is finding 2: NetworkManager
// stopping (it removes every device first, then leaves the bus) or
// crashing, and coming back in its start-up state, moves no work off a
// healthy cable, activates nothing and demotes nothing.
func TestNetworkManagerRestartIsNotAFailure(t *testing.T) {
	for _, how := range []string{"SIGTERM", "SIGKILL"} {
		t.Run(how, func(t *testing.T) {
			r := newWiredRig(t, failover.Policy{FailbackAfter: time.Second, MinDwell: 500 * time.Millisecond})
			r.wait(t, "work on eth0", 5*time.Second, func(st engine.State) bool {
				l := r.last.Snapshot.Link("eth0")
				return st.Snapshot.Primary == "eth0" && l != nil && l.Level == netstate.LevelGreen
			})
			time.Sleep(300 * time.Millisecond)
			if how == "SIGTERM" {
				r.e.nm.Quit()
			} else {
				r.e.nm.Close()
			}
			r.wait(t, "NetworkManager away", 2*time.Second, func(st engine.State) bool {
				svc := st.Snapshot.Service("NetworkManager")
				return svc != nil && !svc.Running
			})
			time.Sleep(300 * time.Millisecond)
			// Back, in its start-up state: devices first disconnected,
			// taken over a moment later, then start-up done.
			// Off the bus until Startup is set: a real NetworkManager is on
			// the bus in its start-up state from its first instant, and a
			// window with Startup false would read as a second "running"
			// (it did under -race).
			n, err := fakebus.NewNMOffBus(r.e.d.Address)
			if err != nil {
				t.Fatal(err)
			}
			r.e.nm = n
			n.Set(fakebus.NMPath, "org.freedesktop.NetworkManager", map[string]any{"Startup": true})
			if err := n.Own(); err != nil {
				t.Fatal(err)
			}
			for i, iface := range []string{"eth0", "eth1"} {
				r.dev[i] = n.AddDevice(fakebus.DeviceSpec{Interface: iface, Type: fakebus.DevEthernet, Carrier: true, State: 30})
			}
			time.Sleep(300 * time.Millisecond)
			for i := range r.dev {
				r.profile[i] = n.AddProfile(r.profiles[i])
				n.Connect(r.profile[i], r.dev[i])
			}
			time.Sleep(100 * time.Millisecond)
			n.Set(fakebus.NMPath, "org.freedesktop.NetworkManager", map[string]any{"Startup": false})
			st := r.wait(t, "NetworkManager back", 3*time.Second, func(st engine.State) bool {
				svc := st.Snapshot.Service("NetworkManager")
				return svc != nil && svc.Running && st.Snapshot.Primary == "eth0"
			})
			time.Sleep(500 * time.Millisecond)
			st = r.eng.Current()
			for _, ev := range st.Events {
				if ev.Kind == netstate.EventFailover || ev.Kind == netstate.EventDecision || ev.Kind == netstate.EventLinkGone {
					t.Errorf("a NetworkManager restart read as a failure: %s: %s", ev.Kind, ev.Text)
				}
			}
			for _, m := range []string{"org.freedesktop.NetworkManager.ActivateConnection", "org.freedesktop.NetworkManager.Device.Reapply"} {
				if calls := n.CallsTo(m); len(calls) > 0 {
					t.Errorf("%d calls of %s after the restart", len(calls), m)
				}
			}
			if said(st, netstate.EventService, "NetworkManager is restarting") != 1 || said(st, netstate.EventService, "NetworkManager is running") != 1 {
				t.Errorf("the restart is not told as one: %v", st.Events)
			}
		})
	}
}

// TestWorkFollowsTheRoutes is the second half of finding 5: which link is
// in use is read from the routes NetworkManager reports (the lowest
// default-route metric), not from its Default flag, which after a restart
// or a metric fieldlink changed can name another; and a link whose
// default route is at the demoted metric is demoted, whoever did it.
func TestWorkFollowsTheRoutes(t *testing.T) {
	dev := func(iface string, n int) nm.Device {
		return nm.Device{Path: dbus.ObjectPath("/org/freedesktop/NetworkManager/Devices/" + iface), Type: nm.TypeEthernet, Interface: iface,
			State: 100, Active: dbus.ObjectPath("/a/" + iface), IP4: dbus.ObjectPath("/ip4/" + iface)}
	}
	o := nm.Objects{Devices: []nm.Device{dev("eth0", 0), dev("eth1", 1)},
		Actives: map[dbus.ObjectPath]nm.Active{
			"/a/eth0": {Path: "/a/eth0", ID: "wired1", State: 2},
			"/a/eth1": {Path: "/a/eth1", ID: "wired2", State: 2, Default: true}, // NetworkManager's (stale) word
		},
		IP4: map[dbus.ObjectPath]nm.IP4{
			"/ip4/eth0": {Gateway: "10.99.0.1", DefaultMetric: 100},
			"/ip4/eth1": {Gateway: "10.99.1.1", DefaultMetric: 200},
		}}
	o.Manager.Primary = "/a/eth1"
	snap := Build(Input{NM: o, NMRunning: true, DemotedMetric: 20000}, time.Unix(0, 0))
	if snap.Primary != "eth0" || !snap.Link("eth0").Default || snap.Link("eth1").Default {
		t.Fatalf("primary %q: the route's metric says eth0", snap.Primary)
	}
	o.IP4["/ip4/eth0"] = nm.IP4{Gateway: "10.99.0.1", DefaultMetric: 20000}
	snap = Build(Input{NM: o, NMRunning: true, DemotedMetric: 20000}, time.Unix(0, 0))
	if snap.Primary != "eth1" || !snap.Link("eth0").Demoted || snap.Link("eth1").Demoted || snap.Link("eth0").RouteMetric != 20000 {
		t.Fatalf("demoted eth0: primary %q, %+v", snap.Primary, snap.Link("eth0"))
	}
}

// TestDaemonErrorsOnOneLine is finding 8: a D-Bus error reply (here a
// ModemManager mock's multi-line Python traceback) becomes one line naming
// the service, the modem and the operation, with the full text kept for
// the log and the details view; a modem that reports no port is named by
// its make and model, never "modem :".
func TestDaemonErrorsOnOneLine(t *testing.T) {
	e := newEnv(t, true)
	traceback := "Traceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/dbus/service.py\", line 715, in _message_cb\n" +
		"    retval = candidate_method(self, *args, **keywords)\n  File \"mock.py\", line 88, in Setup\n" +
		"    raise ValueError('rate out of range')\nValueError: rate out of range"
	e.mm.Fail("org.freedesktop.ModemManager1.Modem.Signal.Setup", dbus.NewError("org.freedesktop.DBus.Python.ValueError", []any{traceback}))
	e.mm.AddModem(fakebus.ModemSpec{Manufacturer: "Quectel", Model: "EM05-G", State: 8, Tech: fakebus.TechLTE, Registration: 1,
		Operator: "EE", OperatorCode: "23430"})
	e.start(Options{})
	e.waitFor("the modem", func(s *netstate.Snapshot) bool { return len(s.Links) > 0 })
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		evs := append([]netstate.Event(nil), e.events...)
		e.mu.Unlock()
		for _, ev := range evs {
			if !strings.Contains(ev.Text, "Signal.Setup") {
				continue
			}
			want := "ModemManager: Quectel EM05-G: Signal.Setup failed: ValueError: rate out of range"
			if ev.Text != want || strings.Contains(ev.Text, "\n") || strings.Contains(ev.Text, "modem :") {
				t.Fatalf("event %q, want %q", ev.Text, want)
			}
			if !strings.Contains(ev.Detail, "mock.py\", line 88") || ev.Link == "" {
				t.Fatalf("the full text (detail %q) or the link (%q) is lost", ev.Detail, ev.Link)
			}
			return
		}
		select {
		case u := <-e.updates:
			e.mu.Lock()
			e.events = append(e.events, u.Events...)
			e.mu.Unlock()
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("no event for the failed Signal.Setup")
}
