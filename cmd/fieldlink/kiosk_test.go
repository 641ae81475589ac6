package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
	"github.com/fieldlink/fieldlink/backend/testbed/integration"
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
		// A config this user could edit may not hold the way out (the
		// warning wraps where its path's length puts it).
		p.waitFor(t, "are ignored")
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
	// Status 3: the unit's SuccessExitStatus, so tty1 gets a login prompt
	// rather than the kiosk again.
	if code := p.cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("admin exit status %d, want 3", code)
	}
}

// TestKioskAdminKeysNeedARootOwnedConfig: a config others can write may
// not set the way out of the kiosk.
func TestKioskAdminKeysNeedARootOwnedConfig(t *testing.T) {
	// The warning names the file and wraps at 80 columns: a path of one
	// length wraps it the same way every run (t.TempDir's varies).
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("flkiosk%09d", rand.Int31n(1e9)))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte("[kiosk]\nadmin_keys = [\"ctrl+x\", \"q\"]\n"), 0o666)
	os.Chmod(cfg, 0o666)
	p := startOnPTYEnv(t, dir, "GO", []string{"TERM=linux", "LANG=C.UTF-8"}, "--kiosk", "--demo", "--config", cfg)
	p.waitFirstFrame(t)
	// Wrapped: "... admin_keys, [technician] and [sync]" / "are ignored, ...".
	p.waitFor(t, "its [app], [kiosk] admin_keys, [technician] and [sync]")
	p.waitFor(t, "are ignored, and their defaults used")
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

// TestKioskHoldsWhileWaitingForTheBus: before the system bus is up, the
// kiosk already holds the terminal: ctrl+c, ctrl+z and ctrl+\ change
// nothing (finding: they killed it, stopped it, dumped goroutines).
func TestKioskHoldsWhileWaitingForTheBus(t *testing.T) {
	integration.NeedCommands(t, "dbus-daemon")
	dir := t.TempDir()
	addr := "unix:path=" + filepath.Join(dir, "system_bus_socket")
	p := startOnPTYEnv(t, dir, "waiting for the system bus", []string{"TERM=linux", "LANG=C.UTF-8", "DBUS_SYSTEM_BUS_ADDRESS=" + addr}, "--kiosk")
	p.waitFirstFrame(t)
	for _, k := range []string{"\x03", "\x1a", "\x1c", "q"} { // ctrl+c, ctrl+z, ctrl+\, q
		p.master.Write([]byte(k))
		time.Sleep(200 * time.Millisecond)
		if p.exited() {
			t.Fatalf("the kiosk ended on %q while waiting for the bus: %q", k, p.screen())
		}
		if state := procState(p.cmd.Process.Pid); state == "T" {
			t.Fatalf("the kiosk was stopped by %q while waiting for the bus", k)
		}
	}
	if strings.Contains(p.screen(), "goroutine ") {
		t.Fatalf("a goroutine dump reached the console: %q", p.screen())
	}
	d, err := fakebus.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	p.waitFor(t, "NetworkManager is not running")
	if p.exited() {
		t.Fatal("the kiosk ended")
	}
}

// procState is a process's state letter from /proc (T: stopped).
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// TestKioskKeepsRunningOnABrokenConfig: a config mistake is shown on the
// kiosk's screen with its file and line, and the kiosk runs on the
// defaults (finding: it exited 1 at once and left tty1 blank).
func TestKioskKeepsRunningOnABrokenConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte("[vpn]\nprofile = \"NHS-VPN\"\n[probe\ntimeout = \"1s\"\n"), 0o644)
	p := startOnPTYEnv(t, dir, "GO", []string{"TERM=linux", "LANG=C.UTF-8"}, "--kiosk", "--demo", "--config", cfg)
	p.waitFirstFrame(t)
	p.waitFor(t, "config.toml:3")
	p.waitFor(t, "built-in defaults")
	time.Sleep(300 * time.Millisecond)
	if p.exited() {
		t.Fatalf("the kiosk ended on a broken config: %q", p.screen())
	}
}

// TestSignalsRestoreTheTerminal: SIGHUP, SIGQUIT and SIGTERM end the TUI
// and the kiosk with the terminal as it was, and no goroutine dump
// (finding: kill -QUIT dumped onto the console and left it raw; so did
// SIGHUP).
func TestSignalsRestoreTheTerminal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGTERM} {
		for _, kiosk := range []bool{false, true} {
			name := sig.String()
			args := []string{"--demo"}
			if kiosk {
				name += "/kiosk"
				args = append(args, "--kiosk")
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				p := startOnPTYWith(t, ptyOptions{state: dir, want: "GO", env: []string{"TERM=linux", "LANG=C.UTF-8"}, keepSlave: true}, args...)
				p.waitFirstFrame(t)
				raw, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
				if err != nil {
					t.Fatal(err)
				}
				if raw.Lflag&unix.ICANON != 0 {
					t.Fatal("the terminal is not in raw mode while fieldlink runs")
				}
				p.cmd.Process.Signal(sig)
				select {
				case <-p.done:
				case <-time.After(5 * time.Second):
					t.Fatalf("%v did not end fieldlink", sig)
				}
				tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
				if err != nil {
					t.Fatal(err)
				}
				if tio.Lflag&unix.ICANON == 0 || tio.Lflag&unix.ECHO == 0 || tio.Lflag&unix.ISIG == 0 {
					t.Fatalf("after %v the terminal was left raw (lflag %#x)", sig, tio.Lflag)
				}
				if strings.Contains(p.screen(), "goroutine ") {
					t.Fatalf("a goroutine dump reached the terminal")
				}
			})
		}
	}
}

// TestUntrustedConfigRunsNoProgram: a config others can write may not
// start a program from the kiosk (finding: a 0666 config's
// [app] command ran as root). The kiosk says why and runs the rest.
func TestUntrustedConfigRunsNoProgram(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	marker := filepath.Join(dir, "owned")
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte(`[app]
command = ["/bin/sh", "-c", "id > `+marker+`"]
launch = "on-vpn-up"
terminal = false
`), 0o644)
	os.Chmod(cfg, 0o666)
	p := startOnPTYEnv(t, dir, "GO", []string{"TERM=linux", "LANG=C.UTF-8"}, "--kiosk", "--demo", "--config", cfg)
	p.waitFirstFrame(t)
	p.waitFor(t, "writable by others (mode 0666)")
	// The demo's VPN is up within 3 s: on-vpn-up would have started it.
	p.waitFor(t, "| up ")
	time.Sleep(time.Second)
	if _, err := os.Stat(marker); err == nil {
		b, _ := os.ReadFile(marker)
		t.Fatalf("the untrusted config's program ran: %s", b)
	}
	out, _, code := runCLI(t, "config", "check", cfg)
	if !strings.Contains(out, "trust: REFUSED in part as root and in the kiosk") {
		t.Fatalf("config check (exit %d) does not say it is refused:\n%s", code, out)
	}
}
