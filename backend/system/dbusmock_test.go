package system

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

// dbusmockPython is a Python that has python-dbusmock (Debian's
// python3-dbusmock), or "".
func dbusmockPython() string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import dbusmock").Run() == nil {
			return py
		}
	}
	return ""
}

// startDBusMockNM runs python-dbusmock's upstream NetworkManager template
// on a private bus: NetworkManager as its maintainers' mock has it, not as
// fieldlink's fake does.
func startDBusMockNM(t *testing.T) (*fakebus.Daemon, dbus.BusObject) {
	t.Helper()
	py := dbusmockPython()
	if py == "" {
		integration.Skip(t, "python-dbusmock is not installed (apt install python3-dbusmock)")
	}
	d := fakebus.StartDaemon(t)
	cmd := exec.Command(py, "-m", "dbusmock", "--system", "--template", "networkmanager")
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+d.Address)
	logPath := filepath.Join(t.TempDir(), "dbusmock.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("python-dbusmock's log (last 4 KB):\n%s", b[max(0, len(b)-4096):])
		}
	})
	conn, err := dbus.Connect(d.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for i := 0; ; i++ {
		var has bool
		if conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.NetworkManager").Store(&has); has {
			break
		}
		if i > 200 {
			t.Fatal("python-dbusmock's NetworkManager did not appear on the bus")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d, conn.Object("org.freedesktop.NetworkManager", "/org/freedesktop/NetworkManager")
}

func mockCall(t *testing.T, o dbus.BusObject, method string, args ...any) string {
	t.Helper()
	var out string
	call := o.Call("org.freedesktop.DBus.Mock."+method, 0, args...)
	if call.Err != nil {
		t.Fatalf("dbusmock %s: %v", method, call.Err)
	}
	if len(call.Body) > 0 {
		out, _ = call.Body[0].(string)
	}
	return out
}

// TestWiFiListAndJoinOnDBusMockTemplate: the list of networks and a join
// against python-dbusmock's NetworkManager template. The template never
// asks an agent for a key (its activations succeed at once), so this
// checks what fieldlink reads and what it sends: the access points'
// names, strengths and securities as the upstream mock publishes them,
// and the scan and AddAndActivateConnection calls as that mock's
// signatures accept them, with the settings fieldlink means.
func TestWiFiListAndJoinOnDBusMockTemplate(t *testing.T) {
	d, mock := startDBusMockNM(t)
	dev := mockCall(t, mock, "AddWiFiDevice", "mock_WiFi", "wlan0", uint32(30))
	mockCall(t, mock, "AddAccessPoint", dev, "ap_home", "BT-Hub-7A2F", "00:11:22:33:44:55", uint32(2), uint32(2412), uint32(54000), byte(70), uint32(0x100))
	mockCall(t, mock, "AddAccessPoint", dev, "ap_edu", "eduroam", "00:11:22:33:44:56", uint32(2), uint32(5180), uint32(54000), byte(55), uint32(0x200))
	cafe := mockCall(t, mock, "AddAccessPoint", dev, "ap_cafe", "Cafe-Free", "00:11:22:33:44:57", uint32(2), uint32(2437), uint32(54000), byte(40), uint32(0))

	e := &env{t: t, d: d, updates: make(chan netstate.Update, 1024)}
	e.start(Options{})
	s := e.waitFor("three networks from the template", func(s *netstate.Snapshot) bool {
		l := s.Link("wlan0")
		return l != nil && len(l.WiFi.AccessPoints) == 3
	})
	want := map[string]string{"BT-Hub-7A2F": join.WPA2, "eduroam": join.Enterprise, "Cafe-Free": join.Open}
	for i, ap := range s.Link("wlan0").WiFi.AccessPoints {
		if want[ap.SSID] != ap.Security {
			t.Errorf("%s: security %q, want %q", ap.SSID, ap.Security, want[ap.SSID])
		}
		if i == 0 && (ap.SSID != "BT-Hub-7A2F" || ap.Strength != 70) {
			t.Errorf("strongest first: got %+v", ap)
		}
	}
	if err := e.src.Scan(context.Background()); err != nil {
		t.Fatalf("scan on the template: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	text, err := e.src.Join(ctx, join.Request{SSID: "Cafe-Free"})
	if err != nil || !strings.Contains(text, "Joined Cafe-Free") {
		t.Fatalf("join on the template: %q, %v", text, err)
	}
	if _, err := e.src.Join(ctx, join.Request{SSID: "BT-Hub-7A2F"}); err != nil {
		t.Fatalf("join WPA2 on the template: %v", err)
	}
	var calls []struct {
		At   uint64
		Args []dbus.Variant
	}
	if err := mock.Call("org.freedesktop.DBus.Mock.GetMethodCalls", 0, "AddAndActivateConnection").Store(&calls); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 {
		t.Fatalf("the template got %d AddAndActivateConnection calls, want 2", len(calls))
	}
	open, _ := calls[0].Args[0].Value().(map[string]map[string]dbus.Variant)
	if ssid, _ := open["802-11-wireless"]["ssid"].Value().([]byte); string(ssid) != "Cafe-Free" || calls[0].Args[1].Value() != dbus.ObjectPath(dev) ||
		calls[0].Args[2].Value() != dbus.ObjectPath(cafe) {
		t.Fatalf("open network call %v", calls[0].Args)
	}
	if _, ok := open["802-11-wireless-security"]; ok {
		t.Fatal("an open network was sent security settings")
	}
	psk, _ := calls[1].Args[0].Value().(map[string]map[string]dbus.Variant)
	if psk["802-11-wireless-security"]["key-mgmt"].Value() != "wpa-psk" || psk["802-11-wireless-security"]["psk"].Value() != nil {
		t.Fatalf("WPA2 call settings %v: want wpa-psk and no key", psk["802-11-wireless-security"])
	}
	e.waitFor("the joined network active on wlan0", func(s *netstate.Snapshot) bool {
		l := s.Link("wlan0")
		return l != nil && l.Profile != ""
	})
}
