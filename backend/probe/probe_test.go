package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/traffic"
)

func TestHTTPProbeOutcomes(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("NetworkManager is online")) })
	mux.HandleFunc("/204", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/portal", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://login.example/", http.StatusFound)
	})
	mux.HandleFunc("/page", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>Please sign in</html>")) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) { time.Sleep(300 * time.Millisecond) })
	mux.HandleFunc("/500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	d := Dialer{Timeout: 150 * time.Millisecond, NoBind: true}
	ctx := context.Background()
	cases := []struct {
		t      Target
		ok     bool
		reason string
		portal bool
	}{
		{Target{Kind: HTTP, Address: srv.URL + "/ok", ExpectBody: "NetworkManager is online"}, true, "", false},
		{Target{Kind: HTTP, Address: srv.URL + "/204", ExpectStatus: 204}, true, "", false},
		{Target{Kind: HTTP, Address: srv.URL + "/portal"}, false, "sign-in page", true},
		{Target{Kind: HTTP, Address: srv.URL + "/page", ExpectBody: "NetworkManager is online"}, false, "sign-in page", true},
		{Target{Kind: HTTP, Address: srv.URL + "/page", ExpectStatus: 204}, false, "sign-in page", true},
		{Target{Kind: HTTP, Address: srv.URL + "/slow"}, false, "timeout", false},
		{Target{Kind: HTTP, Address: srv.URL + "/500"}, false, "HTTP 500", false},
	}
	for _, c := range cases {
		r := d.Check(ctx, "lo", c.t)
		if r.OK != c.ok || r.Reason != c.reason || r.Portal != c.portal {
			t.Errorf("%s: ok %v reason %q portal %v", c.t.Address, r.OK, r.Reason, r.Portal)
		}
		if r.OK && (r.RTT <= 0 || r.RTT > time.Second) {
			t.Errorf("%s: rtt %v", c.t.Address, r.RTT)
		}
	}
}

func TestTCPAndDNSProbes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	d := Dialer{Timeout: 200 * time.Millisecond, NoBind: true}
	if r := d.Check(context.Background(), "lo", Target{Kind: TCP, Address: l.Addr().String()}); !r.OK {
		t.Fatalf("tcp: %+v", r)
	}
	addr := l.Addr().String()
	l.Close()
	if r := d.Check(context.Background(), "lo", Target{Kind: TCP, Address: addr}); r.OK || r.Reason != "refused" {
		t.Fatalf("closed port: %+v", r)
	}
	// A DNS server that never answers.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := d.Check(context.Background(), "lo", Target{Kind: DNS, Address: "clinical.example", Server: pc.LocalAddr().String()})
	if r.OK || !strings.HasPrefix(r.Reason, "dns") && r.Reason != "timeout" {
		t.Fatalf("silent DNS server: %+v", r)
	}
}

func TestBindingIsReported(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	r := Dialer{Timeout: 200 * time.Millisecond}.Check(context.Background(), "lo", Target{Kind: TCP, Address: l.Addr().String()})
	if CanBind() {
		if !r.OK || !r.Bound {
			t.Fatalf("bound probe: %+v", r)
		}
	} else if !r.Skipped || r.Reason != "cannot bind to the interface" {
		t.Fatalf("unprivileged probe should say it could not bind: %+v", r)
	}
	if Reason(syscall.ENETUNREACH) != "unreachable" || Reason(fmt.Errorf("x: %w", context.DeadlineExceeded)) != "timeout" {
		t.Fatal("reasons")
	}
}

// scripted answers per interface, and can hold an answer for the timeout
// as a black hole does.
type scripted struct {
	mu    sync.Mutex
	down  map[string]bool
	hold  time.Duration
	calls map[string]int
}

func (s *scripted) Check(ctx context.Context, iface string, t Target) Result {
	s.mu.Lock()
	down := s.down[iface]
	s.calls[iface]++
	s.mu.Unlock()
	start := time.Now()
	if down {
		select {
		case <-time.After(s.hold):
		case <-ctx.Done():
		}
		return Result{Iface: iface, Start: start, Reason: "timeout", RTT: time.Since(start)}
	}
	return Result{Iface: iface, Start: start, OK: true, RTT: time.Millisecond, Bound: true}
}

