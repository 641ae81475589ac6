package system

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/mm"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/nm"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
)

// env is a private bus with fake daemons and a running source.
type env struct {
	t       *testing.T
	d       *fakebus.Daemon
	nm      *fakebus.NM
	mm      *fakebus.MM
	src     *Source
	updates chan netstate.Update
	cancel  context.CancelFunc
	done    chan error

	mu     sync.Mutex
	events []netstate.Event
	last   netstate.Snapshot
}

func newEnv(t *testing.T, withMM bool) *env {
	t.Helper()
	d := fakebus.StartDaemon(t)
	e := &env{t: t, d: d, updates: make(chan netstate.Update, 1024)}
	var err error
	if e.nm, err = fakebus.NewNM(d.Address); err != nil {
		t.Fatal(err)
	}
	if withMM {
		if e.mm, err = fakebus.NewMM(d.Address); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) start(opt Options) {
	e.t.Helper()
	opt.Address = e.d.Address
	src, err := New(opt)
	if err != nil {
		e.t.Fatal(err)
	}
	e.src = src
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- src.Run(ctx, func(u netstate.Update) { e.updates <- u }) }()
	e.t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
}

// waitFor reads updates until pred holds for a classified snapshot.
func (e *env) waitFor(what string, pred func(s *netstate.Snapshot) bool) netstate.Snapshot {
	e.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		e.mu.Lock()
		last := e.last
		e.mu.Unlock()
		if pred(&last) {
			return last
		}
		select {
		case u := <-e.updates:
			s := u.Snapshot
			netstate.Apply(&s, netstate.DefaultThresholds())
			e.mu.Lock()
			e.last = s
			e.events = append(e.events, u.Events...)
			e.mu.Unlock()
		case <-deadline:
			e.t.Fatalf("timed out waiting for %s; last snapshot: %+v", what, last)
		}
	}
}

func (e *env) eventText() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.events {
		b.WriteString(ev.Text + "\n")
	}
	return b.String()
}

func link(s *netstate.Snapshot, id string) *netstate.Link { return s.Link(id) }

func TestWiFiAccessPointsStrengthAndVanishing(t *testing.T) {
	e := newEnv(t, false)
	dev := e.nm.AddDevice(fakebus.DeviceSpec{Interface: "wlan0", Type: fakebus.DevWiFi})
	ap := e.nm.AddAP(dev, fakebus.APSpec{SSID: "NHS-Community", Strength: 72, Frequency: 5180, RsnFlags: 0x100})
	e.nm.AddAP(dev, fakebus.APSpec{SSID: "BT-Hub", Strength: 40, Frequency: 2412})
	prof := e.nm.AddProfile(fakebus.ProfileSettings("NHS-Community", "802-11-wireless", ""))
	e.nm.Connect(prof, dev)
	e.nm.Set(dev, fakebus.NMWireless, map[string]any{"ActiveAccessPoint": ap})
	e.start(Options{})

	s := e.waitFor("Wi-Fi connected at 72%", func(s *netstate.Snapshot) bool {
		l := link(s, "wlan0")
		return l != nil && l.State == netstate.StateConnected && l.Signal.Strength.V == 72 && s.Primary == "wlan0"
	})
	l := link(&s, "wlan0")
	if l.WiFi.SSID != "NHS-Community" || l.WiFi.Security != "wpa2-psk" || l.WiFi.FrequencyMHz != 5180 ||
		len(l.WiFi.AccessPoints) != 2 || l.Profile != "NHS-Community" || len(l.Addresses) != 1 {
		t.Fatalf("link %+v", l)
	}
	if s.Level != netstate.LevelGreen || s.Path != "Wi-Fi NHS-Community 72% via wlan0" {
		t.Fatalf("light %v %q (%s)", s.Level, s.Path, s.Reason)
	}

	e.nm.SetAPStrength(ap, 40)
	e.waitFor("strength 40 and MARGINAL", func(s *netstate.Snapshot) bool {
		l := link(s, "wlan0")
		return l != nil && l.Signal.Strength.V == 40 && s.Level == netstate.LevelAmber
	})

	e.nm.RemoveAP(dev, ap)
	s = e.waitFor("the access point gone", func(s *netstate.Snapshot) bool {
		l := link(s, "wlan0")
		return l != nil && len(l.WiFi.AccessPoints) == 1 && l.WiFi.SSID == ""
	})
	if link(&s, "wlan0").WiFi.AccessPoints[0].SSID != "BT-Hub" {
		t.Fatalf("remaining APs %+v", link(&s, "wlan0").WiFi.AccessPoints)
	}
}

