package realvpn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// PKI is the harness's certificates, as files: the hospital's CA, its VPN
// server, the device's client certificate and key (plain and with a
// passphrase, the stand-in for a smartcard PIN), a client certificate
// that has expired, and a CA the server does not use.
type PKI struct {
	Dir                  string
	CA, ServerCert       string
	ServerKey            string
	ClientCert           string
	ClientKey            string
	ClientKeyLocked      string // ClientKey under Passphrase
	Passphrase           string
	ExpiredCert, OtherCA string
}

// ClientCN is the device certificate's common name: the server's scripts
// see it as $common_name.
const ClientCN = "toughbook-1"

type issued struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newPKI(dir string) (*PKI, error) {
	p := &PKI{Dir: dir, Passphrase: "card-pin-2468"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	now := time.Now()
	ca, err := p.issue("ca", "fieldlink test hospital CA", nil, now.Add(-time.Hour), now.Add(24*time.Hour), 0)
	if err != nil {
		return nil, err
	}
	other, err := p.issue("other-ca", "some other CA", nil, now.Add(-time.Hour), now.Add(24*time.Hour), 0)
	if err != nil {
		return nil, err
	}
	_ = other
	if _, err := p.issue("server", "vpn.hospital.test", ca, now.Add(-time.Hour), now.Add(24*time.Hour), x509.ExtKeyUsageServerAuth); err != nil {
		return nil, err
	}
	if _, err := p.issue("client", ClientCN, ca, now.Add(-time.Hour), now.Add(24*time.Hour), x509.ExtKeyUsageClientAuth); err != nil {
		return nil, err
	}
	if _, err := p.issue("expired", ClientCN, ca, now.Add(-48*time.Hour), now.Add(-24*time.Hour), x509.ExtKeyUsageClientAuth); err != nil {
		return nil, err
	}
	p.CA, p.OtherCA = p.file("ca.crt"), p.file("other-ca.crt")
	p.ServerCert, p.ServerKey = p.file("server.crt"), p.file("server.key")
	p.ClientCert, p.ClientKey = p.file("client.crt"), p.file("client.key")
	p.ExpiredCert = p.file("expired.crt")
	p.ClientKeyLocked = p.file("client-locked.key")
	// The plugin hands the passphrase to openvpn, which decrypts the key
	// with OpenSSL: the locked key is written by OpenSSL too.
	out, err := exec.Command("openssl", "pkey", "-in", p.ClientKey, "-aes256", "-passout", "pass:"+p.Passphrase,
		"-out", p.ClientKeyLocked).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("openssl pkey: %v: %s", err, out)
	}
	return p, nil
}

func (p *PKI) file(name string) string { return filepath.Join(p.Dir, name) }

// issue makes a key and a certificate signed by parent (self-signed, a CA,
// when parent is nil) and writes NAME.crt and NAME.key.
func (p *PKI) issue(name, cn string, parent *issued, from, until time.Time, usage x509.ExtKeyUsage) (*issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: from, NotAfter: until,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement}
	signer, signKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.BasicConstraintsValid = true
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.file(name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.file(name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, err
	}
	return &issued{cert: cert, key: key}, nil
}
