package system

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/probe"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
)

// stubCheck answers probes per interface as the test says: the fake
// daemons' interfaces do not exist, so nothing real can be reached.
type stubCheck struct {
	mu   sync.Mutex
	down map[string]bool
}

func (s *stubCheck) set(iface string, down bool) {
	s.mu.Lock()
	s.down[iface] = down
	s.mu.Unlock()
}

func (s *stubCheck) Check(_ context.Context, iface string, t probe.Target) probe.Result {
	s.mu.Lock()
	down := s.down[iface]
	s.mu.Unlock()
	if down {
		return probe.Result{Iface: iface, Start: time.Now(), Reason: "timeout", Target: t.String(), Bound: true}
	}
	return probe.Result{Iface: iface, Start: time.Now(), OK: true, RTT: 20 * time.Millisecond, Target: t.String(), Bound: true}
}

// TestFailoverOnFakeBus: Wi-Fi lost, the cellular profile is activated
// through NetworkManager; Wi-Fi back and stable, the work fails back and
// the cold-standby cellular connection is taken down again.
func TestFailoverOnFakeBus(t *testing.T) {
	e := newEnv(t, true)
	wlan := e.nm.AddDevice(fakebus.DeviceSpec{Interface: "wlan0", Type: fakebus.DevWiFi})
	ap := e.nm.AddAP(wlan, fakebus.APSpec{SSID: "NHS-Community", Strength: 75, Frequency: 5180, RsnFlags: 0x100})
	wifiProfile := e.nm.AddProfile(fakebus.ProfileSettings("NHS-Community", "802-11-wireless", ""))
	e.nm.Connect(wifiProfile, wlan)
	e.nm.Set(wlan, fakebus.NMWireless, map[string]any{"ActiveAccessPoint": ap})
	modem := e.mm.AddModem(fakebus.ModemSpec{PrimaryPort: "cdc-wdm0", State: 8, Tech: fakebus.TechLTE, Registration: 1,
		Operator: "EE", OperatorCode: "23430", Signal: map[string]map[string]float64{"lte": {"rsrp": -95, "snr": 12}}})
	wwan := e.nm.AddDevice(fakebus.DeviceSpec{Interface: "cdc-wdm0", Type: fakebus.DevModem, Udi: string(modem)})
	e.nm.AddProfile(fakebus.ProfileSettings("EE Internet", "gsm", ""))

	src, err := New(Options{Address: e.d.Address})
	if err != nil {
		t.Fatal(err)
	}
	check := &stubCheck{down: map[string]bool{}}
	pc := probe.Config{Targets: []probe.Target{{Kind: probe.TCP, Address: "192.0.2.1:443"}}, Active: 100 * time.Millisecond, Idle: 100 * time.Millisecond,
		Standby: 200 * time.Millisecond, Timeout: 100 * time.Millisecond}
	policy := failover.Policy{FailbackAfter: 2 * time.Second, MinDwell: time.Second, Standby: failover.Cold}
	eng := engine.New(src, engine.Options{Thresholds: netstate.DefaultThresholds(), Role: engine.Holder,
		Failover: failover.New(policy), Actuator: src, Prober: probe.NewProber(pc, check, nil, true)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	states, stop := eng.Subscribe()
	defer stop()

	wait := func(what string, pred func(st engine.State) bool) engine.State {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case st := <-states:
				if pred(st) {
					return st
				}
			case <-deadline:
				st := eng.Current()
				var ev []string
				for _, e := range st.Events {
					ev = append(ev, e.Text)
				}
				var links []string
				for _, l := range st.Snapshot.Links {
					links = append(links, fmt.Sprintf("%s %s demoted=%v probe=%v/%d level=%v %s", l.ID, l.State, l.Demoted, l.Probe.OK, l.Probe.Failures, l.Level, l.Reason))
				}
				t.Fatalf("timed out waiting for %s; primary %q; links:\n%s\nevents:\n%s", what, st.Snapshot.Primary,
					strings.Join(links, "\n"), strings.Join(ev, "\n"))
			}
		}
	}
	said := func(st engine.State, sub string) bool {
		for _, ev := range st.Events {
			if strings.Contains(ev.Text, sub) {
				return true
			}
		}
		return false
	}
	wait("Wi-Fi carrying the work, probed", func(st engine.State) bool {
		l := st.Snapshot.Link("wlan0")
		return st.Snapshot.Primary == "wlan0" && l != nil && l.Probe.OK == netstate.Yes && st.Snapshot.Level == netstate.LevelGreen
	})

	// Wi-Fi lost (the access point vanishes; NetworkManager disconnects).
	e.nm.RemoveAP(wlan, ap)
	e.nm.Deactivate(e.nm.ActiveOn(wlan))
	st := wait("cellular activated and carrying the work", func(st engine.State) bool {
		return st.Snapshot.Primary == "cdc-wdm0" && said(st, "Switched to cellular (EE, 4G)")
	})
	if !said(st, "Activating cellular (EE, 4G): Wi-Fi disconnected") {
		t.Fatal("the activation decision was not said")
	}
	if calls := e.nm.CallsTo("org.freedesktop.NetworkManager.ActivateConnection"); len(calls) != 1 {
		t.Fatalf("ActivateConnection calls: %d", len(calls))
	}

	// Wi-Fi back: held until it has been usable for 2 s, then fail-back,
	// then cellular back to rest.
	ap = e.nm.AddAP(wlan, fakebus.APSpec{SSID: "NHS-Community", Strength: 75, Frequency: 5180, RsnFlags: 0x100})
	back := time.Now()
	e.nm.Connect(wifiProfile, wlan)
	e.nm.Set(wlan, fakebus.NMWireless, map[string]any{"ActiveAccessPoint": ap})
	wait("held on cellular", func(st engine.State) bool { return said(st, "Keeping the work on cellular") })
	st = wait("fail-back to Wi-Fi", func(st engine.State) bool {
		return st.Snapshot.Primary == "wlan0" && said(st, "Back on Wi-Fi NHS-Community")
	})
	if took := time.Since(back); took < 2*time.Second {
		t.Fatalf("failed back after %v, before the 2 s fail-back wait", took)
	}
	wait("cellular deactivated", func(st engine.State) bool {
		l := st.Snapshot.Link("cdc-wdm0")
		return l != nil && l.State == netstate.StateDisconnected && said(st, "back to standby")
	})
	if calls := e.nm.CallsTo("org.freedesktop.NetworkManager.DeactivateConnection"); len(calls) != 1 {
		t.Fatalf("DeactivateConnection calls: %d", len(calls))
	}
	_ = wwan
}