func TestCarrierDropShowsBeforeStateChange(t *testing.T) {
	e := newEnv(t, false)
	dev := e.nm.AddDevice(fakebus.DeviceSpec{Interface: "eth0", Type: fakebus.DevEthernet, Carrier: true})
	e.nm.Connect(e.nm.AddProfile(fakebus.ProfileSettings("Base dock", "802-3-ethernet", "eth0")), dev)
	e.start(Options{})
	e.waitFor("wired up", func(s *netstate.Snapshot) bool {
		l := link(s, "eth0")
		return l != nil && l.Carrier == netstate.Yes && l.State == netstate.StateConnected
	})
	e.nm.SetCarrier(dev, false)
	s := e.waitFor("carrier lost", func(s *netstate.Snapshot) bool {
		l := link(s, "eth0")
		return l != nil && l.Carrier == netstate.No
	})
	l := link(&s, "eth0")
	if l.State != netstate.StateConnected || s.Level != netstate.LevelRed || s.Reason != "no carrier" {
		t.Fatalf("carrier gone but still activated: state %v level %v %q", l.State, s.Level, s.Reason)
	}
	e.nm.SetDeviceState(dev, fakebus.StateUnavailable, 40)
	e.waitFor("unavailable", func(s *netstate.Snapshot) bool {
		l := link(s, "eth0")
		return l != nil && l.State == netstate.StateUnavailable
	})
}

func TestModemLifecycle(t *testing.T) {
	e := newEnv(t, true)
	e.start(Options{Modem: mm.Options{SignalRate: 5 * time.Second, Location3GPP: true}})
	e.waitFor("NM up, no links", func(s *netstate.Snapshot) bool { return len(s.Services) > 0 && s.Services[0].Running })

	modem := e.mm.AddModem(fakebus.ModemSpec{PrimaryPort: "cdc-wdm0", Manufacturer: "Sierra Wireless", Model: "EM7511",
		State: 7, Tech: fakebus.TechLTE, Quality: 70, Registration: 2, SimCode: "23430", SimOperator: "EE",
		Signal:       map[string]map[string]float64{"lte": {"rsrp": -95, "rsrq": -9, "snr": 14, "rssi": -67}},
		Location3GPP: "234,30,FFFE,1A4F3C,1A2B"})
	s := e.waitFor("modem appears with LTE figures", func(s *netstate.Snapshot) bool {
		l := link(s, "cdc-wdm0")
		return l != nil && l.Signal.RSRP.OK && l.Cell.TAC != ""
	})
	l := link(&s, "cdc-wdm0")
	if l.Cell.Registration != netstate.RegSearching || l.Signal.RSRP.V != -95 || l.Signal.SINR.V != 14 ||
		l.Cell.TAC != "1A2B" || l.Cell.CellID != "1A4F3C" || l.Cell.Tech != netstate.TechLTE || l.Model != "Sierra Wireless EM7511" {
		t.Fatalf("modem link %+v", l)
	}
	if calls := e.mm.CallsTo(fakebus.MMSignal + ".Setup"); len(calls) != 1 || calls[0].Args[0] != uint32(5) {
		t.Fatalf("Signal.Setup calls %+v", calls)
	}
	if calls := e.mm.CallsTo(fakebus.MMLocation + ".Setup"); len(calls) != 1 || calls[0].Args[0] != uint32(1) {
		t.Fatalf("Location.Setup calls %+v", calls)
	}

	// Registering; NetworkManager's modem device shows up and is matched
	// to the ModemManager modem by its Udi: one link, both views.
	e.mm.SetRegistration(modem, "EE", "23430", 1)
	e.mm.SetState(modem, 8)
	dev := e.nm.AddDevice(fakebus.DeviceSpec{Interface: "cdc-wdm0", Type: fakebus.DevModem, Udi: string(modem)})
	e.nm.Connect(e.nm.AddProfile(fakebus.ProfileSettings("EE Internet", "gsm", "")), dev)
	s = e.waitFor("registered and connected", func(s *netstate.Snapshot) bool {
		l := link(s, "cdc-wdm0")
		return l != nil && l.State == netstate.StateConnected && l.Cell.Registration == netstate.RegHome && s.Primary == "cdc-wdm0"
	})
	if n := len(s.Links); n != 1 {
		t.Fatalf("the modem must be one link, got %d: %+v", n, s.Links)
	}
	if l := link(&s, "cdc-wdm0"); l.Cell.Operator != "EE" || l.Cell.MCC != "234" || l.Cell.MNC != "30" || l.Profile != "EE Internet" {
		t.Fatalf("merged link %+v", l)
	}

	e.mm.SetRegistration(modem, "vodafone IE", "27201", 5)
	e.waitFor("roaming", func(s *netstate.Snapshot) bool {
		l := link(s, "cdc-wdm0")
		return l != nil && l.Cell.Roaming() && l.Cell.MCC == "272" && strings.Contains(s.Path, "(roaming)")
	})

	e.mm.SetTech(modem, fakebus.TechHSPA)
	e.mm.SetSignal(modem, "umts", map[string]float64{"rscp": -101, "ecio": -12, "rssi": -80})
	s = e.waitFor("LTE to 3G", func(s *netstate.Snapshot) bool {
		l := link(s, "cdc-wdm0")
		return l != nil && l.Cell.Tech == netstate.TechHSPA && l.Signal.RSCP.OK
	})
	if l := link(&s, "cdc-wdm0"); l.Signal.RSRP.OK || l.Signal.EcIo.V != -12 || l.Radio != netstate.LevelAmber {
		t.Fatalf("3G figures %+v radio %v", l.Signal, l.Radio)
	}

	e.mm.SetSignal(modem, "umts", map[string]float64{"rscp": -90, "ecio": -6})
	e.waitFor("figures change", func(s *netstate.Snapshot) bool {
		l := link(s, "cdc-wdm0")
		return l != nil && l.Signal.RSCP.V == -90
	})

	e.nm.RemoveDevice(dev)
	e.mm.RemoveModem(modem)
	e.waitFor("modem unplugged", func(s *netstate.Snapshot) bool { return len(s.Links) == 0 })
}

