package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/testbed/realvpn"
)

// screenAt is where the clinician types: a fieldlink TUI (a client of the
// daemon, as another account; the kiosk, likewise; or the TUI in charge
// itself, with no daemon).
type screenAt string

const (
	tuiClient   screenAt = "tui-client"
	kioskClient screenAt = "kiosk-client"
	tuiInCharge screenAt = "tui-in-charge"
)

// secretsRig is the VPN harness with the clinician's screen up.
type secretsRig struct {
	*vpnRig
	screen *ptyProc
	holder *daemonRun // nil when the TUI is in charge
}

// startSecretsRig starts the harness, the profile, the one in charge and
// the clinician's screen where the prompts must appear.
func startSecretsRig(t testing.TB, where screenAt, p realvpn.Profile) *secretsRig {
	t.Helper()
	h := startVPNHarness(t)
	uuid, err := h.Import(p)
	if err != nil {
		t.Fatal(err)
	}
	r := &secretsRig{vpnRig: &vpnRig{h: h, profile: p.Name, uuid: uuid}}
	config := vpnPolicy + fmt.Sprintf("profile = %q\n", p.Name)
	env := []string{"DBUS_SYSTEM_BUS_ADDRESS=" + h.BusAddress, "FIELDLINK_RUNTIME_DIR=" + h.RunDir(), "TERM=xterm-256color", "LANG=C.UTF-8"}
	switch where {
	case tuiInCharge:
		dir := t.TempDir()
		cfg := filepath.Join(dir, "config.toml")
		os.WriteFile(cfg, []byte(config), 0o600)
		r.screen = startOnPTYWith(t, ptyOptions{state: filepath.Join(dir, "state"), want: "fieldlink", env: env, netns: h.DUT},
			"--config", cfg)
	default:
		r.d = startDaemonConfig(t, h.Harness, config)
		r.holder = r.d
		nurse := testAccount(t)
		nurse.joinGroup(t)
		home := nurse.ownDir(t, h.RunDir(), "nurse")
		cfg := filepath.Join(home, "config.toml")
		os.WriteFile(cfg, []byte(""), 0o600)
		os.Chown(cfg, nurse.uid, nurse.gid)
		args := []string{"--config", cfg}
		if where == kioskClient {
			args = append(args, "--kiosk")
		}
		r.screen = startOnPTYWith(t, ptyOptions{state: filepath.Join(home, "state"), want: "fieldlink", env: append(env, "HOME="+home),
			as: nurse.cred(t)}, args...)
	}
	return r
}

// answer waits for a prompt holding want on the screen and types text.
func (r *secretsRig) answer(t *testing.T, from int, want, text string) int {
	t.Helper()
	waitUntil(t, fmt.Sprintf("a prompt %q", want), 20*time.Second, func() bool { return strings.Contains(r.screen.since(from), want) })
	time.Sleep(100 * time.Millisecond)
	at := r.screen.mark()
	r.screen.send(text + "\r")
	return at
}

// log is what the one in charge said: the daemon's log, or the TUI's
// events as its screen showed them.
func (r *secretsRig) log() string {
	if r.holder != nil {
		return r.holder.log()
	}
	return r.screen.screen()
}

// vpnUp waits for the VPN up over dev.
func (r *secretsRig) vpnUp(t testing.TB, k realvpn.Kind, dev string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r.tunnelOn(k, dev) && r.h.PingThrough(k) == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the VPN is not up over %s; log:\n%s\nplugin:\n%s", dev, r.log(), tailText(r.h.Log("plugin-nm-openvpn-service.log"), 30))
}

func tailText(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// noSecretAnywhere checks the places a secret must never reach: the saved
// profile, the one in charge's log (and journal, which it writes the same
// events to), and every frame of the screen.
func (r *secretsRig) noSecretAnywhere(t *testing.T, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if keyfileHolds(t, r.h, s) {
			t.Errorf("NetworkManager's saved profile holds a secret")
		}
		if strings.Contains(r.log(), s) {
			t.Errorf("a secret reached the log")
		}
		if strings.Contains(r.screen.screen(), s) {
			t.Errorf("a secret reached the screen")
		}
		if r.holder != nil {
			filepath.Walk(r.holder.state, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					if b, _ := os.ReadFile(p); strings.Contains(string(b), s) {
						t.Errorf("a secret reached %s", p)
					}
				}
				return nil
			})
		}
	}
}

