package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/charge"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

// account is a throwaway system account a test runs fieldlink as.
type account struct {
	name     string
	uid, gid int
}

// testAccount creates an account for the test (CI runs as root) and
// deletes it afterwards; without root the test skips loudly.
func testAccount(t testing.TB) account {
	t.Helper()
	integration.NeedRoot(t)
	integration.NeedCommands(t, "useradd", "userdel", "groupadd", "usermod")
	b := make([]byte, 3)
	rand.Read(b)
	name := "flt" + hex.EncodeToString(b)
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
		"--shell", "/usr/sbin/nologin", "--user-group", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() { removeAccount(t, name) })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return account{name: name, uid: uid, gid: gid}
}

// groupMade is whether this test process created the fieldlink group;
// TestMain removes it after every test, so that tests side by side never
// see it go from under them.
var (
	groupMu   sync.Mutex
	groupMade bool
)

// removeAccount deletes a test account. What the account still runs is
// ended first: the clinical application a test started as it outlives
// fieldlink by design (it is the clinician's, not fieldlink's), and
// userdel refuses an account in use; a process may also still be exiting,
// so it tries for a few seconds.
func removeAccount(t testing.TB, name string) {
	var out []byte
	var err error
	for i := 0; i < 50; i++ {
		exec.Command("pkill", "-KILL", "-U", name).Run()
		if out, err = exec.Command("userdel", name).CombinedOutput(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("the test account %s is left behind: userdel: %v: %s", name, err, out)
}

// groupMarker says a test run made the fieldlink group: several test
// processes share it, and the last one out removes it.
const groupMarker = "/run/fieldlink-test-made-group"

// joinGroup adds the account to the fieldlink group (created, if the
// machine has none, for the rest of the test run).
func (a account) joinGroup(t testing.TB) {
	t.Helper()
	groupMu.Lock()
	defer groupMu.Unlock()
	if _, err := user.LookupGroup(charge.Group); err != nil {
		if out, err := exec.Command("groupadd", "--system", charge.Group).CombinedOutput(); err != nil {
			t.Fatalf("groupadd: %v: %s", err, out)
		}
		os.WriteFile(groupMarker, nil, 0o600)
	}
	if _, err := os.Stat(groupMarker); err == nil {
		groupMade = true
	}
	if out, err := exec.Command("usermod", "-aG", charge.Group, a.name).CombinedOutput(); err != nil {
		t.Fatalf("usermod: %v: %s", err, out)
	}
}

// dropGroup removes the fieldlink group if a test made it and no other
// test process still has an account in it.
func dropGroup() {
	groupMu.Lock()
	defer groupMu.Unlock()
	if !groupMade {
		return
	}
	out, err := exec.Command("getent", "group", charge.Group).Output()
	if f := strings.Split(strings.TrimSpace(string(out)), ":"); err != nil || len(f) < 4 || f[3] != "" {
		return
	}
	if exec.Command("groupdel", charge.Group).Run() == nil {
		os.Remove(groupMarker)
	}
}

// cred is what a process of the account runs with, its groups as the
// group database has them now.
func (a account) cred(t testing.TB) *syscall.Credential {
	u, err := user.LookupId(strconv.Itoa(a.uid))
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := u.GroupIds()
	var groups []uint32
	for _, id := range ids {
		n, _ := strconv.Atoi(id)
		groups = append(groups, uint32(n))
	}
	return &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), Groups: groups}
}

// ownDir makes a directory only the account can use.
func (a account) ownDir(t testing.TB, parent, name string) string {
	d := filepath.Join(parent, name)
	os.MkdirAll(d, 0o700)
	os.Chown(d, a.uid, a.gid)
	return d
}

// proc is a fieldlink command running as a child, its stderr collected.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	err  strings.Builder
	done chan struct{}
}

func startProc(t *testing.T, env []string, cred *syscall.Credential, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.err.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
	})
	return p
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err.String()
}

func (p *proc) waitErr(t *testing.T, sub string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.stderr(), sub) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q from %v; stderr:\n%s", sub, p.cmd.Args, p.stderr())
}