func TestModemPathIsNotAssumed(t *testing.T) {
	e := newEnv(t, true)
	e.mm.AddModem(fakebus.ModemSpec{PathPrefix: "/org/freedesktop/ModemManager1/Hardware/Quectel", PrimaryPort: "ttyUSB2",
		State: 8, Tech: fakebus.Tech5GNR, Registration: 1, Operator: "Three", OperatorCode: "23420",
		Signal: map[string]map[string]float64{"nr5g": {"rsrp": -90, "snr": 20}, "lte": {"rssi": -60}}})
	e.start(Options{})
	s := e.waitFor("5G modem under an unusual path", func(s *netstate.Snapshot) bool {
		l := link(s, "ttyUSB2")
		return l != nil && l.Signal.RSRP.V == -90
	})
	if l := link(&s, "ttyUSB2"); l.Cell.Tech != netstate.Tech5GNR || l.Signal.RSSI.V != -60 || l.Cell.MCC != "234" {
		t.Fatalf("link %+v", l)
	}
}

// addDock gives a NetworkManager the base dock's cable, connected.
func addDock(n *fakebus.NM) {
	dev := n.AddDevice(fakebus.DeviceSpec{Interface: "eth0", Type: fakebus.DevEthernet, Carrier: true})
	n.Connect(n.AddProfile(fakebus.ProfileSettings("Base dock", "802-3-ethernet", "eth0")), dev)
}

