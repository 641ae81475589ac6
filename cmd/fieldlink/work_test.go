package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
	"github.com/fieldlink/fieldlink/ui/app"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// driver runs a model the way Bubble Tea does, in the test's goroutine:
// commands run on their own goroutines and their messages come back to
// Update one at a time. Every frame drawn is kept, to search for secrets.
type driver struct {
	m      *app.Model
	msgs   chan tea.Msg
	frames []string
}

func newDriver(m *app.Model) *driver {
	d := &driver{m: m, msgs: make(chan tea.Msg, 64)}
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	d.exec(m.Init())
	return d
}

func (d *driver) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		switch msg := cmd().(type) {
		case nil:
		case tea.BatchMsg:
			for _, c := range msg {
				d.exec(c)
			}
		default:
			d.msgs <- msg
		}
	}()
}

func (d *driver) update(msg tea.Msg) {
	_, cmd := d.m.Update(msg)
	d.exec(cmd)
	d.frames = append(d.frames, d.m.Render())
}

func (d *driver) key(s string) {
	k := tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
	switch s {
	case "enter":
		k = tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		k = tea.KeyPressMsg{Code: tea.KeyEscape}
	}
	d.update(k)
}

func (d *driver) typeText(s string) {
	for _, r := range s {
		d.key(string(r))
	}
}

// until feeds messages to the model until cond holds for the screen (and
// the world), failing after timeout.
func (d *driver) until(t testing.TB, what string, timeout time.Duration, cond func(screen string) bool) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		screen := ansi.Strip(d.m.Render())
		if cond(screen) {
			return screen
		}
		select {
		case msg := <-d.msgs:
			d.update(msg)
		case <-time.After(2 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; screen:\n%s", what, screen)
		}
	}
}

type workRig struct {
	n        *fakebus.NM
	wlan, ww dbus.ObjectPath
	ap       dbus.ObjectPath
	wifiAct  dbus.ObjectPath
	dir      string
	r        *running
	d        *driver
	cancel   context.CancelFunc
}

// startWork brings up fake daemons with Wi-Fi (weak), a registered modem
// with a mobile profile (cold standby) and a VPN profile, then fieldlink's
// real wiring (lock, engine, failover, VPN keeper, journal, agent, app)
// and the TUI model, driven in the test.
func startWork(t testing.TB, extraConfig string, vpnSettings map[string]map[string]dbus.Variant) *workRig {
	t.Helper()
	d, n, m := fakeDaemons(t)
	rig := &workRig{n: n, dir: t.TempDir()}
	rig.wlan = n.AddDevice(fakebus.DeviceSpec{Interface: "wlan0", Type: fakebus.DevWiFi})
	rig.ap = n.AddAP(rig.wlan, fakebus.APSpec{SSID: "NHS-Community", Strength: 20, Frequency: 5180, RsnFlags: 0x100})
	rig.wifiAct = n.Connect(n.AddProfile(fakebus.ProfileSettings("NHS-Community", "802-11-wireless", "")), rig.wlan)
	n.Set(rig.wlan, fakebus.NMWireless, map[string]any{"ActiveAccessPoint": rig.ap})
	modem := m.AddModem(fakebus.ModemSpec{PrimaryPort: "cdc-wdm0", State: 8, Tech: fakebus.TechLTE, Quality: 80,
		Operator: "EE", OperatorCode: "23430", Registration: 1,
		Signal: map[string]map[string]float64{"lte": {"rsrp": -95, "rsrq": -9, "snr": 14}}})
	rig.ww = n.AddDevice(fakebus.DeviceSpec{Interface: "cdc-wdm0", Type: fakebus.DevModem, Udi: string(modem)})
	gsm := fakebus.ProfileSettings("EE Internet", "gsm", "")
	gsm["connection"]["autoconnect"] = dbus.MakeVariant(false)
	n.AddProfile(gsm)
	if vpnSettings != nil {
		n.AddProfile(vpnSettings)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Address)

	cfgPath := filepath.Join(rig.dir, "config.toml")
	os.WriteFile(cfgPath, []byte(extraConfig), 0o600)
	c := common{config: cfgPath, stateDir: rig.dir, noProbe: true, speed: 1}
	cfg, src, _, err := c.setup()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rig.cancel = cancel
	r, err := c.start(ctx, cfg, src, "tui")
	if err != nil {
		t.Fatal(err)
	}
	rig.r = r
	t.Cleanup(func() {
		cancel()
		r.stop()
	})
	states, unsub := r.eng.Subscribe()
	t.Cleanup(unsub)
	ao := r.appOptions(ctx, cfg, theme.New(theme.Options{}), &c)
	ao.States = states
	rig.d = newDriver(app.New(ao))
	return rig
}