// TestRealVPNSecretsOnEveryScreen: a password VPN, on the real plugin,
// with the clinician at a TUI that is a client of the daemon (another
// account), at the kiosk (likewise), and at a TUI in charge: the prompt
// appears where the clinician is, the password brings the VPN up, three
// failovers and fail-backs re-make it from memory without a prompt, and
// the password is nowhere but NetworkManager.
func TestRealVPNSecretsOnEveryScreen(t *testing.T) {
	for _, where := range []screenAt{tuiClient, kioskClient, tuiInCharge} {
		t.Run(string(where), func(t *testing.T) {
			r := startSecretsRig(t, where, realvpn.Profile{Name: "NHS-VPN", Kind: realvpn.Pass})
			r.answer(t, 0, "VPN NHS-VPN needs your log-in", realvpn.Password)
			r.vpnUp(t, realvpn.Pass, "veth0")
			mark := r.screen.mark()
			for i := 0; i < 3; i++ {
				r.h.Pull(0)
				r.vpnUp(t, realvpn.Pass, "veth1")
				r.h.Plug(0)
				r.vpnUp(t, realvpn.Pass, "veth0")
			}
			if strings.Contains(r.screen.since(mark), "needs your log-in") {
				t.Fatalf("asked again after the start of the day:\n%s", r.log())
			}
			var ok int
			for _, a := range r.h.Attempts() {
				if a.Verdict == "ok" {
					ok++
				}
			}
			if ok < 7 {
				t.Fatalf("%d log-ins reached the server, want 7 (the first and six re-makes): %+v", ok, r.h.Attempts())
			}
			if !strings.Contains(r.log(), "with today's log-in") {
				t.Fatalf("log:\n%s", r.log())
			}
			r.noSecretAnywhere(t, realvpn.Password)
		})
	}
}

// TestRealVPNRefusedPasswordStopsAfterOneReAsk: the clinician types a
// wrong password; the server refuses it; the screen asks once more, in
// words; refused again, fieldlink stops (no minute of NetworkManager
// asking once a second) and says so; the server saw two attempts; the
// profile is not poisoned: c and the right password bring it up.
func TestRealVPNRefusedPasswordStopsAfterOneReAsk(t *testing.T) {
	r := startSecretsRig(t, tuiClient, realvpn.Profile{Name: "NHS-VPN", Kind: realvpn.Pass})
	at := r.answer(t, 0, "VPN NHS-VPN needs your log-in", "wrong-1")
	at = r.answer(t, at, "The VPN server refused that password. Type it again (one more try).", "wrong-2")
	waitUntil(t, "the clear stop", 20*time.Second, func() bool {
		return strings.Contains(r.log(), "The VPN server refused the password for NHS-VPN: not trying again")
	})
	defer func() {
		if t.Failed() {
			t.Logf("daemon:\n%s", r.log())
		}
	}()
	waitUntil(t, "the stop on screen", 10*time.Second, func() bool {
		return strings.Contains(r.screen.since(at), "refused the password")
	})
	time.Sleep(5 * time.Second)
	var tries int
	for _, a := range r.h.Attempts() {
		if a.Kind == realvpn.Pass {
			tries++
		}
	}
	if tries != 2 {
		t.Fatalf("the server saw %d attempts, want 2: %+v", tries, r.h.Attempts())
	}
	if starts := r.d.linesWith("Starting VPN NHS-VPN"); len(starts) != 1 {
		t.Fatalf("a refused password was retried on its own: %d starts\n%s", len(starts), r.log())
	}
	mark := r.screen.mark()
	r.screen.send("c")
	r.answer(t, mark, "VPN NHS-VPN needs your log-in", realvpn.Password)
	r.vpnUp(t, realvpn.Pass, "veth0")
	r.noSecretAnywhere(t, "wrong-1", "wrong-2", realvpn.Password)
}

