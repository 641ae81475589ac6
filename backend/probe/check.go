// Package probe checks reachability over one link at a time: HTTP(S) GETs,
// TCP connects and DNS lookups bound to the link's interface
// (SO_BINDTODEVICE), so that a link that is up but dead, or behind a
// sign-in page, is found out even while it does not carry the default
// route. Where binding is not permitted the probe runs unbound and says so.
package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// Kind is what a target checks.
type Kind string

// Target kinds.
const (
	HTTP Kind = "http" // GET a URL, expect a status (and optionally a body)
	TCP  Kind = "tcp"  // connect to host:port (the clinical system)
	DNS  Kind = "dns"  // resolve a name through a given server
)

// Target is one thing to reach.
type Target struct {
	Kind Kind
	// URL for HTTP ("http://nmcheck.gnome.org/check_network_status.txt"),
	// host:port for TCP, name for DNS.
	Address string
	// ExpectStatus is the HTTP status that means "through" (default 200;
	// 204 for generate_204 style endpoints).
	ExpectStatus int
	// ExpectBody, when set, must appear in the body: a captive portal
	// answers 200 with its own page.
	ExpectBody string
	// Server is the DNS server ("10.99.0.1:53") for DNS targets.
	Server string
}

func (t Target) String() string {
	switch t.Kind {
	case DNS:
		return "dns:" + t.Address + "@" + t.Server
	case TCP:
		return "tcp:" + t.Address
	}
	return t.Address
}

// Result is one probe of one link.
type Result struct {
	Link    string
	Iface   string
	Start   time.Time
	OK      bool
	RTT     time.Duration
	Reason  string // "timeout", "refused", "dns failure", "sign-in page", ...
	Portal  bool
	Target  string
	Bound   bool
	Skipped bool // not probed (metered budget, binding not permitted)
	// Bytes is what the probe put on the link and took from it, both
	// ways, headers included (see wire.go): what it cost a metered SIM.
	Bytes int64
}

// Dialer makes connections bound to an interface.
type Dialer struct {
	// Timeout bounds the whole probe.
	Timeout time.Duration
	// NoBind skips SO_BINDTODEVICE (tests on the loopback).
	NoBind bool
}

// errNotPermitted marks a failed SO_BINDTODEVICE (needs CAP_NET_RAW).
var errNotPermitted = errors.New("binding to the interface is not permitted (needs root or CAP_NET_RAW)")

func (d Dialer) netDialer(iface string, bound *bool) *net.Dialer {
	nd := &net.Dialer{Timeout: d.Timeout}
	if d.NoBind || iface == "" {
		return nd
	}
	nd.Control = func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, iface)
		})
		if err != nil {
			return err
		}
		if serr != nil {
			if errors.Is(serr, syscall.EPERM) {
				return errNotPermitted
			}
			return fmt.Errorf("bind to %s: %w", iface, serr)
		}
		*bound = true
		return nil
	}
	return nd
}

// CanBind reports whether this process may bind sockets to interfaces.
func CanBind() bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	return syscall.SetsockoptString(fd, syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, "lo") == nil
}

// Check probes one target over iface.
func (d Dialer) Check(ctx context.Context, iface string, t Target) Result {
	if d.Timeout <= 0 {
		d.Timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	r := Result{Iface: iface, Start: time.Now(), Target: t.String()}
	w := &wire{}
	var err error
	switch t.Kind {
	case TCP:
		err = d.checkTCP(ctx, d.counting(iface, &r.Bound, w), t)
	case DNS:
		err = d.checkDNS(ctx, d.counting(iface, &r.Bound, w), t, &r)
	default:
		err = d.checkHTTP(ctx, d.counting(iface, &r.Bound, w), t, &r)
	}
	r.RTT = time.Since(r.Start)
	r.Bytes = w.total()
	if err != nil {
		r.OK = false
		if r.Reason == "" {
			r.Reason = Reason(err)
		}
		if errors.Is(err, errNotPermitted) {
			r.Skipped = true
		}
		return r
	}
	r.OK = true
	return r
}

func (d Dialer) checkTCP(ctx context.Context, dial dialFunc, t Target) error {
	c, err := dial(ctx, "tcp", t.Address)
	if err != nil {
		return err
	}
	return c.Close()
}

func (d Dialer) checkDNS(ctx context.Context, dial dialFunc, t Target, r *Result) error {
	server := t.Server
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dial(ctx, network, server)
	}}
	addrs, err := res.LookupHost(ctx, t.Address)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		r.Reason = "dns failure"
		return errors.New("no addresses")
	}
	return nil
}

func (d Dialer) checkHTTP(ctx context.Context, dial dialFunc, t Target, r *Result) error {
	u, err := url.Parse(t.Address)
	if err != nil {
		return err
	}
	tr := &http.Transport{
		DialContext:       dial,
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{ServerName: u.Hostname()},
		ForceAttemptHTTP2: false,
		Proxy:             nil,
	}
	defer tr.CloseIdleConnections()
	// Names resolve through the link itself, so a link whose DNS is dead
	// fails here rather than borrowing the working link's resolver.
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if net.ParseIP(host) == nil {
			res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, n, a string) (net.Conn, error) {
				return dial(ctx, n, a)
			}}
			ips, err := res.LookupHost(ctx, host)
			if err != nil || len(ips) == 0 {
				r.Reason = "dns failure"
				if err == nil {
					err = errors.New("no addresses")
				}
				return nil, err
			}
			host = ips[0]
		}
		return dial(ctx, network, net.JoinHostPort(host, port))
	}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.Address, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "fieldlink-probe")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	want := t.ExpectStatus
	if want == 0 {
		want = http.StatusOK
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.StatusCode != want {
		r.Portal, r.Reason = true, "sign-in page"
		return fmt.Errorf("redirected to %s", resp.Header.Get("Location"))
	}
	if resp.StatusCode != want {
		if want == http.StatusNoContent && resp.StatusCode == http.StatusOK {
			r.Portal, r.Reason = true, "sign-in page"
		} else {
			r.Reason = fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return fmt.Errorf("status %d, want %d", resp.StatusCode, want)
	}
	if t.ExpectBody != "" {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if !strings.Contains(string(b), t.ExpectBody) {
			r.Portal, r.Reason = true, "sign-in page"
			return errors.New("unexpected body")
		}
	}
	return nil
}

// Reason words a probe error the way the events pane says it.
func Reason(err error) string {
	var ne net.Error
	var de *net.DNSError
	switch {
	case errors.Is(err, errNotPermitted):
		return "cannot bind to the interface"
	case errors.As(err, &de):
		if de.IsTimeout {
			return "dns timeout"
		}
		return "dns failure"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.ENODEV):
		return "no such interface"
	}
	var tlsErr *tls.CertificateVerificationError
	if errors.As(err, &tlsErr) {
		return "certificate error (sign-in page?)"
	}
	return "failed"
}
