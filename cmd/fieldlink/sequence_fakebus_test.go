package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
)

// radioWorld is Wi-Fi and a modem on the fake daemons under fieldlink's
// real wiring (failover, the VPN keeper, the journal), with the model the
// sequence is checked against.
type radioWorld struct {
	t    *testing.T
	rng  *rand.Rand
	seed int64
	d    *fakebus.Daemon
	n    *fakebus.NM
	m    *fakebus.MM
	r    *running

	wlan, ww, ap, modem dbus.ObjectPath
	wifiProfile, gsm    dbus.ObjectPath

	// the model
	associated bool // Wi-Fi is on its network
	strength   byte
	registered bool
	// vpnCalls counts the VPN's activations over every NetworkManager
	// this run had (a restart starts a new call log).
	vpnCalls     int
	steps        []string
	violations   []string
	seenSeq      uint64
	restarts     int
	pathChanges  int
	reconnects   int
	lastPathSeen string
}

const radioConfig = `
[vpn]
profile = "NHS-VPN"
retry_min = "1s"

[failover]
red_hold = "1s"
failback_after = "1s"
min_dwell = "500ms"
max_backoff = "1s"
activation_timeout = "5s"
`

func newRadioWorld(t *testing.T, seed int64) *radioWorld {
	d, n, m := fakeDaemons(t)
	w := &radioWorld{t: t, rng: rand.New(rand.NewSource(seed)), seed: seed, d: d, n: n, m: m,
		associated: true, strength: 72, registered: true}
	w.modem = m.AddModem(w.modemSpec())
	w.populate()
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Address)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte(radioConfig), 0o600)
	c := common{config: cfg, stateDir: dir, noProbe: true, speed: 1}
	conf, src, _, err := c.setup()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := c.start(ctx, conf, src, "daemon")
	if err != nil {
		t.Fatal(err)
	}
	w.r = r
	t.Cleanup(func() { cancel(); r.stop() })
	return w
}

func (w *radioWorld) modemSpec() fakebus.ModemSpec {
	reg := uint32(1)
	if !w.registered {
		reg = 0
	}
	return fakebus.ModemSpec{PrimaryPort: "cdc-wdm0", State: 8, Tech: fakebus.TechLTE, Quality: 80,
		Operator: "EE", OperatorCode: "23430", Registration: reg,
		Signal: map[string]map[string]float64{"lte": {"rsrp": -95, "rsrq": -9, "snr": 14}}}
}

// populate gives a (new) NetworkManager the world as the model has it:
// what a restarted NetworkManager takes over.
func (w *radioWorld) populate() {
	n := w.n
	w.wlan = n.AddDevice(fakebus.DeviceSpec{Interface: "wlan0", Type: fakebus.DevWiFi})
	w.wifiProfile = n.AddProfile(fakebus.ProfileSettings("NHS-Community", "802-11-wireless", ""))
	if w.associated {
		w.ap = n.AddAP(w.wlan, fakebus.APSpec{SSID: "NHS-Community", Strength: w.strength, Frequency: 5180, RsnFlags: 0x100})
		n.Connect(w.wifiProfile, w.wlan)
		n.Set(w.wlan, fakebus.NMWireless, map[string]any{"ActiveAccessPoint": w.ap})
	}
	w.ww = n.AddDevice(fakebus.DeviceSpec{Interface: "cdc-wdm0", Type: fakebus.DevModem, Udi: string(w.modem)})
	gsm := fakebus.ProfileSettings("EE Internet", "gsm", "")
	gsm["connection"]["autoconnect"] = dbus.MakeVariant(false)
	w.gsm = n.AddProfile(gsm)
	n.AddProfile(fakebus.ProfileSettings("NHS-VPN", "vpn", ""))
}

func (w *radioWorld) violate(format string, a ...any) {
	w.violations = append(w.violations, fmt.Sprintf("step %d (%s): %s", len(w.steps), w.steps[len(w.steps)-1], fmt.Sprintf(format, a...)))
}

// expected is the path the model says the work settles on ("" when no
// link is workable: the VPN waits), and where the route then is.
func (w *radioWorld) expected() (path, route string) {
	switch {
	case w.associated && w.strength >= 38:
		return "wlan0", "wlan0"
	case w.registered:
		return "cdc-wdm0", "cdc-wdm0"
	case w.associated:
		return "", "wlan0" // connected but too weak: the route stays, the work cannot
	}
	return "", ""
}

