// Package realmm runs the real ModemManager for tests, on a private system
// bus, driving a simulated AT modem (testbed/atmodem) through its own
// generic plugin (../shared/recipes/real-modemmanager.md): without udev,
// ModemManager finds the modem's port from a fake USB tree in sysfs that
// only its own mount namespace sees, and asks polkit (a fake that allows
// everything) before each privileged call.
package realmm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/testbed/atmodem"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

// Options shape the harness.
type Options struct {
	// BusAddress runs ModemManager on an existing bus (a real
	// NetworkManager's harness, so that NetworkManager sees the modem);
	// empty: a bus of its own.
	BusAddress string
	// Network is the modem's first network (default atmodem.DefaultNetwork).
	Network *atmodem.Network
	// Plugins limits ModemManager's plugins (default: generic only, which
	// probes in seconds rather than trying eight vendors' first).
	Plugins []string
}

// Harness is ModemManager with one simulated modem.
type Harness struct {
	Dir        string
	BusAddress string
	Modem      *atmodem.Modem
	NS         string // ModemManager's network namespace

	opt    Options
	bus    *fakebus.Daemon
	polkit *fakebus.Service
	mm     *exec.Cmd
	mmLogs int
}

// Start brings ModemManager up with the modem plugged in and listed; it is
// torn down at cleanup. Without root or ModemManager the test skips loudly
// (fails in CI).
func Start(tb testing.TB, opt Options) *Harness {
	tb.Helper()
	integration.NeedRoot(tb)
	integration.NeedCommands(tb, "ModemManager", "mmcli", "ip", "unshare", "dbus-daemon")
	dir, err := os.MkdirTemp("/tmp", "flmm")
	if err != nil {
		tb.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	h := &Harness{Dir: dir, opt: opt, NS: "fl-mm-" + filepath.Base(dir)[4:]}
	tb.Cleanup(h.Stop)
	if err := h.start(tb); err != nil {
		var ml []string
		if h.Modem != nil {
			ml = h.Modem.Log()
		}
		tb.Fatalf("real ModemManager harness: %v\n%s\nmodem:\n%s", err, tail(h.MMLog(), 30), tail(strings.Join(ml, "\n"), 20))
	}
	return h
}

func (h *Harness) start(tb testing.TB) error {
	h.BusAddress = h.opt.BusAddress
	if h.BusAddress == "" {
		os.MkdirAll(filepath.Join(h.Dir, "bus"), 0o755)
		d, err := fakebus.Start(filepath.Join(h.Dir, "bus"))
		if err != nil {
			return err
		}
		h.bus, h.BusAddress = d, d.Address
	}
	if err := h.startPolkit(); err != nil {
		return err
	}
	n := atmodem.DefaultNetwork()
	if h.opt.Network != nil {
		n = *h.opt.Network
	}
	m, err := atmodem.Start(n)
	if err != nil {
		return err
	}
	h.Modem = m
	if err := h.writeSysfs(); err != nil {
		return err
	}
	if out, err := exec.Command("ip", "netns", "add", h.NS).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add: %v: %s", err, out)
	}
	if err := h.StartMM(); err != nil {
		return err
	}
	return h.Plug()
}

// startPolkit answers ModemManager's authorization checks with yes.
func (h *Harness) startPolkit() error {
	const name, path = "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority"
	s, err := fakebus.NewService(h.BusAddress, name, path)
	if err != nil {
		return err
	}
	s.Add(path, map[string]map[string]any{"org.freedesktop.PolicyKit1.Authority": {
		"BackendName": "fieldlink-test", "BackendVersion": "1", "BackendFeatures": uint32(0)}})
	type result struct {
		Authorized, Challenge bool
		Details               map[string]string
	}
	s.Handle("org.freedesktop.PolicyKit1.Authority.CheckAuthorization", func(fakebus.Call) ([]any, error) {
		return []any{result{Authorized: true, Details: map[string]string{}}}, nil
	})
	h.polkit = s
	return nil
}