func TestNetworkManagerRestartWithoutLeaks(t *testing.T) {
	e := newEnv(t, true)
	addDock(e.nm)
	e.start(Options{})
	e.waitFor("wired up", func(s *netstate.Snapshot) bool { return s.Primary == "eth0" })
	rules, err := e.d.MatchRules(e.src.Conn().UniqueName())
	if err != nil {
		t.Fatalf("match rule stats: %v", err)
	}
	goroutines := runtime.NumGoroutine()

	for round := 0; round < 3; round++ {
		e.nm.Close()
		s := e.waitFor("NetworkManager gone", func(s *netstate.Snapshot) bool {
			return len(s.Services) > 0 && !s.Services[0].Running
		})
		// The kernel keeps the links and routes while NetworkManager is
		// away: its last picture stands, marked, and nothing reads as a
		// link failing.
		netstate.Apply(&s, netstate.DefaultThresholds())
		if l := link(&s, "eth0"); l == nil || l.State != netstate.StateConnected || s.Primary != "eth0" ||
			s.Services[0].Note != netstate.NoteRestarting || !strings.HasPrefix(s.Reason, "NetworkManager is restarting") ||
			s.Level == netstate.LevelGreen {
			t.Fatalf("while NM is away: %q primary %q level %v services %+v link %+v", s.Reason, s.Primary, s.Level, s.Services, link(&s, "eth0"))
		}
		back := time.Now()
		// A real NetworkManager takes over the links it left up before its
		// objects read as settled (Startup until then): the fake is set up
		// off the bus and then takes its name, so no picture of a dock
		// still "disconnected" reads as NetworkManager's settled word.
		n, err := fakebus.NewNMOffBus(e.d.Address)
		if err != nil {
			t.Fatal(err)
		}
		e.nm = n
		addDock(n)
		if err := n.Own(); err != nil {
			t.Fatal(err)
		}
		e.waitFor("NetworkManager back with its devices", func(s *netstate.Snapshot) bool {
			return s.Services[0].Running && s.Primary == "eth0"
		})
		if took := time.Since(back); took > 2*time.Second {
			t.Fatalf("recovery took %v (target 2 s)", took)
		}
	}
	e.mm.Close()
	e.waitFor("ModemManager gone", func(s *netstate.Snapshot) bool { return len(s.Services) > 1 && !s.Services[1].Running })
	mmBack, err := fakebus.NewMM(e.d.Address)
	if err != nil {
		t.Fatal(err)
	}
	e.mm = mmBack
	e.waitFor("ModemManager back", func(s *netstate.Snapshot) bool { return len(s.Services) > 1 && s.Services[1].Running })

	after, _ := e.d.MatchRules(e.src.Conn().UniqueName())
	if after != rules {
		t.Fatalf("match rules went from %d to %d across restarts", rules, after)
	}
	time.Sleep(50 * time.Millisecond)
	if g := runtime.NumGoroutine(); g > goroutines+2 {
		t.Fatalf("goroutines went from %d to %d across restarts", goroutines, g)
	}
	name := e.src.Conn().UniqueName()
	e.stop()
	// Once stopped, the connection is gone and with it every rule.
	if n, err := e.d.MatchRules(name); err == nil && n != 0 {
		t.Fatalf("%d match rules left after stop", n)
	}
}

