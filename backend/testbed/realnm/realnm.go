// Package realnm runs a real NetworkManager for tests, in network
// namespaces, on a private system bus, managing veth "cables" whose far
// ends have a real DHCP server (../shared/recipes/real-networkmanager.md).
// The host's own network is never touched.
package realnm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

// Options shape the harness.
type Options struct {
	// Cables is how many veth cables to create (default 1). Cable i is
	// "veth<i>" in the DUT namespace, subnet 10.99.<i>.0/24, with DHCP.
	Cables int
	// Connectivity makes NetworkManager check connectivity against a small
	// HTTP server on cable 0's far end.
	Connectivity bool
	// VPN readies NetworkManager's mount namespace for its VPN plugins:
	// openvpn runs the plugin's --up helper with a scrubbed environment,
	// so the helper dials /run/dbus/system_bus_socket whatever
	// DBUS_SYSTEM_BUS_ADDRESS says, and that path must lead to the
	// harness's bus; the plugins log to files in the harness directory
	// (there is no syslog here).
	VPN bool
}

// Harness is a running NetworkManager in a namespace.
type Harness struct {
	Dir        string
	BusAddress string
	DUT, Peer  string // namespace names
	Cables     int

	procs []*exec.Cmd
	nm    *exec.Cmd // the running NetworkManager
	srv   *http.Server
	lock  *os.File // one harness at a time; released by Stop
}

// Start brings the harness up; it is torn down at test cleanup. Without
// root or the Debian packages the test skips loudly (fails in CI).
func Start(tb testing.TB, opt Options) *Harness {
	tb.Helper()
	integration.NeedRoot(tb)
	integration.NeedCommands(tb, "ip", "dnsmasq", "NetworkManager", "nmcli", "dbus-daemon", "unshare")
	if opt.Cables <= 0 {
		opt.Cables = 1
	}
	lk, err := takeSlot()
	if err != nil {
		tb.Fatal(err)
	}
	h, err := start(tb.TempDir(), opt)
	if h != nil {
		h.lock = lk
	} else {
		lk.Close()
	}
	if err != nil {
		if h != nil {
			h.Stop()
		}
		tb.Fatalf("real NetworkManager harness: %v", err)
	}
	tb.Cleanup(h.Stop)
	return h
}

