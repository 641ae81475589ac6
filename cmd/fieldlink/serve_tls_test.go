package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/testbed/fleetsample"
	"github.com/fieldlink/fieldlink/backend/testbed/pgtest"
)

// trustCA writes a trust's own CA and a server certificate it signed for
// 127.0.0.1, as PEM files in dir: ca.pem, server.pem, server.key.
func trustCA(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Trust test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "fleet.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	write("server.pem", "CERTIFICATE", leafDER)
	write("server.key", "EC PRIVATE KEY", keyDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

// TestFleetOverHTTPS: the server as deployed, on HTTPS with a certificate
// from the trust's own CA. A device and a viewer that trust that CA
// (ca_file) sync and read; one that does not is refused with words about
// the certificate, and sends nothing; a token is never sent over plain
// http to another machine.
func TestFleetOverHTTPS(t *testing.T) {
	db := pgtest.NewDB(t)
	dir := t.TempDir()
	pool := trustCA(t, dir)
	cfg := filepath.Join(dir, "server.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[server]\nrefresh = \"1s\"\nareas_refresh = \"1s\"\ntls_cert = %q\ntls_key = %q\n",
		filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"))), 0o600)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	srv := startServeWith(t, cfg, db, freePort(t), client)
	devices := fleetsample.Record(t, dir, false)

	out, stderr, code := runCLI(t, "serve", "enroll", fleetsample.Hosts[0], "--db", db, "--config", cfg)
	if code != 0 {
		t.Fatalf("enroll: %d %s %s", code, out, stderr)
	}
	tok := filepath.Join(dir, "token")
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "flk_") {
			os.WriteFile(tok, []byte(l+"\n"), 0o600)
		}
	}
	devCfg := func(name, server, ca string) string {
		p := filepath.Join(dir, name)
		body := fmt.Sprintf("[sync]\nserver = %q\ntoken_file = %q\n", server, tok)
		if ca != "" {
			body += fmt.Sprintf("ca_file = %q\n", ca)
		}
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	ca := filepath.Join(dir, "ca.pem")

	// Not trusting the trust's CA: refused, nothing acknowledged.
	_, stderr, code = runCLI(t, "journal", "sync", "--now", "--db", devices[0], "--config", devCfg("untrusting.toml", srv.url, ""))
	if code == 0 || !strings.Contains(stderr, "ca_file") {
		t.Fatalf("a sync to a server signed by an unknown CA: exit %d, %q", code, stderr)
	}
	t.Logf("untrusted: %s", strings.TrimSpace(stderr))
	j, err := journal.OpenReadOnly(devices[0])
	if err != nil {
		t.Fatal(err)
	}
	if st, err := j.Sync(context.Background(), srv.url); err != nil || !st.Acked.IsZero() {
		t.Fatalf("a refused sync moved the watermark: %+v %v", st, err)
	}
	j.Close()
	out, stderr, code = runCLI(t, "journal", "sync", "--now", "--db", devices[0], "--config", devCfg("device.toml", srv.url, ca))
	if code != 0 || !strings.Contains(out, "visit") {
		t.Fatalf("a sync trusting the CA: exit %d %s %s\nserver:\n%s", code, out, stderr, srv.logs)
	}

	// Plain http to another machine: refused before anything is sent.
	_, stderr, code = runCLI(t, "journal", "sync", "--now", "--db", devices[0], "--config", devCfg("plain.toml", "http://fleet.example.org", ""))
	if code == 0 || !strings.Contains(stderr, "http only to this machine") {
		t.Fatalf("a sync over plain http elsewhere: exit %d, %q", code, stderr)
	}

	out, _, _ = runCLI(t, "serve", "viewer", "it-manager", "--db", db, "--config", cfg, "--url", srv.url)
	vf := filepath.Join(dir, "viewer")
	os.WriteFile(vf, []byte(lastLine(out)), 0o600)
	if _, stderr, code := runCLI(t, "report", "--server", srv.url, "--token-file", vf); code == 0 || !strings.Contains(stderr, "certificate") {
		t.Fatalf("report --server without the CA: exit %d, %q", code, stderr)
	}
	if _, stderr, code := runCLI(t, "report", "--server", "http://fleet.example.org", "--token-file", vf); code == 0 || !strings.Contains(stderr, "http only to this machine") {
		t.Fatalf("report --server over plain http elsewhere: exit %d, %q", code, stderr)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		table, stderr, code := runCLI(t, "report", "--server", srv.url, "--token-file", vf, "--ca-file", ca)
		if code == 0 && strings.Contains(table, "Northfield") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report --server over HTTPS: exit %d %s\n%s", code, stderr, table)
		}
	}
}