func TestWrongTypeIsReportedNotFatal(t *testing.T) {
	e := newEnv(t, false)
	dev := e.nm.AddDevice(fakebus.DeviceSpec{Interface: "wlan0", Type: fakebus.DevWiFi})
	ap := e.nm.AddAP(dev, fakebus.APSpec{SSID: "NHS-Community", Strength: 72, Frequency: 5180})
	e.nm.Connect(e.nm.AddProfile(fakebus.ProfileSettings("NHS-Community", "802-11-wireless", "")), dev)
	e.nm.Set(dev, fakebus.NMWireless, map[string]any{"ActiveAccessPoint": ap})
	e.start(Options{})
	e.waitFor("connected", func(s *netstate.Snapshot) bool { l := link(s, "wlan0"); return l != nil && l.Signal.Strength.OK })

	e.nm.Set(ap, fakebus.NMAP, map[string]any{"Strength": "very strong"})
	s := e.waitFor("strength unknown", func(s *netstate.Snapshot) bool {
		l := link(s, "wlan0")
		return l != nil && l.Signal.Strength.V == 0
	})
	_ = s
	want := string(ap) + " org.freedesktop.NetworkManager.AccessPoint.Strength: want byte (y), got s"
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(e.eventText(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no event naming the bad property; events:\n%s", e.eventText())
		}
		e.nm.SetAPStrength(ap, 10) // provoke another update
		e.nm.Set(ap, fakebus.NMAP, map[string]any{"Strength": "very strong"})
		e.waitFor("another update", func(*netstate.Snapshot) bool { return true })
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(e.eventText(), want); n != 1 {
		t.Fatalf("the same problem reported %d times", n)
	}
}

// TestRestartedNetworkManagerCountsOnceRead: a restarted NetworkManager
// is on the bus a few milliseconds before its objects can be read. A
// picture built in between (here another daemon's change prompts one)
// once read as "running, no devices": the cable in use removed and the
// work failed over on the real NetworkManager in about 5% of restarts.
// Until its objects are read the last picture stands.
func TestRestartedNetworkManagerCountsOnceRead(t *testing.T) {
	e := newEnv(t, true)
	addDock(e.nm)
	e.start(Options{})
	e.waitFor("wired up", func(s *netstate.Snapshot) bool { return s.Primary == "eth0" })
	e.nm.Close()
	e.waitFor("NetworkManager gone", func(s *netstate.Snapshot) bool { return len(s.Services) > 0 && !s.Services[0].Running })

	n, err := fakebus.NewNMOffBus(e.d.Address)
	if err != nil {
		t.Fatal(err)
	}
	e.nm = n
	addDock(n)
	release := n.Hang("org.freedesktop.DBus.ObjectManager.GetManagedObjects")
	if err := n.Own(); err != nil {
		t.Fatal(err)
	}
	e.mm.AddModem(fakebus.ModemSpec{PrimaryPort: "cdc-wdm0", State: 8, Tech: fakebus.TechLTE, Registration: 1, Operator: "EE", OperatorCode: "23430"})
	s := e.waitFor("a picture while NetworkManager is being read", func(s *netstate.Snapshot) bool {
		return len(s.Services) > 1 && s.Services[0].Note == netstate.NoteStartingUp
	})
	if l := link(&s, "eth0"); l == nil || l.State != netstate.StateConnected || s.Primary != "eth0" {
		t.Fatalf("NetworkManager on the bus but not yet read: primary %q, links %+v", s.Primary, s.Links)
	}
	release()
	e.waitFor("NetworkManager read", func(s *netstate.Snapshot) bool { return s.Services[0].Running && s.Primary == "eth0" })
	if ev := e.eventText(); strings.Contains(ev, "removed") {
		t.Fatalf("a restart read as the cable removed:\n%s", ev)
	}
}

func TestCallThatNeverAnswersTimesOutAndRecovers(t *testing.T) {
	e := newEnv(t, false)
	e.nm.AddDevice(fakebus.DeviceSpec{Interface: "eth0", Type: fakebus.DevEthernet, Carrier: true})
	release := e.nm.Hang("org.freedesktop.DBus.ObjectManager.GetManagedObjects")
	start := time.Now()
	e.start(Options{Timeout: 300 * time.Millisecond})
	s := e.waitFor("the timeout reported", func(s *netstate.Snapshot) bool {
		return strings.Contains(e.eventText(), "GetManagedObjects: no answer within the timeout")
	})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("giving up on the call took %v", took)
	}
	// On the bus but its picture not read: not yet NetworkManager's word,
	// so nothing is decided on it.
	if len(s.Links) != 0 || s.Services[0].Running || s.Services[0].Note != netstate.NoteStartingUp {
		t.Fatalf("a load that never answered: running %v (%q), links %+v", s.Services[0].Running, s.Services[0].Note, s.Links)
	}
	release()
	e.waitFor("loaded on retry", func(s *netstate.Snapshot) bool { return link(s, "eth0") != nil })
}

