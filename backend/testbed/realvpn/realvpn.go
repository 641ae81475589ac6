// Package realvpn runs real OpenVPN servers at a "hospital" address behind
// the real-NetworkManager harness, and imports client profiles that
// NetworkManager's own OpenVPN plugin (network-manager-openvpn) brings up
// (../shared/recipes/real-openvpn.md). The servers answer for every
// log-in a trust uses: certificate alone, certificate and password, a
// password then a one-time code (OpenVPN's dynamic challenge), and one
// that refuses every password. All of them are reached over either cable,
// so a failover changes the path to the same server.
package realvpn

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/testbed/integration"
	"github.com/fieldlink/fieldlink/backend/testbed/realnm"
)

// ServerAddr is the hospital's VPN address: on the far end of the cables,
// reached over whichever carries the default route.
const ServerAddr = "10.77.0.1"

// The test account every password server knows.
const (
	User     = "alice"
	Password = "s3cret"
)

// Kind is what a server asks of a client.
type Kind string

// The servers' kinds.
const (
	Cert      Kind = "cert"      // the certificate alone
	Pass      Kind = "pass"      // certificate, then user and password
	Challenge Kind = "challenge" // certificate, password, then a one-time code (CRV1)
	Refuse    Kind = "refuse"    // certificate, then refuses every password
)

// Server is one OpenVPN server of the harness.
type Server struct {
	Kind Kind
	Port int
	// Net is the tunnel subnet's first three octets: the server is
	// Net+".1" inside the tunnel.
	Net string
	cmd *exec.Cmd
	log string
}

// Inner is the server's address inside its tunnel.
func (s *Server) Inner() string { return s.Net + ".1" }

var servers = []Server{
	{Kind: Cert, Port: 1194, Net: "10.8.77"},
	{Kind: Pass, Port: 1195, Net: "10.8.78"},
	{Kind: Challenge, Port: 1196, Net: "10.8.79"},
	{Kind: Refuse, Port: 1197, Net: "10.8.80"},
}

// Options shape the harness.
type Options struct {
	// Cables is how many cables the device has (default 2: the primary
	// and a backup standing in for cellular).
	Cables int
}

// Harness is NetworkManager with its OpenVPN plugin in the device's
// namespace, and the hospital's servers on the cables' far end.
type Harness struct {
	*realnm.Harness
	PKI     *PKI
	Dir     string // servers' configs, scripts, logs and state
	servers map[Kind]*Server
}

// Start brings the harness up; it is torn down at test cleanup, with every
// process it or NetworkManager started. Without root or the Debian
// packages the test skips loudly (fails in CI).
func Start(tb testing.TB, opt Options) *Harness {
	tb.Helper()
	integration.NeedRoot(tb)
	integration.NeedCommands(tb, "openvpn", "openssl", "ping")
	if _, err := os.Stat("/usr/lib/NetworkManager/nm-openvpn-service"); err != nil {
		integration.Skip(tb, "network-manager-openvpn is not installed")
	}
	if opt.Cables <= 0 {
		opt.Cables = 2
	}
	nm := realnm.Start(tb, realnm.Options{Cables: opt.Cables, VPN: true})
	h := &Harness{Harness: nm, Dir: filepath.Join(nm.Dir, "hospital"), servers: map[Kind]*Server{}}
	if err := h.start(); err != nil {
		h.Stop()
		tb.Fatalf("real VPN harness: %v", err)
	}
	tb.Cleanup(h.Stop)
	return h
}

func (h *Harness) start() error {
	if err := os.MkdirAll(filepath.Join(h.Dir, "sessions"), 0o755); err != nil {
		return err
	}
	pki, err := newPKI(filepath.Join(h.Dir, "pki"))
	if err != nil {
		return err
	}
	h.PKI = pki
	if out, err := exec.Command("ip", "-n", h.Peer, "addr", "add", ServerAddr+"/32", "dev", "lo").CombinedOutput(); err != nil {
		return fmt.Errorf("hospital address: %v: %s", err, out)
	}
	if err := h.writeScripts(); err != nil {
		return err
	}
	h.SetPassword(Password)
	h.SetCode("123456")
	for _, s := range servers {
		s := s
		if err := h.startServer(&s); err != nil {
			return err
		}
		h.servers[s.Kind] = &s
	}
	for _, s := range h.servers {
		if err := waitLog(s.log, "Initialization Sequence Completed", 15*time.Second); err != nil {
			return fmt.Errorf("OpenVPN server %s: %w\n%s", s.Kind, err, tail(s.log))
		}
	}
	return nil
}

// Server returns the harness's server of a kind.
func (h *Harness) Server(k Kind) *Server { return h.servers[k] }