func snapshot(primary string, links ...netstate.Link) *netstate.Snapshot {
	return &netstate.Snapshot{Primary: primary, Links: links}
}

func link(id string, metered bool) netstate.Link {
	l := netstate.Link{ID: id, Interface: id, Kind: netstate.KindEthernet, State: netstate.StateConnected}
	if metered {
		l.Kind, l.Metered = netstate.KindCellular, netstate.Yes
	}
	return l
}

// flowing is a link's traffic as the clinician's work makes it: packets
// out at every look, and answers back unless the link is down.
type flowing struct {
	s      *scripted
	mu     sync.Mutex
	tx, rx map[string]uint64
	idle   bool
}

func (f *flowing) Sample(l traffic.Link, now time.Time) (traffic.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	iface := l.Interfaces[0]
	f.s.mu.Lock()
	down := f.s.down[iface]
	f.s.mu.Unlock()
	if !f.idle {
		f.tx[iface]++
		if !down {
			f.rx[iface]++
		}
	}
	return traffic.Sample{At: now, TxPackets: f.tx[iface], RxPackets: f.rx[iface]}, nil
}

func (f *flowing) setIdle(idle bool) {
	f.mu.Lock()
	f.idle = idle
	f.mu.Unlock()
}

func (s *scripted) count(iface string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[iface]
}