func TestNoNetworkManagerAtAll(t *testing.T) {
	d := fakebus.StartDaemon(t)
	src, err := New(Options{Address: d.Address})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := make(chan netstate.Update, 16)
	go src.Run(ctx, func(u netstate.Update) { updates <- u })
	select {
	case u := <-updates:
		s := u.Snapshot
		netstate.Apply(&s, netstate.DefaultThresholds())
		if s.Level != netstate.LevelRed || s.Reason != "NetworkManager is not running" {
			t.Fatalf("%v %q", s.Level, s.Reason)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no picture without NetworkManager")
	}
	// NetworkManager arriving later is picked up.
	n, err := fakebus.NewNM(d.Address)
	if err != nil {
		t.Fatal(err)
	}
	n.AddDevice(fakebus.DeviceSpec{Interface: "eth0", Type: fakebus.DevEthernet})
	deadline := time.After(2 * time.Second)
	for {
		select {
		case u := <-updates:
			if u.Snapshot.Link("eth0") != nil {
				return
			}
		case <-deadline:
			t.Fatal("NetworkManager's arrival not noticed within 2 s")
		}
	}
}

func TestActions(t *testing.T) {
	e := newEnv(t, false)
	eth := e.nm.AddDevice(fakebus.DeviceSpec{Interface: "eth0", Type: fakebus.DevEthernet, Carrier: true})
	e.nm.AddDevice(fakebus.DeviceSpec{Interface: "wlan0", Type: fakebus.DevWiFi})
	dock := e.nm.AddProfile(fakebus.ProfileSettings("Base dock", "802-3-ethernet", "eth0"))
	e.nm.AddProfile(fakebus.ProfileSettings("NHS-Staff", "802-11-wireless", ""))
	e.nm.Connect(dock, eth)
	e.start(Options{})
	e.waitFor("wired primary", func(s *netstate.Snapshot) bool { return s.Primary == "eth0" })
	ctx := context.Background()
	c := e.src.NM()

	if p := c.Profiles(); len(p) != 2 || p[0].ID != "Base dock" || p[0].Interface != "eth0" {
		t.Fatalf("profiles %+v", p)
	}
	if err := e.src.Activate(ctx, "NHS-Staff"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("Wi-Fi activated", func(s *netstate.Snapshot) bool {
		l := link(s, "wlan0")
		return l != nil && l.State == netstate.StateConnected && l.Profile == "NHS-Staff"
	})
	// Demoting the wired link moves the default route to Wi-Fi without
	// taking the cable down.
	if err := e.src.SetDemoted(ctx, "eth0", true); err != nil {
		t.Fatal(err)
	}
	s := e.waitFor("route moved", func(s *netstate.Snapshot) bool { return s.Primary == "wlan0" })
	if l := link(&s, "eth0"); l.State != netstate.StateConnected || !l.Demoted {
		t.Fatalf("demoted link %+v", l)
	}
	if e.nm.Metric(eth) != 20000 {
		t.Fatalf("metric %d", e.nm.Metric(eth))
	}
	if err := e.src.SetDemoted(ctx, "eth0", false); err != nil {
		t.Fatal(err)
	}
	e.waitFor("route back", func(s *netstate.Snapshot) bool { return s.Primary == "eth0" })

	if err := e.src.Deactivate(ctx, "NHS-Staff"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("Wi-Fi down", func(s *netstate.Snapshot) bool {
		l := link(s, "wlan0")
		return l != nil && l.State == netstate.StateDisconnected
	})
	if err := c.RequestScan(ctx, "wlan0"); err != nil {
		t.Fatal(err)
	}
	if len(e.nm.CallsTo(fakebus.NMWireless+".RequestScan")) != 1 {
		t.Fatal("no RequestScan call")
	}
	if v, err := c.CheckConnectivity(ctx); err != nil || v != 4 {
		t.Fatalf("CheckConnectivity %d %v", v, err)
	}
	if _, err := c.AddAndActivate(ctx, fakebus.ProfileSettings("Guest", "802-11-wireless", ""), "wlan0"); err != nil {
		t.Fatal(err)
	}

	// polkit refusing over SSH becomes a typed error that says what to do.
	e.nm.Fail("org.freedesktop.NetworkManager.ActivateConnection",
		dbus.NewError("org.freedesktop.NetworkManager.PermissionDenied", []any{"Not authorized to control networking."}))
	err := e.src.Activate(ctx, "NHS-Staff")
	if !nm.IsPermission(err) || !strings.Contains(err.Error(), "Not authorized to control networking") ||
		!strings.Contains(err.Error(), "kiosk user") {
		t.Fatalf("permission error: %v", err)
	}
	var nerr *nm.Error
	if !errors.As(err, &nerr) || nerr.Name != "org.freedesktop.NetworkManager.PermissionDenied" {
		t.Fatalf("error type %T %+v", err, err)
	}
	if err := e.src.Activate(ctx, "No Such Profile"); err == nil || !strings.Contains(err.Error(), "no saved profile") {
		t.Fatalf("unknown profile: %v", err)
	}
	// fieldlink never asks NetworkManager for secrets.
	if n := len(e.nm.CallsTo(fakebus.NMConnection + ".GetSecrets")); n != 0 {
		t.Fatalf("GetSecrets called %d times", n)
	}
}

// TestModemLocationIsRoundedToAnArea follows Modem.Location.xml: sources
// are enabled with Setup (GPS only when configured), the Location
// property carries 3GPP as "MCC,MNC,LAC,CI,TAC" and GPS raw as a{sv},
// and the position is rounded to 0.01° (about 1 km) before anything
// downstream sees it.
func TestModemLocationIsRoundedToAnArea(t *testing.T) {
	for _, gps := range []bool{false, true} {
		name := "cell only"
		if gps {
			name = "with GPS"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, true)
			e.start(Options{Modem: mm.Options{SignalRate: 5 * time.Second, Location3GPP: true, GPS: gps}})
			e.waitFor("NM up", func(s *netstate.Snapshot) bool { return len(s.Services) > 0 && s.Services[0].Running })
			modem := e.mm.AddModem(fakebus.ModemSpec{PrimaryPort: "cdc-wdm0", Manufacturer: "Quectel", Model: "EM12",
				State: 8, Tech: fakebus.TechLTE, Quality: 70, Registration: 1, SimCode: "23430", SimOperator: "EE",
				Operator: "EE", OperatorCode: "23430",
				Location3GPP: "234,30,FFFE,1A4F3C,2C10", GPS: &[2]float64{52.446713, -1.903349}})
			want := uint32(1)
			if gps {
				want = 3
			}
			s := e.waitFor("located", func(s *netstate.Snapshot) bool {
				l := link(s, "cdc-wdm0")
				return l != nil && l.Cell.TAC == "2C10" && (!gps || l.Cell.Latitude.OK)
			})
			if calls := e.mm.CallsTo(fakebus.MMLocation + ".Setup"); len(calls) != 1 || calls[0].Args[0] != want || calls[0].Args[1] != true {
				t.Fatalf("Location.Setup calls %+v, want sources %d with signals", calls, want)
			}
			l := link(&s, "cdc-wdm0")
			if !gps {
				if l.Cell.Latitude.OK {
					t.Fatalf("GPS not enabled in the config, yet a position was read: %v", l.Cell.Latitude)
				}
				return
			}
			if l.Cell.Latitude.V != 52.45 || l.Cell.Longitude.V != -1.90 {
				t.Fatalf("position %v,%v: want 52.45,-1.90 (rounded at decode)", l.Cell.Latitude.V, l.Cell.Longitude.V)
			}
			// The clinician drives on: the new fix arrives by signal.
			e.mm.SetLocation(modem, "234,30,FFFE,1A4F3D,2C11", &[2]float64{52.4549, -1.8851})
			s = e.waitFor("moved", func(s *netstate.Snapshot) bool {
				l := link(s, "cdc-wdm0")
				return l != nil && l.Cell.TAC == "2C11"
			})
			if l := link(&s, "cdc-wdm0"); l.Cell.Latitude.V != 52.45 || l.Cell.Longitude.V != -1.89 || l.Cell.CellID != "1A4F3D" {
				t.Fatalf("after the move: cell %s at %v,%v", l.Cell.CellID, l.Cell.Latitude.V, l.Cell.Longitude.V)
			}
		})
	}
}

// TestCachedQualityAsksForFresh: ModemManager 1.20 can stop polling after a
// registration flap and keep saying "0% (cached)". A registered modem whose
// quality goes cached is asked once for fresh figures (Signal.Setup runs
// its poll at once); a second cached figure within the minute is not asked
// again; the verdict never trusts the cached figure.
func TestCachedQualityAsksForFresh(t *testing.T) {
	e := newEnv(t, true)
	e.start(Options{Modem: mm.Options{SignalRate: 5 * time.Second}})
	modem := e.mm.AddModem(fakebus.ModemSpec{PrimaryPort: "ttyUSB2", Manufacturer: "Generic", Model: "AT modem",
		State: 8, Tech: fakebus.TechLTE, Quality: 70, Registration: 1, SimCode: "23430", SimOperator: "EE"})
	e.waitFor("the modem", func(s *netstate.Snapshot) bool { return link(s, "ttyUSB2") != nil })
	setups := func() int { return len(e.mm.CallsTo(fakebus.MMSignal + ".Setup")) }
	// A picture made for another reason can show the modem a moment before
	// ModemManager's own change reaches the step that switches reporting on.
	if n := waitCount(setups, 1); n != 1 {
		t.Fatalf("Signal.Setup calls at start: %d, want 1", n)
	}
	e.mm.SetQuality(modem, 0, false)
	s := e.waitFor("the cached figure seen", func(s *netstate.Snapshot) bool {
		l := link(s, "ttyUSB2")
		return l != nil && l.Signal.QualityCached
	})
	if l := link(&s, "ttyUSB2"); l.Radio != netstate.LevelAmber {
		t.Errorf("a cached 0%% was trusted: radio %v, want amber (not known)", l.Radio)
	}
	if n := waitCount(setups, 2); n != 2 {
		t.Fatalf("Signal.Setup calls after the quality went cached: %d, want 2 (one refresh)", n)
	}
	e.mm.SetQuality(modem, 1, false)
	e.waitFor("the second cached figure", func(s *netstate.Snapshot) bool {
		l := link(s, "ttyUSB2")
		return l != nil && l.Signal.Quality.V == 1
	})
	time.Sleep(100 * time.Millisecond)
	if n := setups(); n != 2 {
		t.Errorf("Signal.Setup calls within the minute: %d, want still 2", n)
	}
	e.mm.SetQuality(modem, 60, true)
	e.waitFor("fresh again", func(s *netstate.Snapshot) bool {
		l := link(s, "ttyUSB2")
		return l != nil && !l.Signal.QualityCached && l.Radio == netstate.LevelGreen
	})
}

// waitCount waits up to 2 s for count to reach want and returns what it
// last said.
func waitCount(count func() int, want int) int {
	deadline := time.Now().Add(2 * time.Second)
	for count() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return count()
}

// TestBriefFailureIsToldOnce: NetworkManager can fail an activation and
// disconnect the device within a millisecond (a modem whose PPP cannot
// start); the picture read after it shows only "disconnected". Every
// failure must still be told once, with its reason: by the engine when a
// picture shows the device failed, else by the source.
func TestBriefFailureIsToldOnce(t *testing.T) {
	e := newEnv(t, false)
	dev := e.nm.AddDevice(fakebus.DeviceSpec{Interface: "eth0", Type: fakebus.DevEthernet, Carrier: true})
	e.start(Options{})
	e.waitFor("the cable", func(s *netstate.Snapshot) bool { return link(s, "eth0") != nil })
	const rounds = 12
	told, shown := 0, 0
	prevFailed := false
	for i := range rounds {
		switch i % 3 {
		case 0: // as NetworkManager does it: one PropertiesChanged, disconnected
			e.nm.PassDeviceStates(dev, [2]uint32{fakebus.StatePrepare, 0}, [2]uint32{120, 12}, [2]uint32{30, 0})
		case 1: // each state a property, quickly
			e.nm.SetDeviceState(dev, fakebus.StatePrepare, 0)
			e.nm.SetDeviceState(dev, 120, 12) // PPP failed to start
			e.nm.SetDeviceState(dev, 30, 0)
		case 2: // slow enough to be seen failed
			e.nm.SetDeviceState(dev, fakebus.StatePrepare, 0)
			e.nm.SetDeviceState(dev, 120, 12)
			time.Sleep(20 * time.Millisecond)
			e.nm.SetDeviceState(dev, 30, 0)
		}
		// Read until the round's disconnected picture and its event, if the
		// source owes one, have come.
		deadline := time.After(5 * time.Second)
		for done := false; !done; {
			select {
			case u := <-e.updates:
				for _, ev := range u.Events {
					if strings.Contains(ev.Text, "connection failed: PPP failed to start") {
						if ev.Link != "eth0" || ev.Level != netstate.LevelRed {
							t.Fatalf("event %+v", ev)
						}
						told++
					}
				}
				l := link(&u.Snapshot, "eth0")
				failed := l != nil && l.State == netstate.StateFailed && l.StateReason == "PPP failed to start"
				if failed && !prevFailed {
					shown++ // the engine tells this one from the picture
				}
				prevFailed = failed
				done = l != nil && l.State == netstate.StateDisconnected && told+shown == i+1
			case <-deadline:
				t.Fatalf("round %d: failures told %d, shown failed %d", i+1, told, shown)
			}
		}
	}
	// Nothing more may come: no failure told twice.
	time.Sleep(200 * time.Millisecond)
	for len(e.updates) > 0 {
		for _, ev := range (<-e.updates).Events {
			if strings.Contains(ev.Text, "connection failed") {
				told++
			}
		}
	}
	if told < rounds/3 {
		t.Errorf("%d failures never shown failed, but only %d told by the source", rounds/3, told)
	}
	if told+shown != rounds {
		t.Fatalf("%d failures: told by the source %d, shown failed %d", rounds, told, shown)
	}
	t.Logf("%d failures: told by the source %d, shown failed (told by the engine) %d", rounds, told, shown)
}
