package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/system"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
	"github.com/fieldlink/fieldlink/ui/app"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// TestTUIOnFakeBus: the real source on fake NetworkManager and
// ModemManager daemons, through the engine, drawn by the TUI: Wi-Fi access
// points with strength bars, a modem with operator, technology and
// RSRP/SINR.
func TestTUIOnFakeBus(t *testing.T) {
	d, n, m := fakeDaemons(t)
	wlan := n.AddDevice(fakebus.DeviceSpec{Interface: "wlan0", Type: fakebus.DevWiFi})
	ap := n.AddAP(wlan, fakebus.APSpec{SSID: "NHS-Community", Strength: 72, Frequency: 5180, RsnFlags: 0x100})
	n.AddAP(wlan, fakebus.APSpec{SSID: "BT-Hub-7A2F", Strength: 45, Frequency: 2412, RsnFlags: 0x100})
	n.Connect(n.AddProfile(fakebus.ProfileSettings("NHS-Community", "802-11-wireless", "")), wlan)
	n.Set(wlan, fakebus.NMWireless, map[string]any{"ActiveAccessPoint": ap})
	modem := m.AddModem(fakebus.ModemSpec{PrimaryPort: "cdc-wdm0", State: 8, Tech: fakebus.TechLTE, Quality: 80,
		Operator: "EE", OperatorCode: "23430", Registration: 1,
		Signal: map[string]map[string]float64{"lte": {"rsrp": -95, "rsrq": -9, "snr": 14}}})
	n.AddDevice(fakebus.DeviceSpec{Interface: "cdc-wdm0", Type: fakebus.DevModem, Udi: string(modem)})

	src, err := system.New(system.Options{Address: d.Address})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(src, engine.Options{Thresholds: netstate.DefaultThresholds()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	states, stop := eng.Subscribe()
	defer stop()

	model := app.New(app.Options{Theme: theme.New(theme.Options{}), Thresholds: netstate.DefaultThresholds(), Location: time.UTC})
	model.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	deadline := time.After(5 * time.Second)
	var screen string
	for {
		select {
		case st := <-states:
			model.Update(app.StateMsg(st))
			screen = ansi.Strip(model.Render())
			if strings.Contains(screen, "RSRP -95 SINR 14") && strings.Contains(screen, "NHS-Community") {
				goto drawn
			}
		case <-deadline:
			t.Fatalf("the TUI never showed both links:\n%s", screen)
		}
	}
drawn:
	for _, want := range []string{"● GO", "Wi-Fi NHS-Community 72% via wlan0", "▂▄▆· 72%", "Cellular", "EE 4G", "▂▄▆█ -95 dBm", "RSRP -95 SINR 14"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "DEMO") {
		t.Error("real data marked DEMO")
	}
	// The Wi-Fi detail lists the visible networks with bars.
	model.Update(tea.KeyPressMsg{Code: tea.KeyEnter}) // Wi-Fi is listed first
	detail := ansi.Strip(model.Render())
	for _, want := range []string{"Visible networks (2)", "▂▄▆·  72% NHS-Community wpa2-psk 5 GHz", "▂▄··  45% BT-Hub-7A2F"} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, detail)
		}
	}
}

func TestAPNCreatesProfileForSIM(t *testing.T) {
	d, n, m := fakeDaemons(t)
	modem := m.AddModem(fakebus.ModemSpec{PrimaryPort: "cdc-wdm0", State: 8, Tech: fakebus.TechLTE,
		Operator: "EE", OperatorCode: "23430", Registration: 1, SimCode: "23430", SimOperator: "EE"})
	n.AddDevice(fakebus.DeviceSpec{Interface: "cdc-wdm0", Type: fakebus.DevModem, Udi: string(modem)})
	providers := t.TempDir() + "/serviceproviders.xml"
	os.WriteFile(providers, []byte(`<serviceproviders><country code="gb"><provider><name>EE</name><gsm>
<network-id mcc="234" mnc="30"/><apn value="everywhere"><usage type="internet"/><name>EE Internet</name>
<username>eesecure</username><password>secure</password></apn></gsm></provider></country></serviceproviders>`), 0o600)
	cfg := t.TempDir() + "/config.toml"
	os.WriteFile(cfg, []byte("[cellular]\nproviders = \""+providers+"\"\n"), 0o600)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Address)

	out, stderr, code := runCLI(t, "apn", "--config", cfg)
	if code != 0 || !strings.Contains(out, "modem cdc-wdm0: SIM EE 234-30") || !strings.Contains(out, "* APN everywhere") ||
		!strings.Contains(out, "no mobile data profile") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if len(n.Profiles()) != 0 {
		t.Fatal("created a profile without --create")
	}
	out, stderr, code = runCLI(t, "apn", "--config", cfg, "--create")
	if code != 0 || !strings.Contains(out, `created profile "EE (fieldlink)" with APN everywhere`) {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if strings.Contains(out, "secure") && !strings.Contains(out, "eesecure") || strings.Contains(out, "password") {
		t.Fatalf("the APN password reached the screen:\n%s", out)
	}
	ps := n.Profiles()
	if len(ps) != 1 || ps[0].ID() != "EE (fieldlink)" {
		t.Fatalf("profiles %+v", ps)
	}
	if ps[0].Settings["gsm"]["apn"].Value() != "everywhere" || ps[0].Settings["gsm"]["password"].Value() != "secure" {
		t.Fatalf("gsm settings %+v", ps[0].Settings["gsm"])
	}
	out, _, code = runCLI(t, "apn", "--config", cfg)
	if code != 0 || !strings.Contains(out, `mobile data profile: "EE (fieldlink)" (APN everywhere)`) {
		t.Fatalf("after create: %d\n%s", code, out)
	}
	_, stderr, code = runCLI(t, "apn", "--config", cfg, "--modem", "nope")
	if code != 1 || !strings.Contains(stderr, "no modem nope") {
		t.Fatalf("unknown modem: %d %q", code, stderr)
	}
}

// fakeDaemons starts a private bus with fake NetworkManager and
// ModemManager on it.
func fakeDaemons(t testing.TB) (*fakebus.Daemon, *fakebus.NM, *fakebus.MM) {
	t.Helper()
	d := fakebus.StartDaemon(t)
	n, err := fakebus.NewNM(d.Address)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fakebus.NewMM(d.Address)
	if err != nil {
		t.Fatal(err)
	}
	return d, n, m
}
