package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/testbed/realvpn"
)

// TestRealVPNBadProfilesSayWhy: a server that is not there, a certificate
// that has expired, a CA the server's certificate is not from, a profile
// of a VPN whose plugin is not installed: NetworkManager says only "timed
// out" or names a service; fieldlink says in one line which profile and
// why, backs off rather than loops, and its journal stays whole.
func TestRealVPNBadProfilesSayWhy(t *testing.T) {
	h := startVPNHarness(t)
	for _, p := range []realvpn.Profile{{Name: "unreachable", Kind: realvpn.Cert, Port: 1199}, {Name: "expired", Kind: realvpn.Cert, Expired: true},
		{Name: "wrong-ca", Kind: realvpn.Cert, OtherCA: true}} {
		if _, err := h.Import(p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Nmcli("connection", "add", "type", "vpn", "con-name", "other-type", "vpn-type", "vpnc",
		"vpn.data", "IPSec gateway=10.77.0.1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ profile, want string }{
		{"unreachable", "VPN unreachable: its server 10.77.0.1:1199 does not answer"},
		{"expired", "VPN expired: its certificate (" + h.PKI.ExpiredCert + ") expired on "},
		{"wrong-ca", "VPN wrong-ca: its server 10.77.0.1:1194 answers but the secure log-in did not complete: check that the profile's CA certificate (" + h.PKI.OtherCA + ")"},
		{"other-type", "VPN other-type failed: this laptop has no VPN plugin for vpnc (network-manager-vpnc is not installed)"},
	} {
		t.Run(c.profile, func(t *testing.T) {
			d := startDaemonConfig(t, h.Harness, vpnPolicy+fmt.Sprintf("profile = %q\nactivation_timeout = \"6s\"\n", c.profile))
			started := time.Now()
			d.waitLine(t, c.want, 20*time.Second)
			// Back-off, not a loop: 2 s, then 4 s between tries.
			time.Sleep(8 * time.Second)
			if n := len(d.linesWith("Starting VPN " + c.profile)); n > 3 {
				t.Errorf("%d starts in %v:\n%s", n, time.Since(started).Round(time.Second), d.log())
			}
			// fieldlink's own taking down of an attempt that timed out is
			// not a second failure (it once doubled the back-off).
			if own := d.linesWith("failed: disconnected by the user"); len(own) > 0 {
				t.Errorf("the attempt fieldlink took down told as a failure:\n%s", d.log())
			}
			d.stop()
			h.Nmcli("connection", "down", c.profile)
			out, err := exec.Command(binary(t), "journal", "check", "--state-dir", d.state).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "integrity   ok") {
				t.Fatalf("journal check: %v\n%s", err, out)
			}
		})
	}
}
