// Package vpncheck says why an OpenVPN profile does not connect, from
// what fieldlink can check itself when NetworkManager only says "timed
// out": the profile's certificate files (missing, unreadable, expired,
// not yet valid) and whether its server answers at all (an OpenVPN
// server answers a client's first handshake packet before any
// certificate is looked at).
package vpncheck

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// OpenVPN is NetworkManager's service type of OpenVPN profiles.
const OpenVPN = "org.freedesktop.NetworkManager.openvpn"

// Profile is what a check needs of a NetworkManager VPN profile.
type Profile struct {
	Name    string
	Service string            // vpn.service-type
	Data    map[string]string // vpn.data
}

// Diagnose returns the likeliest cause, in words for the clinician and
// IT, or "" when nothing fieldlink can check is wrong (or the profile is
// not OpenVPN's).
func Diagnose(ctx context.Context, p Profile, now time.Time) string {
	if p.Service != OpenVPN {
		return ""
	}
	if why := checkFiles(p.Data, now); why != "" {
		return why
	}
	remote, network, ok := remoteOf(p.Data)
	if !ok {
		return ""
	}
	if p.Data["ta"] != "" || p.Data["tls-crypt"] != "" || p.Data["tls-crypt-v2"] != "" {
		// The server drops packets without the shared key: silence would
		// prove nothing.
		return ""
	}
	answered, err := Answers(ctx, network, remote)
	switch {
	case err != nil:
		return ""
	case !answered:
		return fmt.Sprintf("its server %s does not answer (down, or blocked on this network)", remote)
	}
	return fmt.Sprintf("its server %s answers but the secure log-in did not complete: check that the profile's CA certificate (%s) is the one that signed the server's",
		remote, p.Data["ca"])
}

// checkFiles looks at the profile's CA, certificate and key.
func checkFiles(d map[string]string, now time.Time) string {
	for _, k := range []string{"ca", "cert", "key"} {
		path := d[k]
		if path == "" || strings.HasPrefix(path, "pkcs11:") {
			continue
		}
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Sprintf("its %s file %s is missing", fileWord(k), path)
		case err != nil:
			return fmt.Sprintf("its %s file %s cannot be read: %v", fileWord(k), path, errors.Unwrap(err))
		}
		if k == "key" {
			continue
		}
		if why := certDates(b, fileWord(k), path, now); why != "" {
			return why
		}
	}
	return ""
}

// certDates reads the first certificate of a PEM file and says whether
// it is outside its dates.
func certDates(b []byte, what, path string, now time.Time) string {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return fmt.Sprintf("its %s file %s holds no certificate", what, path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Sprintf("its %s file %s is not a certificate fieldlink can read: %v", what, path, err)
	}
	switch {
	case now.After(c.NotAfter):
		return fmt.Sprintf("its %s (%s) expired on %s: IT issues a new one", what, path, c.NotAfter.Local().Format("2 Jan 2006"))
	case now.Before(c.NotBefore):
		return fmt.Sprintf("its %s (%s) is not valid until %s: is this laptop's clock right?", what, path, c.NotBefore.Local().Format("2 Jan 2006 15:04"))
	}
	return ""
}

func fileWord(k string) string {
	switch k {
	case "ca":
		return "CA certificate"
	case "cert":
		return "certificate"
	}
	return "private key"
}

// remoteOf is the profile's first server, as host:port, and its transport.
func remoteOf(d map[string]string) (string, string, bool) {
	first := strings.TrimSpace(strings.Split(d["remote"], ",")[0])
	if first == "" {
		return "", "", false
	}
	f := strings.Fields(first) // "host:port:proto" or "host port"
	spec := strings.Join(f, ":")
	parts := strings.Split(spec, ":")
	host, port, network := parts[0], d["port"], "udp"
	if len(parts) > 1 && parts[1] != "" {
		port = parts[1]
	}
	if len(parts) > 2 && strings.HasPrefix(parts[2], "tcp") {
		network = "tcp"
	}
	if d["proto-tcp"] == "yes" {
		network = "tcp"
	}
	if port == "" {
		port = "1194"
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", "", false
	}
	return net.JoinHostPort(host, port), network, true
}

// Answers reports whether an OpenVPN server answers at addr: over UDP, a
// client's hard reset (P_CONTROL_HARD_RESET_CLIENT_V2) is sent three
// times, half a second apart, and any reply counts; over TCP, a
// connection that opens does.
func Answers(ctx context.Context, network, addr string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if network == "tcp" {
		if err != nil {
			return false, nil
		}
		c.Close()
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer c.Close()
	pkt := hardReset()
	buf := make([]byte, 2048)
	for i := 0; i < 3 && ctx.Err() == nil; i++ {
		if _, err := c.Write(pkt); err != nil {
			return false, nil // refused at once: nothing listens
		}
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil && n > 0 && buf[0]>>3 == 8 { // P_CONTROL_HARD_RESET_SERVER_V2
			return true, nil
		}
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			return false, nil // ICMP port unreachable
		}
	}
	return false, nil
}

// hardReset is a client's first packet: opcode 7, key 0, a random
// session id, no acknowledgements, packet id 0.
func hardReset() []byte {
	p := make([]byte, 1+8+1+4)
	p[0] = 7 << 3
	rand.Read(p[1:9])
	return p
}
