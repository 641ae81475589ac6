package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/status"
	"github.com/fieldlink/fieldlink/backend/testbed/realnm"
)

func wiredHarness(tb testing.TB) *realnm.Harness {
	tb.Helper()
	h := realnm.Start(tb, realnm.Options{Cables: 1})
	if err := h.AddProfile("wired1", 0, 100); err != nil {
		tb.Fatal(err)
	}
	if err := h.WaitConnected("veth0", 15*time.Second); err != nil {
		tb.Fatalf("veth0 never connected: %v", err)
	}
	return h
}

// routesBeside returns a link's routes as fieldlink has them and as nmcli
// has them on dev ("dst = 0.0.0.0/0, nh = 10.99.0.1, mt = 100"), sorted.
func routesBeside(h *realnm.Harness, dev string, routes []netstate.Route) (ours, theirs []string) {
	nmRoutes, _ := h.Nmcli("-g", "IP4.ROUTE", "device", "show", dev)
	for _, r := range routes {
		ours = append(ours, fmt.Sprintf("dst = %s, nh = %s, mt = %d", r.Dest, cmp.Or(r.NextHop, "0.0.0.0"), r.Metric))
	}
	theirs = strings.Split(strings.TrimSpace(strings.ReplaceAll(nmRoutes, " | ", "\n")), "\n")
	slices.Sort(ours)
	slices.Sort(theirs)
	return ours, theirs
}

func fieldlinkCmd(ctx context.Context, tb testing.TB, h *realnm.Harness, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary(tb), args...)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+h.BusAddress, "XDG_STATE_HOME="+tb.TempDir(),
		"XDG_CONFIG_HOME="+tb.TempDir())
	return cmd
}

// TestStatusOnRealNetworkManager: `fieldlink status --json` lists the wired
// device with carrier, state, address and profile, and `status --watch`
// reports a cable pull within 100 ms.
func TestStatusOnRealNetworkManager(t *testing.T) {
	h := wiredHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := fieldlinkCmd(ctx, t, h, "status", "--json").Output()
	if err != nil {
		t.Fatalf("status --json: %v", err)
	}
	var d status.Doc
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	var veth *struct{}
	for _, l := range d.Links {
		if l.ID != "veth0" {
			continue
		}
		veth = &struct{}{}
		if l.Carrier.String() != "yes" || l.State.String() != "connected" || l.Profile != "wired1" ||
			len(l.Addresses) != 1 || !strings.HasPrefix(l.Addresses[0], "10.99.0.") {
			t.Fatalf("veth0 in status --json: %+v", l)
		}
		if ours, theirs := routesBeside(h, "veth0", l.Routes); !slices.Equal(ours, theirs) {
			t.Errorf("routes: fieldlink %q, nmcli %q", ours, theirs)
		}
	}
	if veth == nil || d.Simulated || d.Primary != "veth0" || d.Source != "this device" {
		t.Fatalf("status document: %s", out)
	}

	watch := fieldlinkCmd(ctx, t, h, "status", "--watch", "--json")
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { watch.Process.Kill(); watch.Wait() }()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	if !lines.Scan() {
		t.Fatal("no first line from status --watch")
	}
	pulled := time.Now()
	if err := h.Pull(0); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		var d status.Doc
		if err := json.Unmarshal(lines.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		for _, l := range d.Links {
			if l.ID == "veth0" && l.Carrier.String() == "no" {
				took := time.Since(pulled)
				t.Logf("status --watch reported the carrier loss %v after the cable pull", took)
				if took > 100*time.Millisecond {
					t.Fatalf("carrier loss reported after %v (target 100 ms)", took)
				}
				if d.Word != "DO NOT PROCEED" || d.Reason != "no carrier" {
					t.Fatalf("light after the pull: %s %q", d.Word, d.Reason)
				}
				return
			}
		}
	}
	t.Fatal("status --watch ended without reporting the carrier loss")
}

// BenchmarkStatusVsNmcli reports process start to first full snapshot for
// `fieldlink status --json` and `nmcli -t device` against the same real
// NetworkManager, medians of the runs (target: fieldlink no slower).
func BenchmarkStatusVsNmcli(b *testing.B) {
	h := wiredHarness(b)
	bin := binary(b)
	env := append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+h.BusAddress, "XDG_STATE_HOME="+b.TempDir())
	timeRun := func(name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		return time.Since(start)
	}
	const runs = 15
	var fl, nm []time.Duration
	for b.Loop() {
		for i := 0; i < runs; i++ {
			fl = append(fl, timeRun(bin, "status", "--json"))
			nm = append(nm, timeRun("nmcli", "-t", "device"))
		}
	}
	median := func(d []time.Duration) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[len(d)/2].Microseconds()) / 1000
	}
	mf, mn := median(fl), median(nm)
	b.ReportMetric(mf, "ms/fieldlink-status")
	b.ReportMetric(mn, "ms/nmcli-device")
	b.ReportMetric(mf/mn, "ratio")
}