// devOf is the fake's device of a link.
func (w *radioWorld) devOf(link string) dbus.ObjectPath {
	switch link {
	case "wlan0":
		return w.wlan
	case "cdc-wdm0":
		return w.ww
	}
	return ""
}

func (w *radioWorld) countVPNCalls() int {
	n := 0
	for _, c := range w.n.CallsTo("org.freedesktop.NetworkManager.ActivateConnection") {
		if p, ok := c.Args[0].(dbus.ObjectPath); ok {
			if id, _ := w.n.ProfileByPath(p); id == "NHS-VPN" {
				n++
			}
		}
	}
	return n
}

// settle waits until the work is on the model's path and the VPN is up
// over it (or waits, with no path), then checks what the step cost: the
// VPN is started once per change of path at most, never while the path
// stays the same.
func (w *radioWorld) settle(vpnBefore int, restarted bool) {
	want, route := w.expected()
	var st engine.State
	deadline := time.Now().Add(10 * time.Second)
	for {
		st = w.r.eng.Current()
		v := st.Work.VPN
		// The VPN as NetworkManager has it, not only as the keeper says.
		_, vpnState := w.n.VPNActive("NHS-VPN")
		up := v.Phase == netstate.VPNUp && v.Via == want && vpnState == 2 && w.n.VPNBase("NHS-VPN") == w.devOf(want)
		// With no workable path a tunnel already up is left up (shown over
		// a red path): only the route is checked.
		done := st.Snapshot.Primary == route && (want == "" || up)
		if done {
			time.Sleep(300 * time.Millisecond) // nothing more comes of it
			st = w.r.eng.Current()
			break
		}
		if time.Now().After(deadline) {
			w.violate("not settled within 10 s: route on %q (want %q), VPN %s via %q (want via %q: %s)", st.Snapshot.Primary, route, v.Phase, v.Via, want, v.Reason)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	changes := 0
	var story []string
	for _, ev := range st.Events {
		if ev.Seq <= w.seenSeq {
			continue
		}
		story = append(story, string(ev.Kind)+" "+ev.Link+": "+ev.Text)
		if ev.Kind == netstate.EventFailover || ev.Kind == netstate.EventFailback {
			changes++
		}
	}
	if n := len(st.Events); n > 0 {
		w.seenSeq = st.Events[n-1].Seq
	}
	// A path that appears from none is a change too.
	if want != w.lastPathSeen && (w.lastPathSeen == "" || want == "") {
		changes++
	}
	w.lastPathSeen = want
	w.pathChanges += changes
	vpn := w.vpnCalls + w.countVPNCalls() - vpnBefore
	allowed := changes
	if restarted {
		allowed++ // a restarted NetworkManager has no VPN up: it is started once
	}
	w.reconnects += vpn
	if vpn > allowed {
		w.violate("the VPN was started %d times for %d changes of path:\n  %s", vpn, changes, strings.Join(story, "\n  "))
	}
}

// restartNM stops the fake NetworkManager (asked, or killed) and starts a
// new one that takes the world over.
func (w *radioWorld) restartNM(sig syscall.Signal) {
	w.vpnCalls += w.countVPNCalls()
	if sig == syscall.SIGTERM {
		w.n.Quit()
	} else {
		w.n.Close()
	}
	time.Sleep(time.Duration(200+w.rng.Intn(600)) * time.Millisecond)
	n, err := fakebus.NewNM(w.d.Address)
	if err != nil {
		w.t.Fatal(err)
	}
	w.n = n
	n.Set(fakebus.NMPath, "org.freedesktop.NetworkManager", map[string]any{"Startup": true})
	cur := w.r.eng.Current()
	wasCell := cur.Snapshot.Link("cdc-wdm0")
	w.populate()
	if wasCell != nil && wasCell.State == netstate.StateConnected && w.registered {
		n.Connect(w.gsm, w.ww)
	}
	n.Set(fakebus.NMPath, "org.freedesktop.NetworkManager", map[string]any{"Startup": false})
	w.restarts++
}

// restartMM replaces ModemManager; its modem comes back under a new path.
func (w *radioWorld) restartMM() {
	w.m.Close()
	time.Sleep(200 * time.Millisecond)
	m, err := fakebus.NewMM(w.d.Address)
	if err != nil {
		w.t.Fatal(err)
	}
	w.m = m
	w.modem = m.AddModem(w.modemSpec())
	w.n.Set(w.ww, fakebus.NMDevice, map[string]any{"Udi": string(w.modem)})
	w.restarts++
}

func (w *radioWorld) step() {
	kinds := []string{"Wi-Fi fades to red", "Wi-Fi back to green", "Wi-Fi fades to amber", "access point lost", "access point back",
		"modem registration lost", "modem registration back", "restart NetworkManager (SIGTERM)",
		"restart NetworkManager (SIGKILL)", "restart ModemManager"}
	k := kinds[w.rng.Intn(len(kinds))]
	w.steps = append(w.steps, k)
	before := w.vpnCalls + w.countVPNCalls()
	restarted := false
	switch k {
	case "Wi-Fi fades to red", "Wi-Fi back to green", "Wi-Fi fades to amber":
		s := map[string]byte{"Wi-Fi fades to red": 20, "Wi-Fi back to green": 72, "Wi-Fi fades to amber": 45}[k]
		w.strength = s
		if w.associated {
			w.n.SetAPStrength(w.ap, s)
		}
	case "access point lost":
		if w.associated {
			w.associated = false
			if a := w.n.ActiveOn(w.wlan); a != "" {
				w.n.Deactivate(a)
			}
			w.n.RemoveAP(w.wlan, w.ap)
		}
	case "access point back":
		if !w.associated {
			w.associated = true
			w.ap = w.n.AddAP(w.wlan, fakebus.APSpec{SSID: "NHS-Community", Strength: w.strength, Frequency: 5180, RsnFlags: 0x100})
			w.n.Connect(w.wifiProfile, w.wlan)
			w.n.Set(w.wlan, fakebus.NMWireless, map[string]any{"ActiveAccessPoint": w.ap})
		}
	case "modem registration lost":
		w.registered = false
		w.m.SetRegistration(w.modem, "", "", 2)
		if a := w.n.ActiveOn(w.ww); a != "" {
			w.n.Deactivate(a) // no registration, no bearer
		}
	case "modem registration back":
		w.registered = true
		w.m.SetRegistration(w.modem, "EE", "23430", 1)
	case "restart NetworkManager (SIGTERM)":
		w.restartNM(syscall.SIGTERM)
		restarted = true
	case "restart NetworkManager (SIGKILL)":
		w.restartNM(syscall.SIGKILL)
		restarted = true
	case "restart ModemManager":
		w.restartMM()
	}
	w.settle(before, restarted)
}

// TestRadioSequencesOnTheFakeBus is item 3 of "Failover that stays right
// all day": the sequence model on the fake daemons for Wi-Fi and
// cellular (fades across the thresholds, the access point lost and back,
// the modem's registration lost and back, cold-standby activation,
// NetworkManager and ModemManager restarts), with the VPN keeper in the
// loop: after every step the work settles on the model's path with the
// VPN up over it, and the VPN is started at most once per change of path,
// never while the path stays the same.
func TestRadioSequencesOnTheFakeBus(t *testing.T) {
	seeds := []int64{1, 2}
	if s := os.Getenv("FIELDLINK_SEQ_SEED"); s != "" {
		v, _ := strconv.ParseInt(s, 10, 64)
		seeds = []int64{v}
	}
	for _, seed := range seeds {
		t.Run(strconv.FormatInt(seed, 10), func(t *testing.T) {
			w := newRadioWorld(t, seed)
			w.steps = append(w.steps, "start")
			w.settle(0, true)
			for i := 0; i < 40 && len(w.violations) == 0; i++ {
				w.step()
			}
			t.Logf("seed %d: %d steps, %d changes of path, %d VPN starts, %d daemon restarts", seed, len(w.steps)-1, w.pathChanges, w.reconnects, w.restarts)
			if len(w.violations) > 0 {
				t.Fatalf("seed %d: %s\nreplay: FIELDLINK_SEQ_SEED=%d go test ./cmd/fieldlink -run TestRadioSequencesOnTheFakeBus\n%s",
					seed, strings.Join(w.steps, "; "), seed, strings.Join(w.violations, "\n"))
			}
		})
	}
}
