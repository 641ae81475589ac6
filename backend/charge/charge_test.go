package charge

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
)

// TestOneHolderPerBus: the first claim on a bus is in charge; a second,
// from any connection, is told who holds it, by the bus's own account of
// the owner's pid and uid; Release hands the charge to the next claim.
func TestOneHolderPerBus(t *testing.T) {
	d := fakebus.StartDaemon(t)
	if os.Geteuid() != 0 {
		t.Skip("the packaged bus policy lets only root take the charge; TestOneBrainAcrossAccounts covers other accounts")
	}
	ctx := context.Background()
	run := t.TempDir()
	opt := Options{Address: d.Address, StateDir: t.TempDir(), RunDir: run, Mode: "daemon", Policy: []string{}}
	first, err := Take(ctx, opt)
	if err != nil || !first.InCharge || first.Scope != Device {
		t.Fatalf("first claim: %+v %v", first, err)
	}
	if first.Holder.PID != os.Getpid() || first.Holder.User != "root" || first.Holder.Since.IsZero() {
		t.Fatalf("self: %+v", first.Holder)
	}
	if want := filepath.Join(run, "control-0.sock"); first.Socket() != want {
		t.Fatalf("socket %s, want %s", first.Socket(), want)
	}
	opt.Mode = "tui"
	second, err := Take(ctx, opt)
	if err != nil || second.InCharge {
		t.Fatalf("second claim: %+v %v", second, err)
	}
	if second.Holder.PID != os.Getpid() || second.Holder.UID != 0 {
		t.Fatalf("second sees holder %+v", second.Holder)
	}
	if !strings.Contains(second.Holder.Refusal(), "another fieldlink (pid "+strconv.Itoa(os.Getpid())+", user root) is in charge of this device") {
		t.Fatalf("refusal: %s", second.Holder.Refusal())
	}
	h, sock, ok, err := second.Locate(ctx)
	if err != nil || !ok || h.PID != os.Getpid() || sock != first.Socket() {
		t.Fatalf("locate: %+v %s %v %v", h, sock, ok, err)
	}
	first.Release()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, _, ok, _ := second.Locate(ctx); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the name is still owned after Release")
		}
		time.Sleep(10 * time.Millisecond)
	}
	second.Release()
	third, err := Take(ctx, opt)
	if err != nil || !third.InCharge {
		t.Fatalf("after release: %+v %v", third, err)
	}
	third.Release()
}

// TestDemoClaimsAreItsOwn: demos claim a per-account lock, never the bus.
func TestDemoClaimsAreItsOwn(t *testing.T) {
	state := t.TempDir()
	ctx := context.Background()
	a, err := Take(ctx, Options{StateDir: state, Demo: true, Mode: "demo"})
	if err != nil || !a.InCharge || a.Scope != Account {
		t.Fatalf("first demo: %+v %v", a, err)
	}
	defer a.Release()
	if a.Socket() != filepath.Join(state, "demo-control.sock") || a.DemoJournal() != "demo-journal.db" {
		t.Fatalf("first demo's socket %s, journal %s", a.Socket(), a.DemoJournal())
	}
	// A second demo never watches the first's simulated world: it runs
	// its own, with a socket and journal of its own.
	b, err := Take(ctx, Options{StateDir: state, Demo: true, Mode: "demo"})
	if err != nil || !b.InCharge || !b.Apart || b.Holder.PID != os.Getpid() {
		t.Fatalf("second demo: %+v %v", b, err)
	}
	defer b.Release()
	own := "demo-" + strconv.Itoa(os.Getpid())
	if b.Socket() != filepath.Join(state, own+"-control.sock") || b.DemoJournal() != own+"-journal.db" {
		t.Fatalf("second demo's socket %s, journal %s", b.Socket(), b.DemoJournal())
	}
}

// TestDescribe names a process from /proc: its account, start and mode.
func TestDescribe(t *testing.T) {
	h := Describe(os.Getpid(), -1)
	if h.UID != os.Getuid() || h.Since.IsZero() || time.Since(h.Since) > time.Hour || h.Since.After(time.Now()) {
		t.Fatalf("describe self: %+v", h)
	}
	if s := (Holder{PID: 812, Mode: "daemon", User: "root"}).String(); s != "fieldlink pid 812 (daemon, root)" {
		t.Fatalf("string %q", s)
	}
}

// TestProcessInGroup: a process's own groups, as the kernel holds them,
// count only while it runs as the account asked about; anything else is
// no (fail closed).
func TestProcessInGroup(t *testing.T) {
	pid, uid, gid := os.Getpid(), os.Getuid(), os.Getegid()
	if !ProcessInGroup(pid, uid, gid) {
		t.Errorf("this process in its own group %d", gid)
	}
	if groups, _ := os.Getgroups(); len(groups) > 0 && !ProcessInGroup(pid, uid, groups[len(groups)-1]) {
		t.Errorf("this process in its supplementary group %d", groups[len(groups)-1])
	}
	if ProcessInGroup(pid, uid+1, gid) {
		t.Error("a process counted for an account it does not run as (a reused pid)")
	}
	if ProcessInGroup(pid, uid, 987654) {
		t.Error("a group the process is not in")
	}
	if ProcessInGroup(0, uid, gid) || ProcessInGroup(1<<30, uid, gid) {
		t.Error("no such process, yet in the group")
	}
}