func TestProberSchedulesAndOrders(t *testing.T) {
	s := &scripted{down: map[string]bool{}, hold: 200 * time.Millisecond, calls: map[string]int{}}
	f := &flowing{s: s, tx: map[string]uint64{}, rx: map[string]uint64{}, idle: true}
	p := NewProber(Config{Targets: []Target{{Kind: TCP, Address: "x:1"}}, Doubt: 50 * time.Millisecond, Active: 100 * time.Millisecond,
		Idle: 300 * time.Millisecond, Standby: 400 * time.Millisecond, Timeout: 200 * time.Millisecond,
		RecoverRTT: 60 * time.Millisecond, MeteredIdle: time.Hour, Sample: 100 * time.Millisecond}, s, nil, true).WithTraffic(f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Start(ctx)
	p.Watch(snapshot("eth0", link("eth0", false), link("eth1", false), link("wwan0", true)), nil)
	reports := map[string][]netstate.Probe{}
	collect := func(d time.Duration) {
		end := time.After(d)
		for {
			select {
			case r := <-p.Results():
				reports[r.Link] = append(reports[r.Link], r.Probe)
			case <-end:
				return
			}
		}
	}
	collect(time.Second)
	// Idle: the link in use is probed at the idle interval, the backup at
	// the standby interval, and a healthy metered backup once (to learn it
	// is healthy) and then no more.
	if n := len(reports["eth0"]); n < 3 || n > 5 {
		t.Fatalf("eth0 rounds in 1 idle second: %d", n)
	}
	if n := len(reports["eth1"]); n < 2 || n > 4 {
		t.Fatalf("eth1 rounds in 1 s: %d", n)
	}
	if n := len(reports["wwan0"]); n != 1 {
		t.Fatalf("metered standby rounds: %d", n)
	}
	// Traffic answered both ways is the check: no round on eth0.
	f.setIdle(false)
	time.Sleep(350 * time.Millisecond) // a round started while idle ends
	before := s.count("eth0")
	collect(time.Second)
	if n := s.count("eth0") - before; n != 0 {
		t.Fatalf("eth0 probed %d times in a second of answered traffic", n)
	}
	// Black hole on eth0: its traffic goes unanswered, a burst starts at
	// once, rounds overlap, failures are counted in order, and the metered
	// backup is asked again for the decision to come.
	wwanBefore := s.count("wwan0")
	s.mu.Lock()
	s.down["eth0"] = true
	s.mu.Unlock()
	reports = map[string][]netstate.Probe{}
	start := time.Now()
	var third time.Duration
	end := time.After(2 * time.Second)
loop:
	for {
		select {
		case r := <-p.Results():
			reports[r.Link] = append(reports[r.Link], r.Probe)
			if r.Link == "eth0" && r.Probe.Failures == 3 && third == 0 {
				third = time.Since(start)
			}
		case <-end:
			break loop
		}
	}
	var fails []int
	for _, pr := range reports["eth0"] {
		if pr.OK == netstate.No {
			fails = append(fails, pr.Failures)
		}
	}
	for i, f := range fails {
		if f != i+1 {
			t.Fatalf("failure counts out of order: %v", fails)
		}
	}
	// The traffic is read every 100 ms; three timeouts of 200 ms back to
	// back would take 600 ms after the first failing round starts;
	// overlapping rounds take about 300 ms.
	if third == 0 || third > 550*time.Millisecond {
		t.Fatalf("third failure after %v (rounds should overlap)", third)
	}
	if s.count("wwan0") == wwanBefore {
		t.Fatal("the metered backup was not asked again when eth0 fell in doubt")
	}
	// Past Down, the dead link backs off (100, 200, then the idle 300 ms
	// apart) where the burst would go on at three rounds in flight.
	if n := len(fails); n > 12 {
		t.Fatalf("%d failed rounds in 2 s on a dead link: it should back off", n)
	}
	t.Logf("third failure %v after the black hole; %d failed rounds in 2 s", third, len(fails))
	// Links that go away stop being probed.
	p.Watch(snapshot("eth1", link("eth1", false)), nil)
	time.Sleep(50 * time.Millisecond)
	for len(p.Results()) > 0 {
		<-p.Results()
	}
	before = s.count("eth0")
	time.Sleep(300 * time.Millisecond)
	if after := s.count("eth0"); after > before+1 {
		t.Fatalf("eth0 still probed after it went: %d -> %d", before, after)
	}
}

// BenchmarkProbeCPU reports the CPU one probe round costs (user+system,
// from getrusage), for a TCP connect and an HTTP GET on the loopback.
func BenchmarkProbeCPU(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("OK")) }))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	d := Dialer{Timeout: time.Second, NoBind: !CanBind()}
	for _, c := range []struct {
		name string
		t    Target
	}{{"tcp", Target{Kind: TCP, Address: host}}, {"http", Target{Kind: HTTP, Address: srv.URL}}} {
		b.Run(c.name, func(b *testing.B) {
			var before, after syscall.Rusage
			n := 0
			for b.Loop() {
				// Many probes per iteration: one alone measures a cold start.
				d.Check(context.Background(), "lo", c.t)
				syscall.Getrusage(syscall.RUSAGE_SELF, &before)
				for i := 0; i < 200; i++ {
					if r := d.Check(context.Background(), "lo", c.t); !r.OK {
						b.Fatalf("%+v", r)
					}
					n++
				}
			}
			syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
			// The loopback server's share is in the figure too: an upper bound.
			b.ReportMetric(float64(cpu.Microseconds())/float64(n), "us-cpu/probe")
		})
	}
}

// TestProbeBytesAreCountedWithTheirHeaders: a probe says what it cost the
// link (finding of "A day on battery and a metered SIM": 1,063 B/s on the
// link carrying the work, and nothing showed it). The server here counts
// the payload both ways; the probe's figure is that plus the TCP/IP
// headers of the handful of segments a GET takes.
func TestProbeBytesAreCountedWithTheirHeaders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	payload := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		resp := "HTTP/1.1 200 OK\r\nContent-Length: 24\r\nConnection: close\r\n\r\nNetworkManager is online"
		c.Write([]byte(resp))
		c.Close()
		payload <- int64(n + len(resp))
	}()
	d := Dialer{Timeout: time.Second, NoBind: true}
	r := d.Check(context.Background(), "", Target{Kind: HTTP, Address: "http://" + ln.Addr().String() + "/check", ExpectBody: "online"})
	if !r.OK {
		t.Fatalf("probe failed: %+v", r)
	}
	p := <-payload
	if lo, hi := p+6*tcpHeader, p+16*tcpHeader; r.Bytes < lo || r.Bytes > hi {
		t.Fatalf("probe counted %d bytes for %d of payload: want %d to %d", r.Bytes, p, lo, hi)
	}
	// A refused connection costs its SYN and the reset.
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln2.Addr().String()
	ln2.Close()
	if r := d.Check(context.Background(), "", Target{Kind: TCP, Address: addr}); r.OK || r.Bytes != synBytes+tcpHeader {
		t.Fatalf("refused: %+v, want %d bytes", r, synBytes+tcpHeader)
	}
}

