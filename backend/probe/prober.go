package probe

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/traffic"
)

// Checker probes one target over one interface; Dialer is the real one.
type Checker interface {
	Check(ctx context.Context, iface string, t Target) Result
}

// Sampler reads a link's traffic; traffic.Kernel is the real one.
type Sampler interface {
	Sample(l traffic.Link, now time.Time) (traffic.Sample, error)
}

// Config says what to probe and how often (see next, in policy.go, for
// how the intervals are used).
type Config struct {
	Targets []Target
	// Doubt is the interval between rounds on the link carrying the work
	// while it is in doubt: its traffic went unanswered, or a round failed
	// or is overdue. Rounds overlap: with a 1 s timeout and Down = 3,
	// three rounds back to back take 3 s after the first failing one
	// starts; rounds 250 ms apart end 1.5 s after it, which leaves room
	// for noticing the traffic unanswered in "fail over within 3 s".
	Doubt time.Duration
	// Active is the interval for the link carrying the work while it is
	// slow or lossy, and for a preferred link proving itself.
	Active time.Duration
	// Idle is the longest the link carrying the work goes unchecked when
	// its own traffic says nothing (idle); MeteredIdle the same on a
	// metered link.
	Idle        time.Duration
	MeteredIdle time.Duration
	// Standby is the interval for other links.
	Standby time.Duration
	// MeteredStandby probes a healthy metered backup at Standby; without
	// it, only when the link carrying the work falls in doubt.
	MeteredStandby bool
	// Timeout bounds one probe.
	Timeout time.Duration
	// Reliability is how many targets must answer for a round to pass.
	Reliability int
	// Window is how many rounds loss is counted over.
	Window int
	// RecoverRTT and RecoverLoss: a round slower or lossier than these
	// keeps the link in doubt (the hysteresis of THRESHOLDS.md).
	RecoverRTT  time.Duration
	RecoverLoss float64
	// Down is failover's count of failed rounds that make a link down:
	// past it, rounds back off.
	Down int
	// Fresh is how old a check may be when a link takes the work: an
	// older one is renewed at once.
	Fresh time.Duration
	// Sample is how often the traffic of the link carrying the work is
	// read for evidence (0: not at all, probing by the clock alone).
	Sample time.Duration
}

// DefaultConfig returns the documented defaults; the target is the one
// Debian's NetworkManager checks connectivity against, until a deployment
// names its clinical system.
func DefaultConfig() Config {
	return Config{
		Targets: []Target{{Kind: HTTP, Address: "http://nmcheck.gnome.org/check_network_status.txt",
			ExpectStatus: 200, ExpectBody: "NetworkManager is online"}},
		Doubt:       250 * time.Millisecond,
		Active:      10 * time.Second,
		Idle:        time.Minute,
		MeteredIdle: 5 * time.Minute,
		Standby:     10 * time.Minute,
		Timeout:     time.Second,
		Reliability: 1,
		Window:      10,
		RecoverRTT:  500 * time.Millisecond,
		RecoverLoss: 0.10,
		Down:        3,
		Fresh:       30 * time.Second,
		Sample:      time.Second,
	}
}

// withDefaults fills what cfg leaves zero.
func (cfg Config) withDefaults() Config {
	d := DefaultConfig()
	if len(cfg.Targets) == 0 {
		cfg.Targets = d.Targets
	}
	def := func(v *time.Duration, dv time.Duration) {
		if *v <= 0 {
			*v = dv
		}
	}
	def(&cfg.Active, d.Active)
	def(&cfg.Doubt, min(d.Doubt, cfg.Active))
	def(&cfg.Idle, d.Idle)
	def(&cfg.MeteredIdle, max(cfg.Idle, d.MeteredIdle))
	def(&cfg.Standby, d.Standby)
	def(&cfg.Timeout, d.Timeout)
	def(&cfg.RecoverRTT, d.RecoverRTT)
	def(&cfg.Fresh, d.Fresh)
	if cfg.Reliability <= 0 {
		cfg.Reliability = 1
	}
	if cfg.Window <= 0 {
		cfg.Window = d.Window
	}
	if cfg.RecoverLoss <= 0 {
		cfg.RecoverLoss = d.RecoverLoss
	}
	if cfg.Down <= 0 {
		cfg.Down = d.Down
	}
	return cfg
}