// TestOneBrainAcrossAccounts is finding 1 of "One brain per device", with
// a real second account and the packaged bus policy: while a root daemon
// is in charge, another account's TUI is a client (read-only until IT adds
// the account to the fieldlink group), its daemon refuses to start, and
// only the root daemon ever moves a route (Reapply). A TUI that took
// charge where no daemon ran hands over when the daemon comes.
func TestOneBrainAcrossAccounts(t *testing.T) {
	nurse := testAccount(t)
	integration.NeedCommands(t, "dbus-daemon")
	shared, err := os.MkdirTemp("", "flbrain")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	os.Chmod(shared, 0o755)
	busDir := filepath.Join(shared, "bus")
	os.Mkdir(busDir, 0o755)
	d, err := fakebus.Start(busDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	n, err := fakebus.NewNM(d.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	eth0 := n.AddDevice(fakebus.DeviceSpec{Interface: "flx0", Type: fakebus.DevEthernet, Carrier: true})
	eth1 := n.AddDevice(fakebus.DeviceSpec{Interface: "flx1", Type: fakebus.DevEthernet, Carrier: true})
	n.Connect(n.AddProfile(fakebus.ProfileSettings("wired0", "802-3-ethernet", "")), eth0)
	n.Connect(n.AddProfile(fakebus.ProfileSettings("wired1", "802-3-ethernet", "")), eth1)
	n.AddProfile(fakebus.ProfileSettings("NHS-VPN", "vpn", ""))

	run := filepath.Join(shared, "run")
	os.Mkdir(run, 0o755)
	env := []string{"DBUS_SYSTEM_BUS_ADDRESS=" + d.Address, "FIELDLINK_RUNTIME_DIR=" + run, "HOME=/nonexistent", "XDG_CONFIG_HOME=", "TERM=xterm-256color", "LANG=C.UTF-8"}
	cfg := filepath.Join(shared, "config.toml")
	os.WriteFile(cfg, []byte("[links]\nprefer = [\"flx0\", \"flx1\"]\n\n[[probe.target]]\ntcp = \"127.0.0.1:9\"\n\n[vpn]\nprofile = \"NHS-VPN\"\nauto = false\n"), 0o644)
	userState := nurse.ownDir(t, shared, "nurse-state")
	policyInstalled := false
	for _, p := range charge.PolicyPaths {
		if _, err := os.Stat(p); err == nil {
			policyInstalled = true
		}
	}

	// Before any daemon: the nurse's TUI may not own the name; without the
	// packaged policy on this machine it falls back to its own account's
	// lock, says so, and hands over when the daemon comes.
	var early *ptyProc
	if !policyInstalled {
		// (Its own state directory: while in charge it journals there.)
		earlyState := nurse.ownDir(t, shared, "nurse-early-state")
		early = startOnPTYWith(t, ptyOptions{state: earlyState, want: "GO", env: env, as: nurse.cred(t)}, "--config", cfg)
		early.waitFirstFrame(t)
		early.waitFor(t, "D-Bus policy is not installed")
	}

	rootState := filepath.Join(shared, "root-state")
	daemon := startProc(t, env, nil, "daemon", "--config", cfg, "--state-dir", rootState)
	daemon.waitErr(t, "fieldlink daemon: in charge of this device")
	daemonPID := daemon.cmd.Process.Pid
	inCharge := "in charge: fieldlink pid " + strconv.Itoa(daemonPID) + " (daemon, root)"
	if early != nil {
		// The TUI that held the account lock starts again as a client.
		early.waitFor(t, inCharge)
	}

	// The nurse's own daemon refuses, naming who is in charge.
	second := startProc(t, env, nurse.cred(t), "daemon", "--config", cfg, "--state-dir", userState)
	select {
	case <-second.done:
	case <-time.After(10 * time.Second):
		t.Fatal("a second daemon from another account did not refuse")
	}
	want := "another fieldlink (pid " + strconv.Itoa(daemonPID) + ", user root) is in charge of this device"
	if code := second.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(second.stderr(), want) {
		t.Fatalf("second daemon: exit %d, stderr %q; want %q", code, second.stderr(), want)
	}

	// The nurse's TUI is a client, read-only: the root daemon refuses what
	// it asks.
	tui := startOnPTYWith(t, ptyOptions{state: userState, want: "OBSERVER", env: env, as: nurse.cred(t)}, "--config", cfg)
	tui.waitFirstFrame(t)
	tui.waitFor(t, inCharge)
	tui.waitFor(t, "read-only")
	tui.master.Write([]byte("v"))
	tui.waitFor(t, "may watch but not mark visits")
	tui.master.Write([]byte("c"))
	tui.waitFor(t, "may watch but not connect the VPN")

	// status names the instance in charge from the bus.
	st := exec.Command(binary(t), "status", "--json", "--state-dir", userState)
	st.Env = append(os.Environ(), env...)
	st.SysProcAttr = &syscall.SysProcAttr{Credential: nurse.cred(t)}
	var serr strings.Builder
	st.Stderr = &serr
	out, err := st.Output()
	if err != nil {
		t.Fatalf("status: %v: %s", err, serr.String())
	}
	var doc struct {
		InCharge *charge.Holder `json:"in_charge"`
	}
	if err := json.Unmarshal(out, &doc); err != nil || doc.InCharge == nil || doc.InCharge.PID != daemonPID ||
		doc.InCharge.User != "root" || doc.InCharge.Mode != "daemon" || doc.InCharge.Since.IsZero() {
		t.Fatalf("status in_charge: %+v %v\n%s", doc.InCharge, err, out)
	}

	// A pulled cable: the daemon, and only the daemon, moves the route.
	n.SetCarrier(eth0, false)
	deadline := time.Now().Add(10 * time.Second)
	for len(n.CallsTo("org.freedesktop.NetworkManager.Device.Reapply")) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	calls := n.CallsTo("org.freedesktop.NetworkManager.Device.Reapply")
	if len(calls) == 0 {
		t.Fatalf("the daemon never demoted the pulled cable; its log:\n%s", daemon.stderr())
	}
	time.Sleep(500 * time.Millisecond)
	for _, c := range n.CallsTo("org.freedesktop.NetworkManager.Device.Reapply") {
		if pid := senderPID(t, d.Address, c.Sender); pid != daemonPID {
			t.Fatalf("Reapply from pid %d (%s), but the daemon (pid %d) is in charge", pid, c.Sender, daemonPID)
		}
	}

	// Once IT adds the nurse to the fieldlink group, their screen acts
	// through the daemon: a visit is journaled by it.
	nurse.joinGroup(t)
	// Another account outside the group holds 40 connections to the
	// daemon's socket: the clinician's screen is not starved.
	holdConnections(t, filepath.Join(run, "control-0.sock"), 40, testAccount(t).cred(t))
	tui2 := startOnPTYWith(t, ptyOptions{state: userState, want: "OBSERVER", env: env, as: nurse.cred(t)}, "--config", cfg)
	tui2.waitFirstFrame(t)
	tui2.waitFor(t, inCharge)
	pressed := time.Now()
	tui2.master.Write([]byte("v"))
	tui2.waitFor(t, "Visit started")
	t.Logf("a visit marked while another account holds 40 connections: %v", time.Since(pressed).Round(time.Millisecond))
	// A second press at once is refused, not journaled as an empty visit.
	tui2.master.Write([]byte("v"))
	tui2.waitFor(t, "Visit just marked: press v again in a moment")
	tui2.waitFor(t, "VISIT 0m")
	tui.waitFor(t, "VISIT 0m") // every screen shows the open visit
	daemon.cmd.Process.Signal(syscall.SIGTERM)
	<-daemon.done
	j, err := journal.OpenReadOnly(filepath.Join(rootState, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var visits int
	if err := j.DB().QueryRow(`SELECT COUNT(*) FROM visit`).Scan(&visits); err != nil || visits != 1 {
		t.Fatalf("visits in the daemon's journal: %d %v", visits, err)
	}
	if _, err := os.Stat(filepath.Join(userState, "journal.db")); err == nil {
		t.Fatal("the nurse's client wrote a journal of its own")
	}
}

// senderPID asks the bus which process a connection belongs to (0 when
// it has gone).
func senderPID(t *testing.T, addr, name string) int {
	c, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var pid uint32
	if err := c.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetConnectionUnixProcessID", 0, name).Store(&pid); err != nil {
		return 0
	}
	return int(pid)
}

// holdConnections has a process of another account open n connections to
// a socket and keep them open until the test ends.
func holdConnections(t *testing.T, socket string, n int, as *syscall.Credential) {
	t.Helper()
	// The system's Python: one in root's home is not the other account's
	// to run.
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		integration.Skip(t, "no %s to hold connections as another account", py)
	}
	script := `import socket, sys, time
held = []
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
print("held", flush=True)
time.sleep(600)`
	cmd := exec.Command(py, "-c", script, socket, strconv.Itoa(n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: as}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "held" {
		t.Fatalf("the other account could not hold connections: %q %s", line, stderr.String())
	}
}
