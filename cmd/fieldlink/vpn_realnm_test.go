package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/testbed/realvpn"
)

// vpnRig is the real VPN harness with two cables (veth0 preferred, veth1
// the hot backup standing in for cellular), a probe target and the
// clinical application's server at the hospital, and `fieldlink daemon`
// in charge with a VPN profile.
type vpnRig struct {
	h       *realvpn.Harness
	d       *daemonRun
	profile string
	uuid    string
}

// vpnPolicy is the failover policy of the VPN tests: the sequences' own.
const vpnPolicy = `
[links]
prefer = ["veth0", "veth1"]

[[probe.target]]
url = "http://10.77.0.1:8080/health"

# Failover sequences, not probing's cost: every link is probed by the
# clock, each second, as it was before traffic counted as a check (the
# default policy is held to the black-hole bound under traffic by
# TestBlackHoleUnderTrafficOnRealNetworkManager).
[probe]
interval_standby = "1s"
interval_active = "1s"
interval_idle = "1s"

[failover]
cellular_standby = "hot"
failback_after = "3s"
min_dwell = "1s"
max_backoff = "3s"

[vpn]
retry_min = "2s"
`

// startVPNHarness brings the harness up with both cables connected and the
// hospital's HTTP service (the probe target) answering.
func startVPNHarness(tb testing.TB) *realvpn.Harness {
	tb.Helper()
	h := realvpn.Start(tb, realvpn.Options{Cables: 2})
	l, err := h.ListenHospital("tcp", realvpn.ServerAddr+":8080")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("OK")) }),
		ReadHeaderTimeout: time.Second}
	go srv.Serve(l)
	tb.Cleanup(func() { srv.Close() })
	for i, metric := range []int{100, 200} {
		if err := h.AddProfile(fmt.Sprintf("wired%d", i+1), i, metric); err != nil {
			tb.Fatal(err)
		}
	}
	for _, dev := range []string{"veth0", "veth1"} {
		if err := h.WaitConnected(dev, 20*time.Second); err != nil {
			tb.Fatal(err)
		}
	}
	return h
}

// startVPNRig imports the profile and starts the daemon with it.
func startVPNRig(tb testing.TB, p realvpn.Profile, extra string) *vpnRig {
	tb.Helper()
	h := startVPNHarness(tb)
	uuid, err := h.Import(p)
	if err != nil {
		tb.Fatal(err)
	}
	r := &vpnRig{h: h, profile: p.Name, uuid: uuid}
	r.d = startDaemonConfig(tb, h.Harness, vpnPolicy+fmt.Sprintf("profile = %q\n", p.Name)+extra)
	return r
}

// lines are the daemon's log lines containing sub, in order.
func (d *daemonRun) linesWith(sub string) []logLineAt {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []logLineAt
	for _, l := range d.lines {
		if strings.Contains(l.text, sub) {
			out = append(out, l)
		}
	}
	return out
}

// appStream is the clinical application's TCP session through the
// tunnel: the hospital's end writes a numbered line every 20 ms; the
// device's end records when each arrives, so that the longest silence
// across a failover is the session's gap.
type appStream struct {
	mu      sync.Mutex
	arrived []time.Time
	lines   int
	err     error
	conn    net.Conn
}

// appServers remembers the hospital end of the stream per harness: it is
// served once, and a new session (after the server's restart) dials it
// again.
var appServers sync.Map

// startAppStream serves the stream at the hospital (once a harness), on
// the tunnel server's inner address, and connects to it from the device
// through the tunnel.
func startAppStream(tb testing.TB, h *realvpn.Harness, k realvpn.Kind) *appStream {
	tb.Helper()
	if _, loaded := appServers.LoadOrStore(h, true); !loaded {
		l, err := h.ListenHospital("tcp", "0.0.0.0:7000")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { l.Close(); appServers.Delete(h) })
		go serveAppStream(l)
	}
	c, err := h.DialDUT("tcp", h.Server(k).Inner()+":7000", 5*time.Second)
	if err != nil {
		tb.Fatalf("the app's session through the tunnel: %v", err)
	}
	s := &appStream{conn: c}
	tb.Cleanup(func() { c.Close() })
	go s.read()
	return s
}

// serveAppStream writes a numbered line every 20 ms to each session.
func serveAppStream(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(c, "line %d\n", i); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
}

func (s *appStream) read() {
	sc := bufio.NewScanner(s.conn)
	for sc.Scan() {
		s.mu.Lock()
		s.arrived = append(s.arrived, time.Now())
		s.lines++
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.err = sc.Err()
	if s.err == nil {
		s.err = fmt.Errorf("the hospital closed the session")
	}
	s.mu.Unlock()
}

// alive reports whether the session still runs, with its line count.
func (s *appStream) alive() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines, s.err
}

// resumedAfter is when the first line after t arrived (zero: none yet).
func (s *appStream) resumedAfter(t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.arrived {
		if a.After(t) {
			return a
		}
	}
	return time.Time{}
}

// longestGap is the longest silence between lines from t on.
func (s *appStream) longestGap(from time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gap time.Duration
	var prev time.Time
	for _, a := range s.arrived {
		if a.Before(from) {
			prev = a
			continue
		}
		if !prev.IsZero() && a.Sub(prev) > gap {
			gap = a.Sub(prev)
		}
		prev = a
	}
	return gap
}

// waitUntil polls cond until it holds or within passes.
func waitUntil(tb testing.TB, what string, within time.Duration, cond func() bool) time.Time {
	tb.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("no %s within %v", what, within)
	return time.Time{}
}

// tunnelOn reports whether the VPN's tunnel is up and carried by dev (the
// route to the VPN server leaves over dev).
func (r *vpnRig) tunnelOn(k realvpn.Kind, dev string) bool {
	iface, _ := r.h.Tunnel(k)
	if iface == "" {
		return false
	}
	out, err := r.h.Exec(context.Background(), "ip", "route", "get", realvpn.ServerAddr).Output()
	return err == nil && strings.Contains(string(out), "dev "+dev+" ")
}

// noOrphans checks that nothing the harness started outlived it.
func noOrphans(tb testing.TB, h *realvpn.Harness) {
	tb.Helper()
	dir := h.Harness.Dir
	h.Stop()
	if left := realvpn.Orphans(dir); len(left) > 0 {
		tb.Fatalf("left running after the harness stopped:\n%s", strings.Join(left, "\n"))
	}
}

func pctDur(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}

// keyfileHolds reports whether NetworkManager's saved profile holds a
// secret (what "never saved into the profile" checks).
func keyfileHolds(tb testing.TB, h *realvpn.Harness, secret string) bool {
	files, _ := filepath.Glob(filepath.Join(h.Harness.Dir, "conns", "*"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), secret) {
			return true
		}
	}
	return false
}