// sysfs is the fake USB modem's tree: a physical device 9-1 (1234:5678,
// a vendor no plugin claims), its interface 9-1:1.0 bound to "option"
// (ModemManager's STRICT filter allows a tty of that driver), and the
// tty port under it.
func (h *Harness) sysfsTTY() string {
	return filepath.Join(h.Dir, "sys", "devices", "usb9", "9-1", "9-1:1.0", "ttyUSB0", "tty", fmt.Sprintf("pts%d", h.Modem.PTS))
}

func (h *Harness) writeSysfs() error {
	s := filepath.Join(h.Dir, "sys")
	p := filepath.Join(s, "devices", "usb9", "9-1")
	i := filepath.Join(p, "9-1:1.0")
	t := h.sysfsTTY()
	for _, d := range []string{filepath.Join(s, "bus", "usb", "drivers", "option"), filepath.Join(s, "class", "tty"), t} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	files := map[string]string{
		filepath.Join(p, "idVendor"): "1234", filepath.Join(p, "idProduct"): "5678", filepath.Join(p, "bcdDevice"): "0100",
		filepath.Join(p, "manufacturer"): "FieldLink Sim Inc.", filepath.Join(p, "product"): "SIM-LTE-1",
		filepath.Join(i, "bInterfaceClass"): "ff", filepath.Join(i, "bInterfaceSubClass"): "ff",
		filepath.Join(i, "bInterfaceProtocol"): "ff", filepath.Join(i, "bInterfaceNumber"): "00",
	}
	for f, v := range files {
		if err := os.WriteFile(f, []byte(v+"\n"), 0o644); err != nil {
			return err
		}
	}
	links := map[string]string{
		filepath.Join(p, "subsystem"): filepath.Join(s, "bus", "usb"),
		filepath.Join(i, "subsystem"): filepath.Join(s, "bus", "usb"),
		filepath.Join(i, "driver"):    filepath.Join(s, "bus", "usb", "drivers", "option"),
		// The rules compare SUBSYSTEM with the first subsystem link found
		// walking up: without this one the port is "not candidate".
		filepath.Join(t, "subsystem"): filepath.Join(s, "class", "tty"),
		filepath.Join(t, "device"):    i,
	}
	for l, target := range links {
		if err := os.Symlink(target, l); err != nil {
			return err
		}
	}
	return nil
}

// StartMM starts ModemManager in its namespaces (again, after StopMM).
func (h *Harness) StartMM() error {
	plugins := filepath.Join(h.Dir, "plugins")
	os.MkdirAll(plugins, 0o755)
	names := h.opt.Plugins
	if len(names) == 0 {
		names = []string{"generic"}
	}
	libs, _ := filepath.Glob("/usr/lib/*/ModemManager/libmm-plugin-generic.so")
	if len(libs) == 0 {
		return fmt.Errorf("ModemManager's generic plugin is not installed")
	}
	for _, n := range names {
		lib := filepath.Join(filepath.Dir(libs[0]), "libmm-plugin-"+n+".so")
		os.Remove(filepath.Join(plugins, filepath.Base(lib)))
		if err := os.Symlink(lib, filepath.Join(plugins, filepath.Base(lib))); err != nil {
			return err
		}
	}
	shared, _ := filepath.Glob(filepath.Join(filepath.Dir(libs[0]), "libmm-shared-*.so"))
	for _, lib := range shared {
		os.Symlink(lib, filepath.Join(plugins, filepath.Base(lib)))
	}
	script := fmt.Sprintf(`#!/bin/sh
set -e
mount -t tmpfs tmpfs /sys/class/tty
mkdir -p /sys/class/tty/pts
ln -s %s /sys/class/tty/pts/%d
exec /usr/sbin/ModemManager --test-no-udev --no-auto-scan --test-plugin-dir=%s --debug --log-level=DEBUG --log-timestamps
`, h.sysfsTTY(), h.Modem.PTS, plugins)
	sh := filepath.Join(h.Dir, "mm.sh")
	if err := os.WriteFile(sh, []byte(script), 0o755); err != nil {
		return err
	}
	h.mmLogs++
	log, err := os.Create(filepath.Join(h.Dir, fmt.Sprintf("mm%d.log", h.mmLogs)))
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", h.NS, "unshare", "-m", sh)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+h.BusAddress)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	log.Close()
	h.mm = cmd
	// This run's log, not an earlier one's: it has its bus name when it
	// says so.
	this := filepath.Join(h.Dir, fmt.Sprintf("mm%d.log", h.mmLogs))
	return waitFor(20*time.Second, func() bool {
		b, _ := os.ReadFile(this)
		return bytes.Contains(b, []byte("was acquired"))
	})
}

