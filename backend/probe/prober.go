package probe

import (
	"context"
	"sync"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Checker probes one target over one interface; Dialer is the real one.
type Checker interface {
	Check(ctx context.Context, iface string, t Target) Result
}

// Config says what to probe and how often.
type Config struct {
	Targets []Target
	// Active is the interval for the link carrying the work and for any
	// link in doubt (its last probe failed, was slow or lost packets).
	Active time.Duration
	// Doubt is the interval for the link carrying the work while it is in
	// doubt. Rounds may overlap: with a 1 s timeout and Down = 3, three
	// rounds back to back take 3 s after the first failing one starts,
	// which cannot meet "fail over within 3 s of a silent failure"; rounds
	// every 500 ms can.
	Doubt time.Duration
	// Standby is the interval for other links while they are steady.
	Standby time.Duration
	// Timeout bounds one probe.
	Timeout time.Duration
	// Reliability is how many targets must answer for a round to pass.
	Reliability int
	// Window is how many rounds loss is counted over.
	Window int
	// Metered links (cellular data plans) are probed no more often than
	// MeteredInterval, and as a standby only when MeteredStandby is set.
	MeteredInterval time.Duration
	MeteredStandby  bool
	// RecoverRTT and RecoverLoss: a round slower or lossier than these
	// keeps the link in doubt (the hysteresis of THRESHOLDS.md).
	RecoverRTT  time.Duration
	RecoverLoss float64
}

// DefaultConfig returns the documented defaults; the target is the one
// Debian's NetworkManager checks connectivity against, until a deployment
// names its clinical system.
func DefaultConfig() Config {
	return Config{
		Targets: []Target{{Kind: HTTP, Address: "http://nmcheck.gnome.org/check_network_status.txt",
			ExpectStatus: 200, ExpectBody: "NetworkManager is online"}},
		Active:          time.Second,
		Doubt:           500 * time.Millisecond,
		Standby:         10 * time.Second,
		Timeout:         time.Second,
		Reliability:     1,
		Window:          10,
		MeteredInterval: 5 * time.Second,
		RecoverRTT:      500 * time.Millisecond,
		RecoverLoss:     0.10,
	}
}

// Prober runs probe rounds on every connected link, each on its own
// schedule, and reports each round as a netstate.Probe.
type Prober struct {
	cfg   Config
	check Checker
	clock clock.Clock
	// canBind is false when the process may not bind to interfaces: then
	// only the link carrying the work is probed, unbound, and says so.
	canBind bool
	out     chan Report

	mu    sync.Mutex
	links map[string]*linkState
	ctx   context.Context
}

// Report is one finished round.
type Report struct {
	Link  string
	Probe netstate.Probe
}

type linkState struct {
	id, iface string
	primary   bool
	metered   bool
	history   []bool // recent rounds, newest last
	failures  int
	// overdue is set while a round has been out longer than RecoverRTT
	// without an answer: a black hole shows itself that way long before
	// the timeout, so the link is in doubt from then on.
	overdue bool
	last    netstate.Probe
	// bytesDay is the day (UTC, days since 1970) bytesToday counts.
	bytesDay, bytesToday int64
	wake                 chan struct{}
	cancel               context.CancelFunc
}

// NewProber returns a prober; Run starts it.
func NewProber(cfg Config, check Checker, clk clock.Clock, canBind bool) *Prober {
	d := DefaultConfig()
	if len(cfg.Targets) == 0 {
		cfg.Targets = d.Targets
	}
	if cfg.Active <= 0 {
		cfg.Active = d.Active
	}
	if cfg.Standby <= 0 {
		cfg.Standby = d.Standby
	}
	if cfg.Doubt <= 0 {
		cfg.Doubt = min(d.Doubt, cfg.Active)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = d.Timeout
	}
	if cfg.Reliability <= 0 {
		cfg.Reliability = 1
	}
	if cfg.Window <= 0 {
		cfg.Window = d.Window
	}
	if cfg.MeteredInterval <= 0 {
		cfg.MeteredInterval = d.MeteredInterval
	}
	if cfg.RecoverRTT <= 0 {
		cfg.RecoverRTT = d.RecoverRTT
	}
	if cfg.RecoverLoss <= 0 {
		cfg.RecoverLoss = d.RecoverLoss
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Prober{cfg: cfg, check: check, clock: clk, canBind: canBind, out: make(chan Report, 64),
		links: map[string]*linkState{}, ctx: context.Background()}
}

// Results delivers finished rounds.
func (p *Prober) Results() <-chan Report { return p.out }

// Start sets the context the probe loops run under.
func (p *Prober) Start(ctx context.Context) {
	p.mu.Lock()
	p.ctx = ctx
	p.mu.Unlock()
}

// Watch tells the prober the current links: loops start for newly
// connected links, stop for links gone or down, and re-plan when a link
// starts or stops carrying the work.
func (p *Prober) Watch(s *netstate.Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	for i := range s.Links {
		l := &s.Links[i]
		// A cable without carrier is not probed: its probes could only
		// fail, and a link that was unplugged is not lossy. It starts with
		// a fresh history when the carrier comes back.
		if l.State != netstate.StateConnected || l.Carrier == netstate.No || l.Interface == "" || l.Kind == netstate.KindVPN {
			continue
		}
		seen[l.ID] = true
		ls := p.links[l.ID]
		primary := s.Primary == l.ID
		metered := l.Metered == netstate.Yes
		if ls == nil {
			ctx, cancel := context.WithCancel(p.ctx)
			ls = &linkState{id: l.ID, iface: l.Interface, primary: primary, metered: metered,
				wake: make(chan struct{}, 1), cancel: cancel}
			p.links[l.ID] = ls
			go p.loop(ctx, ls)
			continue
		}
		if ls.primary != primary || ls.metered != metered || ls.iface != l.Interface {
			ls.primary, ls.metered, ls.iface = primary, metered, l.Interface
			select {
			case ls.wake <- struct{}{}:
			default:
			}
		}
	}
	for id, ls := range p.links {
		if !seen[id] {
			ls.cancel()
			delete(p.links, id)
		}
	}
}

// interval says how long from the start of one round to the start of the
// next on a link, and whether to probe it at all.
func (p *Prober) interval(ls *linkState) (time.Duration, bool) {
	doubt := ls.last.OK != netstate.Yes || ls.failures > 0 || ls.overdue ||
		(ls.last.RTT.OK && ls.last.RTT.V > float64(p.cfg.RecoverRTT/time.Millisecond)) ||
		(ls.last.Loss.OK && ls.last.Loss.V/100 > p.cfg.RecoverLoss)
	d := p.cfg.Standby
	switch {
	case ls.primary && doubt && (ls.last.OK != netstate.Unknown || ls.overdue):
		d = p.cfg.Doubt
	case ls.primary || doubt:
		d = p.cfg.Active
	}
	if ls.metered {
		if !ls.primary && !p.cfg.MeteredStandby && ls.last.OK == netstate.Yes {
			return 0, false // a healthy metered standby costs nothing
		}
		d = max(d, p.cfg.MeteredInterval)
	}
	if !p.canBind && !ls.primary {
		return 0, false
	}
	return d, true
}

// overdueNow reports whether the oldest unanswered round is overdue.
func (p *Prober) overdueNow(starts map[int]time.Time, oldest int, now time.Time) bool {
	t, out := starts[oldest]
	return out && now.Sub(t) >= p.cfg.RecoverRTT
}

// maxInFlight bounds overlapping rounds on one link.
const maxInFlight = 3

type roundDone struct {
	seq int
	r   Result
}

// loop runs rounds on one link. A round starts every interval whether or
// not the previous one has finished (a black-holed target takes the whole
// timeout), and rounds are recorded in the order they started.
func (p *Prober) loop(ctx context.Context, ls *linkState) {
	timer := p.clock.NewTimer(0)
	defer timer.Stop()
	done := make(chan roundDone, maxInFlight)
	pending := map[int]Result{}
	started, applied := 0, 0
	var lastStart time.Time
	starts := map[int]time.Time{}
	replan := func() {
		now := p.clock.Now()
		p.mu.Lock()
		// Is the oldest unanswered round overdue?
		if t, out := starts[applied]; out {
			ls.overdue = now.Sub(t) >= p.cfg.RecoverRTT
		} else {
			ls.overdue = false
		}
		d, ok := p.interval(ls)
		overdueAt := time.Time{}
		if t, out := starts[applied]; out && !ls.overdue {
			overdueAt = t.Add(p.cfg.RecoverRTT)
		}
		p.mu.Unlock()
		timer.Stop()
		if !ok {
			return
		}
		next := now.Add(d)
		if !lastStart.IsZero() {
			next = lastStart.Add(d)
		}
		if !overdueAt.IsZero() && overdueAt.Before(next) {
			next = overdueAt // look again when the round becomes overdue
		}
		timer.Reset(max(0, next.Sub(now)))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ls.wake:
			replan()
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
			p.mu.Lock()
			iface, primary := ls.iface, ls.primary
			p.mu.Unlock()
			now := p.clock.Now()
			if d, ok := p.interval(ls); !ok || (!lastStart.IsZero() && now.Before(lastStart.Add(d)) && !p.overdueNow(starts, applied, now)) {
				replan() // woke to check on an outstanding round, not to start one
				continue
			}
			if (!p.canBind && !primary) || started-applied >= maxInFlight {
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
		ls.failures = 0
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
		Target: r.Target, Bound: r.Bound, Failures: ls.failures, BytesToday: ls.bytesToday}
	if r.OK {
		pr.RTT = netstate.Some(float64(r.RTT) / float64(time.Millisecond))
	}
	if len(ls.history) >= 3 {
		pr.Loss = netstate.Some(100 * float64(lost) / float64(len(ls.history)))
	}
	ls.last = pr
	return pr
}
