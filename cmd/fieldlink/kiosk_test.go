package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/fakebus"
	"github.com/fieldlink/fieldlink/backend/integration"
)

// TestKioskOnTheConsole runs the real binary as the kiosk would on tty1
// (TERM=linux, a pseudo-terminal of 80x24): ASCII shapes, the quit keys
// do nothing, and only the admin sequence from a root-owned config ends
// it.
func TestKioskOnTheConsole(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("[kiosk]\nadmin_keys = [\"ctrl+x\", \"ctrl+x\", \"q\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startOnPTYEnv(t, dir, "(O) GO", []string{"TERM=linux", "LANG=C.UTF-8"}, "--kiosk", "--demo", "--config", cfg)
	p.waitFirstFrame(t)
	if strings.Contains(p.screen(), "●") {
		t.Fatal("Unicode shapes on the Linux console")
	}
	for _, k := range []string{"q", "\x03", "\x1b", "\x1a"} { // q, ctrl+c, esc, ctrl+z
		p.master.Write([]byte(k))
		time.Sleep(150 * time.Millisecond)
	}
	p.waitFor(t, "This is a kiosk: fieldlink stays on screen.")
	if p.exited() {
		t.Fatal("the kiosk quit on q or ctrl+c")
	}
	if os.Geteuid() != 0 {
		// A config this user could edit may not hold the way out.
		p.waitFor(t, "kiosk admin keys ignored")
		return
	}
	p.master.Write([]byte("\x18\x18q")) // ctrl+x ctrl+x q
	deadline := time.Now().Add(5 * time.Second)
	for !p.exited() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !p.exited() {
		t.Fatal("the admin sequence did not end the kiosk")
	}
}

// TestKioskAdminKeysNeedARootOwnedConfig: a config others can write may
// not set the way out of the kiosk.
func TestKioskAdminKeysNeedARootOwnedConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte("[kiosk]\nadmin_keys = [\"ctrl+x\", \"q\"]\n"), 0o666)
	os.Chmod(cfg, 0o666)
	p := startOnPTYEnv(t, dir, "GO", []string{"TERM=linux", "LANG=C.UTF-8"}, "--kiosk", "--demo", "--config", cfg)
	p.waitFirstFrame(t)
	p.waitFor(t, "kiosk admin keys ignored")
	p.master.Write([]byte("\x18q"))
	time.Sleep(500 * time.Millisecond)
	if p.exited() {
		t.Fatal("admin keys from a world-writable config ended the kiosk")
	}
}

// TestKioskWaitsForTheBusAndNetworkManager: at boot the kiosk may start
// before the system bus: it says so on the console and waits, then shows
// NetworkManager as not running until it comes, and picks it up.
func TestKioskWaitsForTheBusAndNetworkManager(t *testing.T) {
	integration.NeedCommands(t, "dbus-daemon")
	dir := t.TempDir()
	addr := "unix:path=" + filepath.Join(dir, "system_bus_socket")
	p := startOnPTYEnv(t, dir, "waiting for the system bus", []string{"TERM=linux", "LANG=C.UTF-8", "DBUS_SYSTEM_BUS_ADDRESS=" + addr}, "--kiosk")
	p.waitFirstFrame(t)
	time.Sleep(300 * time.Millisecond)
	if p.exited() {
		t.Fatal("the kiosk gave up without a system bus")
	}
	d, err := fakebus.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	p.waitFor(t, "NetworkManager is not running")
	n, err := fakebus.NewNM(d.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	wlan := n.AddDevice(fakebus.DeviceSpec{Interface: "wlan0", Type: fakebus.DevWiFi})
	n.AddAP(wlan, fakebus.APSpec{SSID: "NHS-Community", Strength: 72, Frequency: 5180, RsnFlags: 0x100})
	p.waitFor(t, "NetworkManager is running")
	p.waitFor(t, "Wi-Fi wlan0 appeared")
	if p.exited() {
		t.Fatal("the kiosk ended")
	}
}