// StopMM stops ModemManager (sig: SIGTERM asks it to, SIGKILL is a crash).
func (h *Harness) StopMM(sig os.Signal) {
	if h.mm == nil {
		return
	}
	h.mm.Process.Signal(sig)
	done := make(chan struct{})
	go func() { h.mm.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		h.mm.Process.Kill()
		<-done
	}
	h.mm = nil
}

// Plug reports the modem's port to ModemManager, as udev would, and waits
// until the modem is listed.
func (h *Harness) Plug() error {
	if _, err := h.Mmcli(fmt.Sprintf("--report-kernel-event=action=add,name=pts/%d,subsystem=tty", h.Modem.PTS)); err != nil {
		return err
	}
	return waitFor(60*time.Second, func() bool {
		out, _ := h.Mmcli("-L")
		return strings.Contains(out, "/Modem/")
	})
}

// Unplug takes the modem away: the kernel's remove event, and its port
// gone.
func (h *Harness) Unplug() error {
	_, err := h.Mmcli(fmt.Sprintf("--report-kernel-event=action=remove,name=pts/%d,subsystem=tty", h.Modem.PTS))
	h.Modem.Close()
	return err
}

// Mmcli runs mmcli on the harness's bus.
func (h *Harness) Mmcli(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mmcli", args...)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+h.BusAddress)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("mmcli %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// Modem returns `mmcli -m any -K`, key by key ("modem.3gpp.operator-name").
func (h *Harness) Keys() map[string]string {
	out, _ := h.Mmcli("-m", "any", "-K")
	keys := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			keys[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return keys
}

// WaitKey waits until mmcli shows key as want.
func (h *Harness) WaitKey(key, want string, within time.Duration) error {
	err := waitFor(within, func() bool { return h.Keys()[key] == want })
	if err != nil {
		return fmt.Errorf("%s is %q, not %q, after %v", key, h.Keys()[key], want, within)
	}
	return nil
}

// MMLog is ModemManager's log, every run of it.
func (h *Harness) MMLog() string {
	var b strings.Builder
	for i := 1; i <= h.mmLogs; i++ {
		c, _ := os.ReadFile(filepath.Join(h.Dir, fmt.Sprintf("mm%d.log", i)))
		b.Write(c)
	}
	return b.String()
}

// Stop kills everything the harness started; it may be called twice.
func (h *Harness) Stop() {
	if h.Dir == "" {
		return
	}
	h.StopMM(os.Kill)
	if h.Modem != nil {
		h.Modem.Close()
	}
	if h.polkit != nil {
		h.polkit.Close()
	}
	if out, err := exec.Command("ip", "netns", "pids", h.NS).Output(); err == nil {
		for _, pid := range strings.Fields(string(out)) {
			exec.Command("kill", "-9", pid).Run()
		}
	}
	exec.Command("ip", "netns", "del", h.NS).Run()
	if h.bus != nil {
		h.bus.Stop()
	}
	os.RemoveAll(h.Dir)
	h.Dir = ""
}

func waitFor(d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok() {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not within %s", d)
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