// Prober runs probe rounds on every connected link, each on its own
// schedule, and reports each round as a netstate.Probe. It reads the
// traffic of the link carrying the work and probes only when that says
// nothing (idle) or something is wrong (traffic unanswered).
type Prober struct {
	cfg     Config
	check   Checker
	sampler Sampler
	clock   clock.Clock
	// canBind is false when the process may not bind to interfaces: then
	// only the link carrying the work is probed, unbound, and says so.
	canBind bool
	out     chan Report

	mu    sync.Mutex
	links map[string]*linkState
	ctx   context.Context
}

// Report is one finished round, or news of a link's traffic.
type Report struct {
	Link  string
	Probe netstate.Probe
}

type linkState struct {
	id, iface string
	role      Role
	metered   bool
	// traffic is what to read of the link's traffic (its addresses, and a
	// VPN riding on it): the link carrying the work only.
	traffic  traffic.Link
	history  []bool // recent rounds, newest last
	failures int
	// overdue is set while a round has been out longer than RecoverRTT
	// without an answer: a black hole shows itself that way long before
	// the timeout, so the link is in doubt from then on.
	overdue bool
	// suspect: its traffic went unanswered since its last passing round.
	suspect bool
	// refresh: a round is wanted at once.
	refresh bool
	// checked is when it was last known good (a round passed, or its
	// traffic was answered); told is the traffic check last reported.
	checked, told time.Time
	last          netstate.Probe
	// bytesDay is the day (UTC, days since 1970) bytesToday counts.
	bytesDay, bytesToday int64
	wake                 chan struct{}
	cancel               context.CancelFunc
}

// NewProber returns a prober; Run starts it. A nil sampler leaves the
// traffic out: links are then probed by the clock alone.
func NewProber(cfg Config, check Checker, clk clock.Clock, canBind bool) *Prober {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Prober{cfg: cfg.withDefaults(), check: check, clock: clk, canBind: canBind, out: make(chan Report, 64),
		links: map[string]*linkState{}, ctx: context.Background()}
}

// WithTraffic makes the prober read the traffic of the link carrying the
// work through s (before Start).
func (p *Prober) WithTraffic(s Sampler) *Prober {
	p.sampler = s
	return p
}

// Results delivers finished rounds.
func (p *Prober) Results() <-chan Report { return p.out }

// Start sets the context the probe loops run under.
func (p *Prober) Start(ctx context.Context) {
	p.mu.Lock()
	p.ctx = ctx
	p.mu.Unlock()
}

// Watch tells the prober the current links, with every link ranked above
// the one carrying the work in preferred: loops start for newly connected
// links, stop for links gone or down, and re-plan when a link's role
// changes.
func (p *Prober) Watch(s *netstate.Snapshot, preferred map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	seen := map[string]bool{}
	tunnels := vpnTraffic(s)
	for i := range s.Links {
		l := &s.Links[i]
		// A cable without carrier is not probed: its probes could only
		// fail, and a link that was unplugged is not lossy. It starts with
		// a fresh history when the carrier comes back.
		if l.State != netstate.StateConnected || l.Carrier == netstate.No || l.Interface == "" || l.Kind == netstate.KindVPN {
			continue
		}
		seen[l.ID] = true
		role := Backup
		switch {
		case s.Primary == l.ID:
			role = Primary
		case preferred[l.ID]:
			role = Preferred
		}
		var tl traffic.Link
		if role == Primary {
			tl = traffic.Link{Interfaces: append([]string{l.Interface}, tunnels.Interfaces...),
				Addresses: append(addresses(l.Addresses), tunnels.Addresses...)}
		}
		ls := p.links[l.ID]
		if ls == nil {
			ctx, cancel := context.WithCancel(p.ctx)
			ls = &linkState{id: l.ID, iface: l.Interface, role: role, metered: l.Metered == netstate.Yes, traffic: tl,
				wake: make(chan struct{}, 1), cancel: cancel}
			p.links[l.ID] = ls
			go p.loop(ctx, ls)
			continue
		}
		changed := ls.role != role || ls.metered != (l.Metered == netstate.Yes) || ls.iface != l.Interface ||
			!slices.Equal(ls.traffic.Interfaces, tl.Interfaces) || !slices.Equal(ls.traffic.Addresses, tl.Addresses)
		if role == Primary && ls.role != Primary && now.Sub(ls.checked) > p.cfg.Fresh {
			ls.refresh = true // it takes the work on an old check: renew it
		}
		if changed {
			ls.role, ls.metered, ls.iface, ls.traffic = role, l.Metered == netstate.Yes, l.Interface, tl
			poke(ls)
		}
	}
	for id, ls := range p.links {
		if !seen[id] {
			ls.cancel()
			delete(p.links, id)
		}
	}
}