func TestProberCountsTheDaysBytes(t *testing.T) {
	p := NewProber(Config{}, nil, nil, true)
	ls := &linkState{id: "wwan0"}
	day := time.Date(2026, 12, 4, 23, 59, 0, 0, time.UTC)
	p.record(ls, Result{Start: day, OK: true, Bytes: 700})
	if pr := p.record(ls, Result{Start: day.Add(30 * time.Second), OK: true, Bytes: 300}); pr.BytesToday != 1000 {
		t.Fatalf("bytes today %d, want 1000", pr.BytesToday)
	}
	if pr := p.record(ls, Result{Start: day.Add(2 * time.Minute), OK: true, Bytes: 50}); pr.BytesToday != 50 {
		t.Fatalf("after midnight %d, want 50 (a new day)", pr.BytesToday)
	}
}

// waiting is a quiet link whose sampler can wait for traffic: it counts
// looks, and a wait ends when the test sends a packet.
type waiting struct {
	mu     sync.Mutex
	looks  int
	tx     uint64
	waits  int
	packet chan struct{}
}

func (w *waiting) Sample(l traffic.Link, now time.Time) (traffic.Sample, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.looks++
	return traffic.Sample{At: now, TxPackets: w.tx, RxPackets: w.tx}, nil
}

func (w *waiting) WaitOutgoing(ctx context.Context, ifaces []string) error {
	w.mu.Lock()
	w.waits++
	w.mu.Unlock()
	select {
	case <-w.packet:
		w.mu.Lock()
		w.tx++
		w.mu.Unlock()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *waiting) counts() (int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.looks, w.waits
}

// TestIdleLinkSleepsUntilTraffic: a link carrying the work with nothing
// sent is looked at sleepAfter times, then not at all (a wakeup a second
// for nothing costs battery) until a packet goes out, when the looks
// resume.
func TestIdleLinkSleepsUntilTraffic(t *testing.T) {
	s := &scripted{down: map[string]bool{}, calls: map[string]int{}}
	w := &waiting{packet: make(chan struct{})}
	p := NewProber(Config{Targets: []Target{{Kind: TCP, Address: "x:1"}}, Sample: 20 * time.Millisecond, Idle: time.Hour}, s, nil, true).WithTraffic(w)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Start(ctx)
	p.Watch(snapshot("eth0", link("eth0", false)), nil)
	time.Sleep(300 * time.Millisecond)
	looks, waits := w.counts()
	if waits != 1 || looks > sleepAfter+2 {
		t.Fatalf("idle for 300 ms at a look each 20 ms: %d looks, %d waits; want to sleep after %d", looks, waits, sleepAfter)
	}
	time.Sleep(200 * time.Millisecond)
	if again, _ := w.counts(); again != looks {
		t.Fatalf("looked %d times while asleep", again-looks)
	}
	w.packet <- struct{}{}
	time.Sleep(60 * time.Millisecond)
	if after, _ := w.counts(); after <= looks {
		t.Fatal("a packet went out and the looks did not resume")
	}
	// It goes back to sleep when the traffic stops again.
	time.Sleep(300 * time.Millisecond)
	if _, waits := w.counts(); waits != 2 {
		t.Fatalf("waits %d, want 2 (asleep again)", waits)
	}
}