// TestRealVPNChallengeAndPassphrase: a password then a one-time code, in
// the server's own words, answered as the password key; with the
// server's day sessions a failover needs no new code, without them each
// re-make asks for one (never the password again). And a certificate key
// under a passphrase (the smartcard PIN's stand-in) asks for it by name.
func TestRealVPNChallengeAndPassphrase(t *testing.T) {
	t.Run("challenge", func(t *testing.T) {
		r := startSecretsRig(t, tuiClient, realvpn.Profile{Name: "NHS-VPN", Kind: realvpn.Challenge})
		at := r.answer(t, 0, "VPN NHS-VPN needs your log-in", realvpn.Password)
		r.answer(t, at, "Enter the 6-digit code", "123456")
		r.vpnUp(t, realvpn.Challenge, "veth0")
		// Without day sessions: a re-make needs a new code.
		r.h.SetCode("222222")
		mark := r.screen.mark()
		r.h.Pull(0)
		r.answer(t, mark, "Enter the 6-digit code", "222222")
		r.vpnUp(t, realvpn.Challenge, "veth1")
		if strings.Contains(r.screen.since(mark), "needs your log-in") {
			t.Fatal("the password was asked for again")
		}
		// With them: the next failback re-makes with no prompt at all.
		r.h.DaySessions(true)
		r.h.Plug(0)
		r.vpnUp(t, realvpn.Challenge, "veth0")
		// The session began with the code typed while day sessions were
		// off; the fail-back's log-in passed the challenge once more, so
		// from now on none is needed.
		mark = r.screen.mark()
		r.h.Pull(0)
		r.vpnUp(t, realvpn.Challenge, "veth1")
		r.h.Plug(0)
		r.vpnUp(t, realvpn.Challenge, "veth0")
		if s := r.screen.since(mark); strings.Contains(s, "one-time code") || strings.Contains(s, "needs your log-in") {
			t.Fatalf("asked again with day sessions on:\n%+v", r.h.Attempts())
		}
		r.noSecretAnywhere(t, realvpn.Password)
	})
	t.Run("passphrase", func(t *testing.T) {
		r := startSecretsRig(t, tuiClient, realvpn.Profile{Name: "NHS-VPN", Kind: realvpn.Cert, Locked: true})
		r.answer(t, 0, "Key passphrase (smartcard PIN)", r.h.PKI.Passphrase)
		r.vpnUp(t, realvpn.Cert, "veth0")
		mark := r.screen.mark()
		r.h.Pull(0)
		r.vpnUp(t, realvpn.Cert, "veth1")
		// The prompt's own label (the events pane, redrawn as it scrolls,
		// still names the first answer), and the daemon's count of asks.
		if strings.Contains(r.screen.since(mark), "Key passphrase (smartcard PIN)") ||
			strings.Count(r.log(), "prompt: NetworkManager asks") != 1 {
			t.Fatal("the passphrase was asked for again")
		}
		r.noSecretAnywhere(t, r.h.PKI.Passphrase)
	})
}

// TestRealVPNAppStartsOnceOverFailovers: the clinician's TUI (a client of
// the daemon) starts the clinical application once the VPN is up, and
// never again while the VPN is re-made over failovers and fail-backs.
func TestRealVPNAppStartsOnceOverFailovers(t *testing.T) {
	h := startVPNHarness(t)
	if _, err := h.Import(realvpn.Profile{Name: "NHS-VPN", Kind: realvpn.Cert}); err != nil {
		t.Fatal(err)
	}
	r := &secretsRig{vpnRig: &vpnRig{h: h, profile: "NHS-VPN"}}
	r.d = startDaemonConfig(t, h.Harness, vpnPolicy+"profile = \"NHS-VPN\"\n")
	r.holder = r.d
	nurse := testAccount(t)
	nurse.joinGroup(t)
	home := nurse.ownDir(t, h.RunDir(), "nurse")
	starts := filepath.Join(home, "starts")
	cfg := filepath.Join(home, "config.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[app]
name = "Clinical record"
command = ["/bin/sh", "-c", "date +%%s.%%N >> %s; exec sleep 600"]
launch = "on-vpn-up"
terminal = false
`, starts)), 0o600)
	os.Chown(cfg, nurse.uid, nurse.gid)
	env := []string{"DBUS_SYSTEM_BUS_ADDRESS=" + h.BusAddress, "FIELDLINK_RUNTIME_DIR=" + h.RunDir(), "TERM=xterm-256color", "LANG=C.UTF-8", "HOME=" + home}
	r.screen = startOnPTYWith(t, ptyOptions{state: filepath.Join(home, "state"), want: "fieldlink", env: env, as: nurse.cred(t)}, "--config", cfg)
	r.vpnUp(t, realvpn.Cert, "veth0")
	up := r.d.waitLine(t, "VPN NHS-VPN up over", 5*time.Second)
	waitUntil(t, "the app started", 10*time.Second, func() bool { b, _ := os.ReadFile(starts); return len(b) > 0 })
	for i := 0; i < 2; i++ {
		h.Pull(0)
		r.vpnUp(t, realvpn.Cert, "veth1")
		h.Plug(0)
		r.vpnUp(t, realvpn.Cert, "veth0")
	}
	b, _ := os.ReadFile(starts)
	lines := strings.Fields(string(b))
	if len(lines) != 1 {
		t.Fatalf("the app started %d times over 4 re-makes", len(lines))
	}
	var sec, nsec int64
	fmt.Sscanf(lines[0], "%d.%d", &sec, &nsec)
	if at := time.Unix(sec, nsec); at.Before(up.Add(-50 * time.Millisecond)) {
		t.Fatalf("the app started at %v, before the VPN was up at %v", at, up)
	}
	exec.Command("pkill", "-u", nurse.name, "sleep").Run()
}