// Refresh asks for a round at once on the link carrying the work if its
// last check is older than Fresh (a screen has just been opened: "can I
// work here?" deserves a fresh answer).
func (p *Prober) Refresh() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	for _, ls := range p.links {
		if ls.role == Primary && now.Sub(ls.checked) > p.cfg.Fresh {
			ls.refresh = true
			poke(ls)
		}
	}
}

// vpnTraffic is what of a connected VPN rides on the link carrying the
// work: its tunnel's answers came over that link.
func vpnTraffic(s *netstate.Snapshot) traffic.Link {
	var t traffic.Link
	for i := range s.Links {
		l := &s.Links[i]
		if l.Kind == netstate.KindVPN && l.State == netstate.StateConnected && l.Interface != "" {
			t.Interfaces = append(t.Interfaces, l.Interface)
			t.Addresses = append(t.Addresses, addresses(l.Addresses)...)
		}
	}
	return t
}

// addresses parses a link's addresses ("10.0.0.2/24").
func addresses(in []string) []netip.Addr {
	var out []netip.Addr
	for _, a := range in {
		if p, err := netip.ParsePrefix(a); err == nil {
			out = append(out, p.Addr())
		} else if ad, err := netip.ParseAddr(a); err == nil {
			out = append(out, ad)
		}
	}
	return out
}

func poke(ls *linkState) {
	select {
	case ls.wake <- struct{}{}:
	default:
	}
}

// view is the link's state for the policy; p.mu must be held.
func (ls *linkState) view(lastStart time.Time) view {
	return view{role: ls.role, metered: ls.metered, last: ls.last, failures: ls.failures, overdue: ls.overdue,
		suspect: ls.suspect, refresh: ls.refresh, checked: ls.checked, lastStart: lastStart}
}

// refreshOthers asks for a round at once on every other link: the link
// carrying the work is in doubt, and the fail-over decision about to be
// made needs fresh answers. p.mu must be held.
func (p *Prober) refreshOthers(except string) {
	for id, ls := range p.links {
		if id != except && !ls.refresh {
			ls.refresh = true
			poke(ls)
		}
	}
}

// maxInFlight bounds overlapping rounds on one link.
const maxInFlight = 3

type roundDone struct {
	seq int
	r   Result
}