// TestObserverDoesNotAct: an engine in the observer role on the same bus
// takes no action whatever it sees.
func TestObserverDoesNotAct(t *testing.T) {
	e := newEnv(t, false)
	eth := e.nm.AddDevice(fakebus.DeviceSpec{Interface: "eth0", Type: fakebus.DevEthernet, Carrier: true})
	e.nm.Connect(e.nm.AddProfile(fakebus.ProfileSettings("Base dock", "802-3-ethernet", "eth0")), eth)
	e.nm.AddDevice(fakebus.DeviceSpec{Interface: "eth1", Type: fakebus.DevEthernet, Carrier: true})
	e.nm.AddProfile(fakebus.ProfileSettings("Spare", "802-3-ethernet", "eth1"))
	src, err := New(Options{Address: e.d.Address})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(src, engine.Options{Thresholds: netstate.DefaultThresholds(), Role: engine.Observer, Holder: "fieldlink pid 1 (kiosk)"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	<-eng.Ready()
	e.nm.SetCarrier(eth, false)
	time.Sleep(300 * time.Millisecond)
	for _, c := range e.nm.Calls() {
		if !strings.HasPrefix(c.Iface, "org.freedesktop.DBus") && !strings.HasSuffix(c.Method, "GetSettings") &&
			!strings.HasSuffix(c.Method, "ListConnections") {
			t.Fatalf("the observer called %s.%s", c.Iface, c.Method)
		}
	}
}
