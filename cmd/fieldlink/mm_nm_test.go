package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/testbed/realmm"
	"github.com/fieldlink/fieldlink/backend/testbed/realnm"
)

// TestRealModemManagerWithNetworkManager: NetworkManager's own
// ModemManager support, on the same private bus as the real ModemManager,
// sees the simulated modem; `fieldlink apn --create` makes its mobile
// profile with the APN; when the cable is pulled the daemon fails over to
// it, and that gets as far as this kernel allows: ModemManager connects the
// bearer (method ppp, the modem dialled), then NetworkManager cannot start
// PPP (no ppp_generic module, no pppd). fieldlink says that in words, does
// not call cellular usable, and the work goes back to the cable when it
// returns. ModemManager restarted then moves nothing.
func TestRealModemManagerWithNetworkManager(t *testing.T) {
	nm := oneCable(t)
	h := realmm.Start(t, realmm.Options{BusAddress: nm.BusAddress})
	waitUntil(t, "NetworkManager's modem device", 30*time.Second, func() bool {
		out, _ := nm.Nmcli("-t", "-f", "DEVICE,TYPE", "device")
		return strings.Contains(out, ":gsm")
	})
	profile := createAPNProfile(t, nm)
	if apn, _ := nm.Nmcli("-g", "gsm.apn,connection.autoconnect", "connection", "show", profile); strings.Join(strings.Fields(apn), ":") != "fieldlink.test:no" {
		t.Fatalf("the profile's APN and autoconnect: %q", apn)
	}
	d := startDaemonConfig(t, nm, `
[links]
prefer = ["veth0"]

[[probe.target]]
url = "http://10.99.0.1:8080/health"
`)
	d.waitLine(t, "GO: cable connected, probe", 20*time.Second)
	if err := nm.Pull(0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("NetworkManager:\n%s\nModemManager:\n%s", tailText(nm.NMLog(), 40), tailText(h.MMLog(), 30))
		}
	})
	d.waitLine(t, "PPP failed to start", 30*time.Second)
	if !h.Modem.Dialed() || !strings.Contains(h.MMLog(), "(connecting -> connected)") {
		t.Fatalf("ModemManager did not connect the bearer:\n%s", tailText(h.MMLog(), 30))
	}
	if !strings.Contains(nm.NMLog(), "reason 'ppp-start-failed'") {
		t.Fatalf("NetworkManager failed otherwise:\n%s", tailText(nm.NMLog(), 30))
	}
	for _, l := range strings.Split(d.log(), "\n") {
		if strings.Contains(l, "GO:") && strings.Contains(strings.ToLower(l), "cellular") {
			t.Fatalf("cellular called usable with no data path: %s\n%s", l, d.log())
		}
	}
	plugged := d.mark()
	if err := nm.Plug(0); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, nm, "veth0", 30*time.Second)
	d.waitLineSince(t, plugged, "GO: cable connected", 30*time.Second)
	restartWithoutMove(t, nm, h, d)
	t.Logf("daemon:\n%s", d.log())
}

// restartWithoutMove restarts ModemManager while the cable carries the
// work: the modem goes and comes back, and nothing moves.
func restartWithoutMove(t *testing.T, nm *realnm.Harness, h *realmm.Harness, d *daemonRun) {
	mark := d.mark()
	h.StopMM(os.Interrupt)
	if err := h.StartMM(); err != nil {
		t.Fatal(err)
	}
	if err := h.Plug(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the modem back in NetworkManager", 40*time.Second, func() bool {
		out, _ := nm.Nmcli("-t", "-f", "DEVICE,TYPE,STATE", "device")
		return strings.Contains(out, ":gsm:disconnected")
	})
	time.Sleep(2 * time.Second)
	after := d.logSince(mark)
	for _, bad := range []string{"Switched to", "DO NOT PROCEED", "MARGINAL"} {
		if strings.Contains(after, bad) {
			t.Errorf("ModemManager's restart moved the work or the light (%q):\n%s", bad, after)
		}
	}
	waitRoute(t, nm, "veth0", time.Second)
	t.Logf("after ModemManager's restart:\n%s", after)
}

// oneCable is the real NetworkManager with one cable and a health check
// at its far end.
func oneCable(tb testing.TB) *realnm.Harness {
	tb.Helper()
	h := realnm.Start(tb, realnm.Options{Cables: 1})
	serveHealth(tb, h)
	if err := h.AddProfile("wired1", 0, 100); err != nil {
		tb.Fatal(err)
	}
	if err := h.WaitConnected("veth0", 20*time.Second); err != nil {
		tb.Fatal(err)
	}
	return h
}

// createAPNProfile runs `fieldlink apn --create --apn fieldlink.test` on
// the harness's bus and returns the profile's name.
func createAPNProfile(tb testing.TB, nm *realnm.Harness) string {
	tb.Helper()
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, nil, 0o600)
	cmd := exec.Command(binary(tb), "apn", "--create", "--apn", "fieldlink.test", "--config", cfg)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+nm.BusAddress)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "created profile") {
		tb.Fatalf("fieldlink apn --create: %v\n%s", err, out)
	}
	conns, _ := nm.Nmcli("-t", "-f", "NAME,TYPE", "connection")
	for _, l := range strings.Split(conns, "\n") {
		if name, ok := strings.CutSuffix(l, ":gsm"); ok {
			return name
		}
	}
	tb.Fatalf("no mobile profile in NetworkManager:\n%s", conns)
	return ""
}