// takeSlot waits for one of the harness slots shared by every test
// process on the machine: go test runs packages in parallel, and more
// NetworkManagers than the machine has room for turn millisecond timings
// into seconds. FIELDLINK_HARNESS_SLOTS says how many may run at once
// (default 1); CI runs its real-daemon suites side by side with 2.
func takeSlot() (*os.File, error) {
	slots := 1
	if n, err := strconv.Atoi(os.Getenv("FIELDLINK_HARNESS_SLOTS")); err == nil && n > 0 {
		slots = n
	}
	for {
		for i := 0; i < slots; i++ {
			lk, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("fieldlink-harness-%d.lock", i)), os.O_CREATE|os.O_RDWR, 0o600)
			if err != nil {
				return nil, err
			}
			if err := unix.Flock(int(lk.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil {
				return lk, nil
			}
			lk.Close()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func suffix() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

const busConf = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=%s</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/>
<allow send_type="method_call"/><allow send_type="signal"/><allow send_type="method_return"/><allow send_type="error"/>
<allow receive_type="method_call"/><allow receive_type="signal"/><allow receive_type="method_return"/><allow receive_type="error"/>
</policy></busconfig>
`

func start(dir string, opt Options) (*Harness, error) {
	// Unix socket paths are short; the test's temp dir may not be.
	short, err := os.MkdirTemp("/tmp", "flnm")
	if err != nil {
		return nil, err
	}
	dir = short
	id := suffix()
	h := &Harness{Dir: dir, DUT: "fl-dut-" + id, Peer: "fl-peer-" + id, Cables: opt.Cables}
	sock := filepath.Join(dir, "bus")
	h.BusAddress = "unix:path=" + sock
	if err := os.WriteFile(filepath.Join(dir, "bus.conf"), []byte(fmt.Sprintf(busConf, sock)), 0o600); err != nil {
		return h, err
	}
	bus := exec.Command("dbus-daemon", "--config-file="+filepath.Join(dir, "bus.conf"), "--nofork", "--nopidfile")
	if err := h.spawn(bus, "dbus.log"); err != nil {
		return h, err
	}
	if err := waitFor(5*time.Second, func() bool { _, err := os.Stat(sock); return err == nil }); err != nil {
		return h, fmt.Errorf("dbus-daemon socket: %w", err)
	}

	if err := h.wire(dir, opt.Cables); err != nil {
		return h, err
	}

	conns := filepath.Join(dir, "conns")
	if err := os.MkdirAll(conns, 0o700); err != nil {
		return h, err
	}
	conf := "[main]\ndns=none\nrc-manager=unmanaged\nplugins=keyfile\nauth-polkit=false\nno-auto-default=*\n" +
		"[keyfile]\npath=" + conns + "\n[logging]\nlevel=INFO\n"
	if opt.Connectivity {
		if err := h.serveConnectivity(); err != nil {
			return h, err
		}
		conf += "[connectivity]\nuri=http://10.99.0.1:8080/check\nresponse=OK\ninterval=10\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "NM.conf"), []byte(conf), 0o600); err != nil {
		return h, err
	}
	// NetworkManager's run and state directories live in the harness's
	// directory, bound in its own mount namespace: they survive a restart
	// of NetworkManager as /run does on a real machine, so that it can
	// take over the connections it left up.
	for _, d := range []string{"run-nm", "var-nm"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return h, err
		}
	}
	script := fmt.Sprintf(`#!/bin/sh
set -e
mkdir -p /run/NetworkManager /var/lib/NetworkManager
mount --bind %[1]s/run-nm /run/NetworkManager
mount --bind %[1]s/var-nm /var/lib/NetworkManager
umount /sys
mount -t sysfs -o ro sysfs /sys
%[2]sexec NetworkManager --no-daemon --debug --config=%[1]s/NM.conf --state-file=%[1]s/NetworkManager.state
`, dir, vpnMounts(dir, sock, opt.VPN))
	if opt.VPN {
		if err := writeVPNPlugins(dir); err != nil {
			return h, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "nm.sh"), []byte(script), 0o700); err != nil {
		return h, err
	}
	if err := h.startNM(); err != nil {
		return h, err
	}
	if err := waitFor(15*time.Second, func() bool {
		out, err := h.Nmcli("-t", "-f", "DEVICE", "device")
		return err == nil && strings.Contains(out, "veth0")
	}); err != nil {
		return h, fmt.Errorf("NetworkManager did not come up: %w\n%s", err, h.Log("nm.log"))
	}
	return h, nil
}

// wire makes the device's and the peer's namespaces and the cables
// between them, each with a DHCP server at the peer's end.
func (h *Harness) wire(dir string, cables int) error {
	for _, ns := range []string{h.DUT, h.Peer} {
		if err := run("ip", "netns", "add", ns); err != nil {
			return err
		}
		if err := run("ip", "-n", ns, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	for i := 0; i < cables; i++ {
		dut, peer := fmt.Sprintf("veth%d", i), fmt.Sprintf("vpeer%d", i)
		if err := run("ip", "-n", h.DUT, "link", "add", dut, "type", "veth", "peer", "name", peer, "netns", h.Peer); err != nil {
			return err
		}
		if err := run("ip", "-n", h.Peer, "addr", "add", fmt.Sprintf("10.99.%d.1/24", i), "dev", peer); err != nil {
			return err
		}
		if err := run("ip", "-n", h.Peer, "link", "set", peer, "up"); err != nil {
			return err
		}
		dns := exec.Command("ip", "netns", "exec", h.Peer, "dnsmasq", "--no-daemon", "--interface="+peer,
			"--bind-interfaces", fmt.Sprintf("--dhcp-range=10.99.%d.50,10.99.%d.99,12h", i, i), "--port=0",
			"--dhcp-leasefile="+filepath.Join(dir, fmt.Sprintf("leases%d", i)), "--dhcp-authoritative",
			fmt.Sprintf("--dhcp-option=3,10.99.%d.1", i))
		if err := h.spawn(dns, fmt.Sprintf("dnsmasq%d.log", i)); err != nil {
			return err
		}
	}
	return nil
}

// vpnMounts are the lines of NetworkManager's start script that ready its
// mount namespace for VPN plugins (see Options.VPN).
func vpnMounts(dir, sock string, vpn bool) string {
	if !vpn {
		return ""
	}
	return fmt.Sprintf(`mkdir -p /run/dbus
mount -t tmpfs tmpfs /run/dbus
ln -s %[2]s /run/dbus/system_bus_socket
mount --bind %[1]s/vpn /usr/lib/NetworkManager/VPN
`, dir, sock)
}

// writeVPNPlugins copies the system's VPN plugin descriptions into the
// harness, each started through a wrapper that logs the plugin's debug
// output to plugin-NAME.log and records its pid.
func writeVPNPlugins(dir string) error {
	vdir := filepath.Join(dir, "vpn")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	names, err := filepath.Glob("/usr/lib/NetworkManager/VPN/*.name")
	if err != nil || len(names) == 0 {
		return fmt.Errorf("no NetworkManager VPN plugin is installed (apt-get install network-manager-openvpn)")
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return err
		}
		base := strings.TrimSuffix(filepath.Base(n), ".name")
		var out []string
		for _, line := range strings.Split(string(b), "\n") {
			if prog, ok := strings.CutPrefix(line, "program="); ok {
				wrap := filepath.Join(dir, "wrap-"+base+".sh")
				script := fmt.Sprintf("#!/bin/sh\necho $$ >> %[1]s/plugins.pid\nexport NM_VPN_LOG_SYSLOG=0 NM_VPN_LOG_LEVEL=5\nexec %[2]s --debug \"$@\" >> %[1]s/plugin-%[3]s.log 2>&1\n",
					dir, prog, base)
				if err := os.WriteFile(wrap, []byte(script), 0o755); err != nil {
					return err
				}
				line = "program=" + wrap
			}
			out = append(out, line)
		}
		if err := os.WriteFile(filepath.Join(vdir, filepath.Base(n)), []byte(strings.Join(out, "\n")), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// startNM starts NetworkManager in the DUT namespace. ip, unshare and the
// script each exec the next, so the process is NetworkManager itself.
func (h *Harness) startNM() error {
	nmCmd := exec.Command("ip", "netns", "exec", h.DUT, "unshare", "-m", filepath.Join(h.Dir, "nm.sh"))
	nmCmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+h.BusAddress)
	if err := h.spawn(nmCmd, fmt.Sprintf("nm%d.log", len(h.procs))); err != nil {
		return err
	}
	h.nm = nmCmd
	return nil
}

// StopNM stops NetworkManager with sig (SIGTERM: it leaves the devices as
// they are; SIGKILL: a crash) and waits for it to go.
func (h *Harness) StopNM(sig syscall.Signal) error {
	if h.nm == nil || h.nm.Process == nil {
		return fmt.Errorf("NetworkManager is not running")
	}
	if err := h.nm.Process.Signal(sig); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { h.nm.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		h.nm.Process.Kill()
		<-done
	}
	for i, p := range h.procs {
		if p == h.nm {
			h.procs = append(h.procs[:i], h.procs[i+1:]...)
			break
		}
	}
	h.nm = nil
	return nil
}

// StartNM starts NetworkManager again after StopNM, and waits until it
// answers on the bus.
func (h *Harness) StartNM() error {
	if err := h.startNM(); err != nil {
		return err
	}
	return waitFor(15*time.Second, func() bool {
		out, err := h.Nmcli("-t", "-f", "RUNNING", "general")
		return err == nil && strings.Contains(out, "running")
	})
}

// BlackHole makes cable i's far end drop everything sent back to the
// DUT's address on it, while the carrier stays up: a dead upstream.
func (h *Harness) BlackHole(cable int) error {
	addr, err := h.Address(cable)
	if err != nil {
		return err
	}
	return run("ip", "-n", h.Peer, "route", "replace", "blackhole", addr+"/32")
}

// Unblock undoes BlackHole.
func (h *Harness) Unblock(cable int) error {
	out, err := exec.Command("ip", "-n", h.Peer, "route", "show", "type", "blackhole").Output()
	if err != nil {
		return err
	}
	prefix := fmt.Sprintf("10.99.%d.", cable)
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && strings.HasPrefix(f[1], prefix) {
			if err := run("ip", "-n", h.Peer, "route", "del", "blackhole", f[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Address is the DUT's IPv4 address on cable i.
func (h *Harness) Address(cable int) (string, error) {
	out, err := exec.Command("ip", "-n", h.DUT, "-4", "-o", "addr", "show", "dev", fmt.Sprintf("veth%d", cable)).Output()
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(out))
	for i, x := range f {
		if x == "inet" && i+1 < len(f) {
			return strings.SplitN(f[i+1], "/", 2)[0], nil
		}
	}
	return "", fmt.Errorf("no address on veth%d", cable)
}

// DefaultRoutes returns each default route's device and metric, best
// first, as the kernel has them.
func (h *Harness) DefaultRoutes() []Route {
	var out []Route
	for _, l := range strings.Split(h.DefaultRoute(), "\n") {
		f := strings.Fields(l)
		r := Route{Metric: 0}
		for i := 0; i+1 < len(f); i++ {
			switch f[i] {
			case "dev":
				r.Dev = f[i+1]
			case "metric":
				fmt.Sscan(f[i+1], &r.Metric)
			}
		}
		if r.Dev != "" {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Metric < out[j].Metric })
	return out
}

// Route is a default route.
type Route struct {
	Dev    string
	Metric int
}

// serveConnectivity answers NetworkManager's connectivity check from the
// peer namespace.
func (h *Harness) serveConnectivity() error {
	l, err := h.ListenPeer("tcp", "10.99.0.1:8080")
	if err != nil {
		return err
	}
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("OK"))
	}), ReadHeaderTimeout: 5 * time.Second}
	go h.srv.Serve(l)
	return nil
}

// ListenPeer opens a listener inside the peer namespace (the far end of
// the cables), for probe targets.
func (h *Harness) ListenPeer(network, addr string) (net.Listener, error) {
	return listenIn(h.Peer, network, addr)
}

// DialDUT connects from inside the DUT namespace, as an application on
// the device would (through whatever route or tunnel it has).
func (h *Harness) DialDUT(network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := inNamespace(h.DUT, func() error {
		var err error
		c, err = net.DialTimeout(network, addr, timeout)
		return err
	})
	return c, err
}

// InPeer runs f on a thread inside the peer namespace: sockets it opens
// (a packet tap on a cable's far end) stay there.
func (h *Harness) InPeer(f func() error) error { return inNamespace(h.Peer, f) }

// listenIn opens a socket in a named network namespace.
func listenIn(ns, network, addr string) (net.Listener, error) {
	var l net.Listener
	err := inNamespace(ns, func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// inNamespace runs f on a locked thread that has joined a named network
// namespace; sockets f opens stay in the namespace and can be used from
// any thread.
func inNamespace(ns string, f func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: it ends with the goroutine rather
		// than return to the pool inside another namespace.
		nsf, err := os.Open("/run/netns/" + ns)
		if err != nil {
			ch <- err
			return
		}
		defer nsf.Close()
		if err := unix.Setns(int(nsf.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ch <- f()
	}()
	return <-ch
}

func (h *Harness) spawn(cmd *exec.Cmd, log string) error {
	f, err := os.Create(filepath.Join(h.Dir, log))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", cmd.Path, err)
	}
	h.procs = append(h.procs, cmd)
	return nil
}

// Track has Stop kill a process the test started for the harness (a
// server on the far end, say) with the harness's own.
func (h *Harness) Track(cmd *exec.Cmd) { h.procs = append(h.procs, cmd) }

// NMLog returns NetworkManager's log, every run of it in order.
func (h *Harness) NMLog() string {
	files, _ := filepath.Glob(filepath.Join(h.Dir, "nm[0-9]*.log"))
	sort.Slice(files, func(i, j int) bool {
		return len(files[i]) < len(files[j]) || len(files[i]) == len(files[j]) && files[i] < files[j]
	})
	var b strings.Builder
	for _, f := range files {
		c, _ := os.ReadFile(f)
		b.Write(c)
	}
	return b.String()
}

// Log returns one of the harness's log files.
func (h *Harness) Log(name string) string {
	b, _ := os.ReadFile(filepath.Join(h.Dir, name))
	return string(b)
}

// Stop kills everything the harness started, deletes the namespaces and
// lets the next harness start. It may be called more than once.
func (h *Harness) Stop() {
	if h.Dir == "" {
		return
	}
	if h.srv != nil {
		h.srv.Close()
	}
	for i := len(h.procs) - 1; i >= 0; i-- {
		p := h.procs[i]
		if p.Process != nil {
			p.Process.Kill()
			p.Wait()
		}
	}
	h.procs = nil
	// ip netns exec children (dnsmasq, NetworkManager) die with the kill of
	// their exec'd process; delete the namespaces last.
	self := fmt.Sprint(os.Getpid())
	for _, ns := range []string{h.DUT, h.Peer} {
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				// ListenPeer may have left this process's main thread in the
				// namespace (Go wedges a locked main thread rather than end
				// it), and then ip lists us too.
				if pid != self {
					exec.Command("kill", "-9", pid).Run()
				}
			}
		}
		exec.Command("ip", "netns", "del", ns).Run()
	}
	os.RemoveAll(h.Dir)
	h.Dir = ""
	if h.lock != nil {
		h.lock.Close()
		h.lock = nil
	}
}

// Nmcli runs nmcli against the harness's NetworkManager.
func (h *Harness) Nmcli(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nmcli", args...)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+h.BusAddress)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("nmcli %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// AddProfile adds an ethernet profile for cable i with a route metric.
func (h *Harness) AddProfile(name string, cable int, metric int) error {
	_, err := h.Nmcli("connection", "add", "type", "ethernet", "ifname", fmt.Sprintf("veth%d", cable),
		"con-name", name, "ipv4.method", "auto", "ipv6.method", "disabled",
		"ipv4.route-metric", fmt.Sprint(metric), "connection.autoconnect", "yes")
	return err
}

// DeviceState returns nmcli's GENERAL.STATE of a device ("100 (connected)").
func (h *Harness) DeviceState(iface string) string {
	out, _ := h.Nmcli("-g", "GENERAL.STATE", "device", "show", iface)
	return strings.TrimSpace(out)
}

// WaitConnected waits until a device is activated with an address.
func (h *Harness) WaitConnected(iface string, within time.Duration) error {
	return waitFor(within, func() bool { return strings.HasPrefix(h.DeviceState(iface), "100") })
}

// Pull takes cable i's far end down: carrier goes at once.
func (h *Harness) Pull(cable int) error {
	return run("ip", "-n", h.Peer, "link", "set", fmt.Sprintf("vpeer%d", cable), "down")
}

// Plug brings cable i's far end back.
func (h *Harness) Plug(cable int) error {
	return run("ip", "-n", h.Peer, "link", "set", fmt.Sprintf("vpeer%d", cable), "up")
}

// DefaultRoute returns the DUT's default route ("default via 10.99.0.1 dev veth0 ...").
func (h *Harness) DefaultRoute() string {
	out, _ := exec.Command("ip", "-n", h.DUT, "-4", "route", "show", "default").Output()
	return strings.TrimSpace(string(out))
}

// Exec runs a command inside the DUT namespace with the harness's bus
// and a runtime directory of its own (RunDir): harnesses side by side
// must not share a control socket.
func (h *Harness) Exec(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.DUT, name}, args...)...)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+h.BusAddress, "FIELDLINK_RUNTIME_DIR="+h.RunDir())
	return cmd
}

// RunDir is the harness's fieldlink runtime directory (the control
// socket's), readable by every account like /run/fieldlink.
func (h *Harness) RunDir() string {
	d := filepath.Join(h.Dir, "run")
	os.MkdirAll(d, 0o755)
	os.Chmod(h.Dir, 0o755)
	return d
}

// PeerAddr is the far end's address on cable i.
func PeerAddr(cable int) net.IP { return net.IPv4(10, 99, byte(cable), 1) }

func waitFor(d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not within %s", d)
}