// checkScript is the servers' auth-user-pass-verify script: it reads the
// user and password OpenVPN wrote (via-file), logs the attempt without
// the secret, and decides by the server's kind. The challenge server
// follows OpenVPN's dynamic-challenge protocol: the right password gets a
// CRV1 challenge in $auth_failed_reason_file, and the next attempt
// carries "CRV1::STATE::CODE". With day sessions on (the file
// day-sessions), a certificate and password that passed the challenge
// today pass again without it: the server setting that makes one code
// last a working day.
const checkScript = `#!/bin/sh
D=%[1]q
kind=$(basename "$0" .sh); kind=${kind#check-}
u=$(sed -n 1p "$1"); p=$(sed -n 2p "$1")
want=$(cat "$D/password"); code=$(cat "$D/code")
day=$(date +%%F); sess="$D/sessions/${common_name}-${u}-${day}"
verdict=refused
case "$kind" in
pass)
	[ "$u" = %[2]s ] && [ "$p" = "$want" ] && verdict=ok ;;
challenge)
	if [ "$u" = %[2]s ] && [ "$p" = "$want" ]; then
		if [ -f "$D/day-sessions" ] && [ -f "$sess" ]; then
			verdict=ok-day-session
		else
			printf 'CRV1:R,E:st42:%%s:Enter the 6-digit code' "$(printf %%s "$u" | base64)" > "$auth_failed_reason_file"
			verdict=challenged
		fi
	elif [ "$u" = %[2]s ] && [ "$p" = "CRV1::st42::$code" ]; then
		verdict=ok-code; touch "$sess"
	fi ;;
esac
echo "$(date +%%s.%%N) $kind cn=$common_name user=$u $verdict" >> "$D/auth.log"
case "$verdict" in ok*) exit 0 ;; esac
exit 1
`