// events returns the journal's events as "kind text" lines.
func (rig *workRig) journalEvents(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rig.r.rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	j, err := journal.OpenReadOnly(rig.r.journal)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rows, err := j.DB().Query(`SELECT kind, text FROM event ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var kind string
		var text sql.NullString
		rows.Scan(&kind, &text)
		b.WriteString(kind + " " + text.String + "\n")
	}
	return b.String()
}

// TestVPNAndAppFollowThePath is the "done when" on the fake bus:
// no VPN while the path is red; once it turns green the VPN comes up and
// the app starts by itself; a failover to cellular re-establishes the VPN
// over the modem; all of it journaled.
func TestVPNAndAppFollowThePath(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "app-started")
	script := filepath.Join(t.TempDir(), "clinical-app")
	os.WriteFile(script, []byte("#!/bin/sh\necho \"$CLINICAL_SITE\" > "+marker+"\nsleep 30\n"), 0o700)
	rig := startWork(t, `
[vpn]
profile = "NHS-VPN"
retry_min = "1s"

[app]
name = "Clinical records"
command = ["`+script+`", "--site", "district-north"]
launch = "on-vpn-up"
terminal = false
env = { CLINICAL_SITE = "north" }
`, fakebus.ProfileSettings("NHS-VPN", "vpn", ""))
	d := rig.d

	d.until(t, "a red path and the VPN waiting", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "DO NOT PROCEED") && strings.Contains(s, "VPN  NHS-VPN") &&
			strings.Contains(s, "STANDBY waiting for a workable path") && strings.Contains(s, "App  Clinical records") &&
			strings.Contains(s, "NOT STARTED starts when the VPN is up")
	})
	time.Sleep(1500 * time.Millisecond)
	d.until(t, "a while on red", time.Second, func(string) bool { return true })
	if p, _ := rig.n.VPNActive("NHS-VPN"); p != "" {
		t.Fatal("the VPN was started while the path was red")
	}

	rig.n.SetAPStrength(rig.ap, 72)
	t0 := time.Now()
	screen := d.until(t, "the VPN up and the app running", 10*time.Second, func(s string) bool {
		_, st := rig.n.VPNActive("NHS-VPN")
		return st == 2 && strings.Contains(s, "up 0s over Wi-Fi NHS-Community") && strings.Contains(s, "RUNNING")
	})
	t.Logf("green to VPN up and app running: %v", time.Since(t0))
	d.until(t, "the app to write its marker", 5*time.Second, func(string) bool {
		b, _ := os.ReadFile(marker)
		return strings.TrimSpace(string(b)) == "north"
	})
	if rig.n.VPNBase("NHS-VPN") != rig.wlan {
		t.Fatal("the VPN does not run over Wi-Fi")
	}
	_ = screen

	// Wi-Fi goes: NetworkManager drops the VPN with it, failover brings up
	// cellular, and the VPN comes back over the modem.
	t1 := time.Now()
	rig.n.Deactivate(rig.wifiAct)
	d.until(t, "the VPN back over cellular", 15*time.Second, func(s string) bool {
		_, st := rig.n.VPNActive("NHS-VPN")
		return st == 2 && rig.n.VPNBase("NHS-VPN") == rig.ww && strings.Contains(s, "● GO · up ") && strings.Contains(s, "over Cellular EE")
	})
	t.Logf("Wi-Fi lost to VPN up over cellular: %v", time.Since(t1))
	text := rig.journalEvents(t)
	for _, want := range []string{
		"vpn-up VPN NHS-VPN up over Wi-Fi NHS-Community",
		"app Started Clinical records (" + script + " --site district-north)",
		"vpn-down VPN NHS-VPN down after",
		"the link it ran over disconnected",
		"vpn-up VPN NHS-VPN up over Cellular EE",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("journal lacks %q:\n%s", want, text)
		}
	}
	// The app was not started twice: the VPN coming back is not a new
	// reason to start what is still running.
	if n := strings.Count(text, "app Started"); n != 1 {
		t.Errorf("app started %d times:\n%s", n, text)
	}
}

// TestVPNLoginFailureIsWorded: the server refuses the password typed at
// the prompt; the screen and the journal say so in words, and the keeper
// does not retry on its own (that would lock the account).
func TestVPNPromptAndRefusedLogin(t *testing.T) {
	const secret = "Tr0ub4dor&3-not-this-one"
	rig := startWork(t, "[vpn]\nprofile = \"NHS-VPN\"\n", fakebus.VPNProfileSettings("NHS-VPN"))
	rig.n.VPNPassword = "the-right-one"
	rig.n.SetAPStrength(rig.ap, 72)
	d := rig.d
	d.until(t, "the VPN password prompt", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "NETWORKMANAGER ASKS") && strings.Contains(s, "VPN NHS-VPN needs your log-in")
	})
	d.typeText(secret)
	d.key("enter")
	// Refused: asked again once, in words.
	d.until(t, "the one re-ask", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "The VPN server refused that password. Type it again (one more try).")
	})
	d.typeText(secret)
	d.key("enter")
	screen := d.until(t, "the refusal", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "FAILED the VPN server refused the password for NHS-VPN")
	})
	calls := len(rig.n.CallsTo("org.freedesktop.NetworkManager.ActivateConnection"))
	time.Sleep(1500 * time.Millisecond)
	d.until(t, "a while", time.Second, func(string) bool { return true })
	if again := len(rig.n.CallsTo("org.freedesktop.NetworkManager.ActivateConnection")); again != calls {
		t.Fatalf("a refused login was retried on its own (%d activations, then %d)", calls, again)
	}
	g := rig.n.Given()
	if len(g) != 2 {
		t.Fatalf("NetworkManager was given %d answers, want 2 (the log-in and one re-ask)", len(g))
	}
	if sec, _ := g[0].Secrets["vpn"]["secrets"].Value().(map[string]string); sec["password"] != secret {
		t.Fatalf("NetworkManager got %v", g[0].Secrets)
	}
	text := rig.journalEvents(t)
	if !strings.Contains(text, "prompt NetworkManager asks for the password for VPN NHS-VPN") ||
		!strings.Contains(text, "vpn-down VPN NHS-VPN failed: the VPN server refused the password for NHS-VPN") {
		t.Fatalf("journal:\n%s", text)
	}
	for _, f := range append(d.frames, text, screen) {
		if strings.Contains(f, secret) {
			t.Fatalf("the secret reached a frame or the journal:\n%s", f)
		}
	}
	// c tries again, and asks again.
	d.key("c")
	d.until(t, "a second prompt", 10*time.Second, func(s string) bool { return strings.Contains(s, "NETWORKMANAGER ASKS") })
	d.typeText("the-right-one")
	d.key("enter")
	d.until(t, "the VPN up", 10*time.Second, func(s string) bool { return strings.Contains(s, "VPN  NHS-VPN            ● GO · up ") })
}

// TestWiFiKeyPromptInTheTUI: NetworkManager needs the Wi-Fi key; the TUI
// asks for it masked, NetworkManager gets it, the Wi-Fi comes up. Then a
// second time the user cancels, and NetworkManager is told.
func TestWiFiKeyPromptInTheTUI(t *testing.T) {
	const secret = "Wh1te-Van-Man-2026"
	rig := startWork(t, "", nil)
	d := rig.d
	if a := rig.n.Agents(); len(a) != 1 {
		d.until(t, "the agent registered", 5*time.Second, func(string) bool { return len(rig.n.Agents()) == 1 })
	}
	prof := rig.n.AddProfile(fakebus.WiFiProfileSettings("Clinic Guest", "Clinic Guest"))
	go rig.n.Activate(prof, rig.wlan)
	d.until(t, "the key prompt", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "Wi-Fi network Clinic Guest needs its key") && strings.Contains(s, "Wi-Fi key")
	})
	d.typeText(secret)
	screen := ansi.Strip(d.m.Render())
	if !strings.Contains(screen, strings.Repeat("•", len(secret))+"_") {
		t.Fatalf("the key is not masked:\n%s", screen)
	}
	d.key("enter")
	d.until(t, "the key given", 5*time.Second, func(s string) bool {
		g := rig.n.Given()
		return len(g) == 1 && !strings.Contains(s, "NETWORKMANAGER ASKS")
	})
	if got := rig.n.Given()[0].Secrets["802-11-wireless-security"]["psk"].Value(); got != secret {
		t.Fatalf("NetworkManager got %v (%+v)", got, rig.n.Given())
	}
	d.until(t, "Wi-Fi connected with the new profile", 5*time.Second, func(s string) bool {
		act := rig.n.ActiveOn(rig.wlan)
		id, _ := rig.n.Prop(act, fakebus.NMActive, "Id")
		st, _ := rig.n.Prop(act, fakebus.NMActive, "State")
		return id == "Clinic Guest" && st == uint32(2)
	})

	// Cancelled: NetworkManager hears so and the activation fails.
	prof2 := rig.n.AddProfile(fakebus.WiFiProfileSettings("Cafe", "Cafe"))
	go rig.n.Activate(prof2, rig.wlan)
	d.until(t, "the second prompt", 5*time.Second, func(s string) bool { return strings.Contains(s, "Wi-Fi network Cafe needs its key") })
	d.typeText("half-typed")
	d.key("esc")
	d.until(t, "the prompt gone", 5*time.Second, func(s string) bool {
		return !strings.Contains(s, "NETWORKMANAGER ASKS") && strings.Contains(s, "Cancelled: NetworkManager was told.")
	})
	text := rig.journalEvents(t)
	for _, want := range []string{"credential Gave NetworkManager the Wi-Fi key for Wi-Fi network Clinic Guest",
		"credential Prompt for Wi-Fi network Cafe cancelled"} {
		if !strings.Contains(text, want) {
			t.Errorf("journal lacks %q:\n%s", want, text)
		}
	}
	for _, f := range append(d.frames, text) {
		if strings.Contains(f, secret) || strings.Contains(f, "half-typed") {
			t.Fatalf("a secret reached a frame or the journal:\n%s", f)
		}
	}
}

// TestClientSeesWorkAndActsThroughTheHolder: a second fieldlink of an
// account that may act (here the same account) is a client: it shows the
// holder's VPN state and decisions, registers no secret agent and keeps no
// journal, and its v, r and c are carried out by the holder (finding:
// observers could not mark visits). Accounts that may only watch are
// refused by the holder: TestOneBrainAcrossAccounts.
func TestClientSeesWorkAndActsThroughTheHolder(t *testing.T) {
	conf := "[vpn]\nprofile = \"NHS-VPN\"\nauto = false\n"
	rig := startWork(t, conf, fakebus.ProfileSettings("NHS-VPN", "vpn", ""))
	rig.n.SetAPStrength(rig.ap, 72)
	rig.d.until(t, "the holder waiting for c", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "VPN  NHS-VPN") && strings.Contains(s, "STANDBY c to connect")
	})
	oc := common{config: filepath.Join(rig.dir, "config.toml"), stateDir: rig.dir, noProbe: true, speed: 1}
	cfg, src, _, err := oc.setup()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	or, err := oc.start(ctx, cfg, src, "tui")
	if err != nil {
		t.Fatal(err)
	}
	defer or.stop()
	if or.role.String() != "observer" || or.agent != nil || or.rec != nil {
		t.Fatalf("second instance: role %s, agent %v, journal %v", or.role, or.agent != nil, or.rec != nil)
	}
	states, unsub := or.eng.Subscribe()
	defer unsub()
	ao := or.appOptions(ctx, cfg, theme.New(theme.Options{}), &oc)
	ao.States = states
	od := newDriver(app.New(ao))
	od.until(t, "the holder's VPN state on the client", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "OBSERVER") && strings.Contains(s, "in charge: fieldlink pid") &&
			strings.Contains(s, "VPN  NHS-VPN") && strings.Contains(s, "STANDBY") && !strings.Contains(s, "read-only")
	})
	if a := rig.n.Agents(); len(a) != 1 {
		t.Fatalf("agents %v: the client registered one too", a)
	}
	// A visit marked on the client is journaled by the holder, and both
	// screens show it open.
	od.key("v")
	od.until(t, "the visit started, on the client", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "Visit started") && strings.Contains(s, "VISIT 0m")
	})
	rig.d.until(t, "the visit open on the holder", 5*time.Second, func(s string) bool { return strings.Contains(s, "VISIT 0m") })
	if !rig.r.rec.VisitOpen() {
		t.Fatal("the holder's journal has no open visit")
	}
	// The client reads the holder's journal through it: recent sessions.
	od.key("r")
	od.until(t, "the holder's recent sessions", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "RECENT SESSIONS") && strings.Contains(s, "Wi-Fi    NHS-Community") && strings.Contains(s, "in progress")
	})
	od.key("r")
	od.key("c")
	od.until(t, "the holder's VPN up, on the client", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "● GO · up ") && strings.Contains(s, "[in charge] VPN NHS-VPN up over Wi-Fi")
	})
	if _, st := rig.n.VPNActive("NHS-VPN"); st != 2 {
		t.Fatal("the VPN is not up")
	}
	// Visit marks from one account are spaced a second apart.
	time.Sleep(1100 * time.Millisecond)
	od.key("v")
	od.until(t, "the visit ended", 5*time.Second, func(s string) bool {
		return strings.Contains(s, "Visit ended after") && !strings.Contains(s, "VISIT 0m")
	})
}

// BenchmarkVPNFollowsThePath measures, on the fake bus through the real
// wiring, how long the VPN takes to be asked for once the path turns
// green, and to be asked for again over cellular once Wi-Fi is lost
// (NetworkManager drops the VPN with it; failover brings cellular up
// first), and until it is up there. The fake daemons answer activations
// in 50 ms.
func BenchmarkVPNFollowsThePath(b *testing.B) {
	var green, again, up time.Duration
	for i := 0; i < b.N; i++ {
		rig := startWork(b, "[vpn]\nprofile = \"NHS-VPN\"\n", fakebus.ProfileSettings("NHS-VPN", "vpn", ""))
		rig.d.until(b, "a first picture", 5*time.Second, func(s string) bool { return strings.Contains(s, "DO NOT PROCEED") })
		vpnActivations := func() int {
			n := 0
			for _, c := range rig.n.CallsTo("org.freedesktop.NetworkManager.ActivateConnection") {
				if p, ok := c.Args[0].(dbus.ObjectPath); ok {
					if id, _ := rig.n.ProfileByPath(p); id == "NHS-VPN" {
						n++
					}
				}
			}
			return n
		}
		t0 := time.Now()
		rig.n.SetAPStrength(rig.ap, 72)
		rig.d.until(b, "the VPN asked for", 5*time.Second, func(string) bool { return vpnActivations() == 1 })
		green += time.Since(t0)
		rig.d.until(b, "the VPN up", 5*time.Second, func(string) bool { _, st := rig.n.VPNActive("NHS-VPN"); return st == 2 })
		t1 := time.Now()
		rig.n.Deactivate(rig.wifiAct)
		rig.d.until(b, "the VPN asked for over cellular", 10*time.Second, func(string) bool { return vpnActivations() == 2 })
		again += time.Since(t1)
		rig.d.until(b, "the VPN up over cellular", 10*time.Second, func(string) bool {
			_, st := rig.n.VPNActive("NHS-VPN")
			return st == 2 && rig.n.VPNBase("NHS-VPN") == rig.ww
		})
		up += time.Since(t1)
		rig.cancel()
	}
	b.ReportMetric(float64(green.Milliseconds())/float64(b.N), "ms-green-to-vpn-request")
	b.ReportMetric(float64(again.Milliseconds())/float64(b.N), "ms-wifi-lost-to-vpn-request")
	b.ReportMetric(float64(up.Milliseconds())/float64(b.N), "ms-wifi-lost-to-vpn-up")
}