// loop runs rounds on one link, and reads its traffic while it carries
// the work. A round starts when the policy says, whether or not the
// previous one has finished (a black-holed target takes the whole
// timeout), and rounds are recorded in the order they started.
func (p *Prober) loop(ctx context.Context, ls *linkState) {
	timer := p.clock.NewTimer(0)
	defer timer.Stop()
	sampler := newTrafficWatch(ctx, p, ls)
	defer sampler.stop()
	done := make(chan roundDone, maxInFlight)
	pending := map[int]Result{}
	started, applied := 0, 0
	var lastStart time.Time
	starts := map[int]time.Time{}
	// due is when the next round starts (zero with ok: at once).
	due := func(now time.Time) (time.Time, bool) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if t, out := starts[applied]; out {
			ls.overdue = now.Sub(t) >= p.cfg.RecoverRTT
		} else {
			ls.overdue = false
		}
		if !p.canBind && ls.role != Primary {
			return time.Time{}, false
		}
		return p.cfg.next(ls.view(lastStart))
	}
	replan := func() {
		now := p.clock.Now()
		next, ok := due(now)
		timer.Stop()
		sampler.plan()
		if !ok {
			return
		}
		// Look again when the oldest round out becomes overdue.
		if t, out := starts[applied]; out && !ls.overdue {
			if o := t.Add(p.cfg.RecoverRTT); o.Before(next) || next.IsZero() {
				next = o
			}
		}
		timer.Reset(max(0, next.Sub(now)))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ls.wake:
			replan()
		case <-sampler.c():
			sampler.read()
			replan()
		case err := <-sampler.woken():
			sampler.wokenBy(err)
		case rd := <-done:
			pending[rd.seq] = rd.r
			for {
				r, ok := pending[applied]
				if !ok {
					break
				}
				delete(pending, applied)
				delete(starts, applied)
				applied++
				p.mu.Lock()
				probe := p.record(ls, r)
				p.mu.Unlock()
				select {
				case p.out <- Report{Link: ls.id, Probe: probe}:
				case <-ctx.Done():
					return
				}
			}
			replan()
		case <-timer.C():
			now := p.clock.Now()
			next, ok := due(now)
			if !ok || now.Before(next) {
				replan() // woke to check on an outstanding round, not to start one
				continue
			}
			p.mu.Lock()
			iface := ls.iface
			ls.refresh = false
			p.mu.Unlock()
			if started-applied >= maxInFlight {
				continue // replanned when a round finishes
			}
			seq := started
			started++
			lastStart = now
			starts[seq] = now
			go func() {
				r := p.round(ctx, iface)
				select {
				case done <- roundDone{seq, r}:
				case <-ctx.Done():
				}
			}()
			replan()
		}
	}
}

// round probes every target in parallel.
func (p *Prober) round(ctx context.Context, iface string) Result {
	results := make([]Result, len(p.cfg.Targets))
	var wg sync.WaitGroup
	for i, t := range p.cfg.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = p.check.Check(ctx, iface, t)
		}()
	}
	wg.Wait()
	okCount := 0
	var bytes int64
	var best, firstFail *Result
	for i := range results {
		r := &results[i]
		bytes += r.Bytes
		if r.OK {
			okCount++
			if best == nil || r.RTT < best.RTT {
				best = r
			}
		} else if firstFail == nil {
			firstFail = r
		}
	}
	// The round's figures are one target's; its bytes are every target's.
	out := results[0]
	switch {
	case okCount >= p.cfg.Reliability && best != nil:
		out = *best
	case firstFail != nil:
		out = *firstFail
	}
	out.Bytes = bytes
	return out
}

// record folds a round into the link's history.
func (p *Prober) record(ls *linkState, r Result) netstate.Probe {
	ls.history = append(ls.history, r.OK)
	if len(ls.history) > p.cfg.Window {
		ls.history = ls.history[len(ls.history)-p.cfg.Window:]
	}
	if r.OK {
		ls.failures, ls.suspect = 0, false
		ls.checked = r.Start.Add(r.RTT)
	} else {
		ls.failures++
	}
	lost := 0
	for _, ok := range ls.history {
		if !ok {
			lost++
		}
	}
	if day := r.Start.UTC().Unix() / 86400; day != ls.bytesDay {
		ls.bytesDay, ls.bytesToday = day, 0
	}
	ls.bytesToday += r.Bytes
	pr := netstate.Probe{Checked: r.Start, OK: netstate.Bool(r.OK), Reason: r.Reason, Portal: r.Portal,
		Target: r.Target, Bound: r.Bound, Failures: ls.failures, BytesToday: ls.bytesToday, Traffic: ls.told}
	if r.OK {
		pr.RTT = netstate.Some(float64(r.RTT) / float64(time.Millisecond))
	}
	if len(ls.history) >= 3 {
		pr.Loss = netstate.Some(100 * float64(lost) / float64(len(ls.history)))
	}
	ls.last = pr
	return pr
}