func (h *Harness) writeScripts() error {
	for _, k := range []Kind{Pass, Challenge, Refuse} {
		path := filepath.Join(h.Dir, "check-"+string(k)+".sh")
		if err := os.WriteFile(path, []byte(fmt.Sprintf(checkScript, h.Dir, User)), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func (h *Harness) startServer(s *Server) error {
	lines := []string{"dev fls-" + string(s.Kind), "dev-type tun", "proto udp", "local " + ServerAddr, "port " + strconv.Itoa(s.Port),
		"topology subnet", "server " + s.Net + ".0 255.255.255.0", "ca " + h.PKI.CA, "cert " + h.PKI.ServerCert,
		"key " + h.PKI.ServerKey, "dh none", "keepalive 2 10", "verb 3", "tmp-dir " + h.Dir}
	if s.Kind != Cert {
		lines = append(lines, "script-security 2", "auth-user-pass-verify "+filepath.Join(h.Dir, "check-"+string(s.Kind)+".sh")+" via-file")
	}
	conf := filepath.Join(h.Dir, "server-"+string(s.Kind)+".conf")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	s.log = filepath.Join(h.Dir, "server-"+string(s.Kind)+".log")
	f, err := os.Create(s.log)
	if err != nil {
		return err
	}
	defer f.Close()
	s.cmd = exec.Command("ip", "netns", "exec", h.Peer, "openvpn", "--config", conf)
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		return err
	}
	h.Track(s.cmd)
	return nil
}

// StopServer stops a server (the hospital's VPN is down) and StartServer
// brings it back.
func (h *Harness) StopServer(k Kind) error {
	s := h.servers[k]
	if s == nil || s.cmd == nil {
		return fmt.Errorf("no %s server running", k)
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
	return nil
}

// StartServer starts a stopped server again and waits until it serves.
func (h *Harness) StartServer(k Kind) error {
	s := h.servers[k]
	if s == nil {
		return fmt.Errorf("no %s server", k)
	}
	if s.cmd != nil {
		return nil
	}
	if err := h.startServer(s); err != nil {
		return err
	}
	return waitLog(s.log, "Initialization Sequence Completed", 15*time.Second)
}

// SetPassword changes the password the servers accept (a password changed
// at the trust, so the remembered one is refused).
func (h *Harness) SetPassword(pw string) {
	os.WriteFile(filepath.Join(h.Dir, "password"), []byte(pw), 0o600)
}

// SetCode sets the one-time code the challenge server accepts now.
func (h *Harness) SetCode(code string) {
	os.WriteFile(filepath.Join(h.Dir, "code"), []byte(code), 0o600)
}

// DaySessions turns the challenge server's day sessions on or off.
func (h *Harness) DaySessions(on bool) {
	p := filepath.Join(h.Dir, "day-sessions")
	if on {
		os.WriteFile(p, []byte("on\n"), 0o644)
		return
	}
	os.Remove(p)
}

// Attempt is one log-in a server checked.
type Attempt struct {
	Kind    Kind
	User    string
	Verdict string // ok, ok-code, ok-day-session, challenged, refused
}

// Attempts lists the log-ins the servers checked, oldest first.
func (h *Harness) Attempts() []Attempt {
	b, _ := os.ReadFile(filepath.Join(h.Dir, "auth.log"))
	var out []Attempt
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		out = append(out, Attempt{Kind: Kind(f[1]), User: strings.TrimPrefix(f[3], "user="), Verdict: f[4]})
	}
	return out
}

// Profile describes a client profile to import.
type Profile struct {
	Name string
	Kind Kind
	// Port overrides the server's (a server that is not there).
	Port int
	// Locked uses the client key under its passphrase.
	Locked bool
	// Expired uses the client certificate that has expired; OtherCA
	// trusts a CA the server's certificate is not from.
	Expired, OtherCA bool
	// Extra lines for the .ovpn file.
	Extra []string
}

// Import writes the profile as an .ovpn file, imports it with nmcli as
// NetworkManager's own OpenVPN profile (agent-owned secrets, the user set
// for password servers) and returns its UUID.
func (h *Harness) Import(p Profile) (string, error) {
	s := h.servers[p.Kind]
	if s == nil {
		return "", fmt.Errorf("no %s server", p.Kind)
	}
	port := s.Port
	if p.Port != 0 {
		port = p.Port
	}
	cert, key, ca := h.PKI.ClientCert, h.PKI.ClientKey, h.PKI.CA
	if p.Locked {
		key = h.PKI.ClientKeyLocked
	}
	if p.Expired {
		cert = h.PKI.ExpiredCert
		key = filepath.Join(h.PKI.Dir, "expired.key")
	}
	if p.OtherCA {
		ca = h.PKI.OtherCA
	}
	lines := []string{"client", "dev tun", "proto udp", fmt.Sprintf("remote %s %d", ServerAddr, port), "nobind",
		"ca " + ca, "cert " + cert, "key " + key, "remote-cert-tls server"}
	if p.Kind != Cert {
		lines = append(lines, "auth-user-pass")
	}
	lines = append(lines, p.Extra...)
	file := filepath.Join(h.Dir, p.Name+".ovpn")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return "", err
	}
	if _, err := h.Nmcli("connection", "import", "type", "openvpn", "file", file); err != nil {
		return "", err
	}
	if p.Kind != Cert {
		if _, err := h.Nmcli("connection", "modify", p.Name, "+vpn.data", "username="+User); err != nil {
			return "", err
		}
	}
	out, err := h.Nmcli("-g", "connection.uuid", "connection", "show", p.Name)
	return strings.TrimSpace(out), err
}

// VPNData returns a profile's vpn.data and vpn.secrets as nmcli shows them
// with --show-secrets: what NetworkManager would keep of a secret.
func (h *Harness) VPNData(name string) (string, error) {
	return h.Nmcli("--show-secrets", "-g", "vpn.data,vpn.secrets", "connection", "show", name)
}

// Tunnel returns the device's tun interface and inner address for a
// server's tunnel, if one is up.
func (h *Harness) Tunnel(k Kind) (iface, addr string) {
	out, _ := exec.Command("ip", "-n", h.DUT, "-o", "-4", "addr").Output()
	prefix := h.servers[k].Net + "."
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && strings.HasPrefix(f[3], prefix) {
			return f[1], strings.SplitN(f[3], "/", 2)[0]
		}
	}
	return "", ""
}

// PingThrough pings a server's inner address through its tunnel.
func (h *Harness) PingThrough(k Kind) error {
	iface, _ := h.Tunnel(k)
	if iface == "" {
		return errors.New("no tunnel")
	}
	out, err := exec.Command("ip", "netns", "exec", h.DUT, "ping", "-c", "1", "-W", "1", "-I", iface, h.servers[k].Inner()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ping %s through %s: %v: %s", h.servers[k].Inner(), iface, err, bytes.TrimSpace(out))
	}
	return nil
}

// ListenHospital opens a listener on the hospital's side of the
// tunnels, where the clinical application's server would be.
func (h *Harness) ListenHospital(network, addr string) (net.Listener, error) {
	return h.ListenPeer(network, addr)
}

// Orphans lists the processes still running that the harness or its
// NetworkManager started (plugins, openvpn), by their command lines
// naming the harness's directory.
func Orphans(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	self := strconv.Itoa(os.Getpid())
	for _, p := range procs {
		if strings.Split(p, "/")[2] == self {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		cmd := strings.ReplaceAll(string(bytes.TrimRight(b, "\x00")), "\x00", " ")
		if strings.Contains(cmd, dir) && (strings.Contains(cmd, "openvpn") || strings.Contains(cmd, "NetworkManager")) {
			out = append(out, strings.Split(p, "/")[2]+": "+cmd)
		}
	}
	return out
}

func waitLog(path, sub string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for ctx.Err() == nil {
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(sub)) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no %q within %s", sub, within)
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
