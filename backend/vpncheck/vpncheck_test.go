package vpncheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func certFile(t *testing.T, dir, name string, from, until time.Time) string {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: from, NotAfter: until}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	return p
}

// fakeServer answers OpenVPN hard resets as a server does.
func fakeServer(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if n >= 14 && buf[0]>>3 == 7 {
				c.WriteTo(append([]byte{8 << 3}, buf[1:n]...), from)
			}
		}
	}()
	return c.LocalAddr().String()
}

func TestDiagnoseSaysWhatTheDeviceCanCheck(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	good := certFile(t, dir, "good.crt", now.Add(-time.Hour), now.Add(time.Hour))
	old := certFile(t, dir, "old.crt", now.AddDate(0, 0, -30), now.AddDate(0, 0, -1))
	future := certFile(t, dir, "future.crt", now.AddDate(0, 0, 1), now.AddDate(1, 0, 0))
	key := filepath.Join(dir, "k.key")
	os.WriteFile(key, []byte("x"), 0o600)
	answering := fakeServer(t)
	silent, _ := net.ListenPacket("udp", "127.0.0.1:0") // listens, never answers
	defer silent.Close()
	data := func(cert, remote string) map[string]string {
		return map[string]string{"ca": good, "cert": cert, "key": key, "remote": remote, "connection-type": "tls"}
	}
	for _, c := range []struct {
		name string
		p    Profile
		want string
	}{
		{"not openvpn", Profile{Service: "org.freedesktop.NetworkManager.vpnc", Data: data(good, answering)}, ""},
		{"expired", Profile{Service: OpenVPN, Data: data(old, answering)}, "its certificate (" + old + ") expired on 2 Dec 2026"},
		{"not yet", Profile{Service: OpenVPN, Data: data(future, answering)}, "is not valid until 4 Dec 2026"},
		{"missing", Profile{Service: OpenVPN, Data: data(filepath.Join(dir, "gone.crt"), answering)}, "its certificate file " + dir + "/gone.crt is missing"},
		{"silent", Profile{Service: OpenVPN, Data: data(good, silent.LocalAddr().String())}, "does not answer"},
		{"nothing there", Profile{Service: OpenVPN, Data: data(good, "127.0.0.1:9")}, "does not answer"},
		{"answers", Profile{Service: OpenVPN, Data: data(good, answering)}, "answers but the secure log-in did not complete: check that the profile's CA certificate (" + good + ")"},
		{"tls-auth: cannot tell", Profile{Service: OpenVPN, Data: map[string]string{"ca": good, "cert": good, "remote": silent.LocalAddr().String(), "ta": key}}, ""},
	} {
		got := Diagnose(context.Background(), c.p, now)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestRemoteForms(t *testing.T) {
	for in, want := range map[string][2]string{
		"10.77.0.1:1199":                {"10.77.0.1:1199", "udp"},
		"vpn.trust.nhs.uk":              {"vpn.trust.nhs.uk:1194", "udp"},
		"vpn.trust.nhs.uk:443:tcp, b:1": {"vpn.trust.nhs.uk:443", "tcp"},
		"vpn 1195":                      {"vpn:1195", "udp"},
	} {
		addr, network, ok := remoteOf(map[string]string{"remote": in})
		if !ok || addr != want[0] || network != want[1] {
			t.Errorf("%q: %s %s %v", in, addr, network, ok)
		}
	}
}
