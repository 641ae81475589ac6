package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/status"
	"github.com/fieldlink/fieldlink/backend/testbed/realvpn"
)

// TestRealVPNFollowsThePath: on the real NetworkManager with its OpenVPN
// plugin, the daemon starts the certificate VPN only after a probe has
// passed over the path, over that path; a pull of the preferred cable
// re-makes it over the backup with the clinical app's TCP session alive
// and its inner address kept; the fail-back re-makes it once more;
// NetworkManager's own teardown of the pulled cable seconds later is no
// second failure; and nothing is left running.
func TestRealVPNFollowsThePath(t *testing.T) {
	r := startVPNRig(t, realvpn.Profile{Name: "NHS-VPN", Kind: realvpn.Cert}, "")
	d := r.d
	up := d.waitLine(t, "VPN NHS-VPN up over", 20*time.Second)
	// GO means a passing probe: nothing that depends on it starts before.
	start := d.linesWith("Starting VPN NHS-VPN")
	goLines := d.linesWith("level veth0: GO")
	if len(start) != 1 || len(goLines) == 0 {
		t.Fatalf("starts %v, GO lines %v\n%s", start, goLines, d.log())
	}
	if !strings.Contains(goLines[0].text, "probe") || start[0].at.Before(goLines[0].at) {
		t.Fatalf("the VPN started before a probe passed:\n%s", d.log())
	}
	if !r.tunnelOn(realvpn.Cert, "veth0") {
		t.Fatalf("the tunnel is not over veth0")
	}
	if err := r.h.PingThrough(realvpn.Cert); err != nil {
		t.Fatal(err)
	}
	_, inner := r.h.Tunnel(realvpn.Cert)
	vpnDetailsAgree(t, r, inner)
	app := startAppStream(t, r.h, realvpn.Cert)
	waitUntil(t, "the app's first lines", 5*time.Second, func() bool { n, _ := app.alive(); return n > 5 })
	t.Logf("VPN up %s after the daemon started", up.Sub(d.lines[0].at).Round(time.Millisecond))

	pulled := time.Now()
	if err := r.h.Pull(0); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the tunnel over veth1", 5*time.Second, func() bool { return r.tunnelOn(realvpn.Cert, "veth1") })
	resumed := waitUntil(t, "the app's session resumed", 5*time.Second, func() bool { return !app.resumedAfter(time.Now().Add(-10 * time.Millisecond)).IsZero() })
	t.Logf("pull → the app's session carrying again: %v", resumed.Sub(pulled).Round(time.Millisecond))
	if _, again := r.h.Tunnel(realvpn.Cert); again != inner {
		t.Fatalf("inner address %s after the failover, was %s", again, inner)
	}
	// NetworkManager takes the pulled cable down ~6 s after the pull.
	time.Sleep(8 * time.Second)
	if n, err := app.alive(); err != nil {
		t.Fatalf("the app's session ended after %d lines: %v", n, err)
	}
	if f := d.linesWith("VPN NHS-VPN failed"); len(f) > 0 {
		t.Fatalf("NetworkManager's teardown counted as a VPN failure: %v\n%s", f, d.log())
	}
	plugged := time.Now()
	if err := r.h.Plug(0); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the tunnel back over veth0", 20*time.Second, func() bool { return r.tunnelOn(realvpn.Cert, "veth0") })
	t.Logf("plug → fail-back with the tunnel over veth0: %v", time.Since(plugged).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	if n, err := app.alive(); err != nil {
		t.Fatalf("the app's session ended at the fail-back after %d lines: %v", n, err)
	}
	if gap := app.longestGap(pulled); gap > 2*time.Second {
		t.Errorf("the app's session was silent for %v", gap)
	}
	if re := d.linesWith("Reconnecting VPN NHS-VPN"); len(re) != 2 {
		t.Errorf("%d re-makes for two changes of path:\n%s", len(re), d.log())
	}
	d.stop()
	noOrphans(t, r.h)
}

// TestRealVPNWithSecondariesSetByIT: IT made the VPN a secondary of the
// cable's profile (connection.secondaries), so NetworkManager starts it
// with the cable itself. fieldlink leaves that alone: it starts nothing
// of its own while NetworkManager's activation runs, still re-makes the
// VPN over the backup when the cable is pulled, and when the cable comes
// back NetworkManager's own secondary start is taken as it is (no second
// start from fieldlink at the same moment); after the fail-back the VPN
// is over the cable.
func TestRealVPNWithSecondariesSetByIT(t *testing.T) {
	h := startVPNHarness(t)
	uuid, err := h.Import(realvpn.Profile{Name: "NHS-VPN", Kind: realvpn.Cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Nmcli("connection", "modify", "wired1", "connection.secondaries", uuid); err != nil {
		t.Fatal(err)
	}
	h.Nmcli("connection", "up", "wired1") // NetworkManager starts the VPN with it
	r := &vpnRig{h: h, profile: "NHS-VPN", uuid: uuid}
	waitUntil(t, "NetworkManager's own start of the VPN", 20*time.Second, func() bool { return r.tunnelOn(realvpn.Cert, "veth0") })
	r.d = startDaemonConfig(t, h.Harness, vpnPolicy+"profile = \"NHS-VPN\"\n")
	d := r.d
	d.waitLine(t, "level veth0: GO", 10*time.Second)
	time.Sleep(2 * time.Second)
	if n := len(d.linesWith("Starting VPN NHS-VPN")); n != 0 {
		t.Fatalf("fieldlink started a VPN NetworkManager already had up:\n%s", d.log())
	}
	h.Pull(0)
	waitUntil(t, "the tunnel over veth1", 5*time.Second, func() bool { return r.tunnelOn(realvpn.Cert, "veth1") })
	time.Sleep(8 * time.Second) // NetworkManager takes wired1 down
	h.Plug(0)
	time.Sleep(3 * time.Second)
	waitUntil(t, "the tunnel back over veth0", 30*time.Second, func() bool { return r.tunnelOn(realvpn.Cert, "veth0") })
	time.Sleep(3 * time.Second)
	if !r.tunnelOn(realvpn.Cert, "veth0") || r.h.PingThrough(realvpn.Cert) != nil {
		t.Fatalf("the VPN did not stay over veth0:\n%s", d.log())
	}
	if len(d.linesWith("Handing VPN NHS-VPN to veth0")) != 1 {
		t.Fatalf("the VPN was not handed to the cable that brings it:\n%s", d.log())
	}
	t.Logf("fieldlink's re-makes: %d; VPN up events: %d", len(d.linesWith("Reconnecting VPN NHS-VPN")), len(d.linesWith("VPN NHS-VPN up over")))
	if f := d.linesWith("VPN NHS-VPN failed"); len(f) > 0 {
		t.Fatalf("failures: %v\n%s", f, d.log())
	}
	d.stop()
	noOrphans(t, h)
}

// vpnDetailsAgree: what a technician reads of the VPN (`status --json`,
// the details pane) is what NetworkManager has: the profile's server, the
// tunnel's own address and the routes the server pushed, as nmcli says.
func vpnDetailsAgree(t *testing.T, r *vpnRig, inner string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := fieldlinkCmd(ctx, t, r.h.Harness, "status", "--json").Output()
	if err != nil {
		t.Fatalf("status --json: %v", err)
	}
	var d status.Doc
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	l := (&netstate.Snapshot{Links: d.Links}).Link("vpn:" + r.profile)
	if l == nil {
		t.Fatalf("no VPN link in status --json: %s", out)
	}
	data, _ := r.h.Nmcli("-g", "vpn.data", "connection", "show", r.profile)
	remote := ""
	for _, kv := range strings.Split(strings.TrimSpace(data), ", ") {
		if k, v, ok := strings.Cut(kv, " = "); ok && k == "remote" {
			remote = strings.ReplaceAll(v, `\:`, ":") // -g escapes its separator
		}
	}
	if remote == "" || l.Server != remote {
		t.Errorf("VPN server: fieldlink %q, nmcli's vpn.data remote %q", l.Server, remote)
	}
	if len(l.Addresses) != 1 || !strings.HasPrefix(l.Addresses[0], inner+"/") {
		t.Errorf("tunnel address: fieldlink %v, the tunnel's %s", l.Addresses, inner)
	}
	dev, _ := r.h.Tunnel(realvpn.Cert)
	ours, theirs := routesBeside(r.h.Harness, dev, l.Routes)
	if len(ours) == 0 || !slices.Equal(ours, theirs) {
		t.Errorf("pushed routes: fieldlink %q, nmcli on %s %q", ours, dev, theirs)
	}
	t.Logf("VPN details: server %s, tunnel %v, %d pushed routes, as nmcli", l.Server, l.Addresses, len(l.Routes))
}
