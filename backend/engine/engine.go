// Package engine runs a network source together with the probes, the
// failover machine and the actuator that carries out its decisions, keeps
// the recent events, and publishes the result to whoever watches: the TUI,
// `fieldlink status` and `fieldlink daemon`.
package engine

import (
	"context"
	"errors"
	"fmt"
	"github.com/fieldlink/fieldlink/backend/areas"
	"sort"
	"sync"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/probe"
	"github.com/fieldlink/fieldlink/backend/vpn"
)

// Source produces updates of the network picture. The real NetworkManager
// source and the simulated one both satisfy it, so everything downstream
// runs the same code in the demo and for real.
type Source interface {
	// Name describes the source for the screen ("this device", a scenario).
	Name() string
	// Run emits updates until ctx ends. The first update should come as
	// soon as the source has a picture.
	Run(ctx context.Context, emit func(netstate.Update)) error
}

// Actuator carries out failover's actions; the real source does it through
// NetworkManager, the simulated one in its scenario.
type Actuator interface {
	Activate(ctx context.Context, profile string) error
	Deactivate(ctx context.Context, profile string) error
	SetDemoted(ctx context.Context, linkID string, demoted bool) error
}

// VPNRecorder is a Recorder that journals the VPN's own sessions.
type VPNRecorder interface {
	ObserveVPN(now time.Time, st netstate.VPNStatus)
}

// setVPN publishes the VPN's status and journals its change; e.mu must be
// held.
func (e *Engine) setVPN(now time.Time, st netstate.VPNStatus) {
	e.state.Work.VPN = st
	if r, ok := e.opt.Recorder.(VPNRecorder); ok {
		r.ObserveVPN(now, st)
	}
}

// VPNDiagnoser is an Actuator that can say why a VPN profile did not
// connect, from what the device can check itself.
type VPNDiagnoser interface {
	DiagnoseVPN(ctx context.Context, profile string) string
}

// Prober probes the links it is shown.
type Prober interface {
	Start(ctx context.Context)
	// Watch tells it the links, with those ranked above the one carrying
	// the work in preferred.
	Watch(s *netstate.Snapshot, preferred map[string]bool)
	// Refresh asks for a fresh check of the link carrying the work, if
	// its last is old (a screen has just opened).
	Refresh()
	Results() <-chan probe.Report
}

// Recorder journals what the engine sees; only the instance in charge has
// one. Observe must not block.
type Recorder interface {
	Observe(now time.Time, snap *netstate.Snapshot, events []netstate.Event)
}

// Role says whether this instance is in charge.
type Role int

// Roles.
const (
	// Holder holds the single-instance lock: it may act and journal.
	Holder Role = iota
	// Observer watches while another instance is in charge.
	Observer
)

func (r Role) String() string {
	if r == Observer {
		return "observer"
	}
	return "holder"
}

// MarshalText implements encoding.TextMarshaler.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// State is what watchers receive: the classified snapshot and its story.
type State struct {
	Seq      uint64            `json:"seq"`
	Snapshot netstate.Snapshot `json:"snapshot"`
	// Events are the most recent events, oldest first.
	Events []netstate.Event `json:"events"`
	Role   Role             `json:"role"`
	// Holder describes the instance in charge when this one observes.
	Holder string `json:"holder,omitempty"`
	Source string `json:"source_name"`
	// Warnings are standing problems to show until they clear, such as a
	// journal that cannot be written.
	Warnings []string `json:"warnings,omitempty"`
	// Work is the VPN and the clinical application (the holder's, as an
	// observer is told it).
	Work netstate.Work `json:"work,omitzero"`
}

// Options configure an engine.
type Options struct {
	Thresholds netstate.Thresholds
	Clock      clock.Clock
	// Throttle bounds how often watchers are woken for routine changes
	// (signal figures): at most once per Throttle, the first change of a
	// quiet spell at once (default 100 ms). Urgent changes go at once.
	Throttle time.Duration
	// MaxEvents bounds the events kept for watchers (default 200).
	MaxEvents int
	Role      Role
	Holder    string
	// Prober, Failover and Actuator are optional; an observer of the real
	// system has none (the holder probes and acts, and says so on its
	// control socket).
	Prober   Prober
	Failover *failover.Machine
	Actuator Actuator
	// ActionTimeout bounds each action (default 10 s).
	ActionTimeout time.Duration
	// Recorder journals every picture and event (the holder's only).
	Recorder Recorder
	// VPN keeps the configured VPN up (the holder's only).
	VPN *vpn.Keeper
	// Areas names where each link is on the screen; nil: no names.
	Areas *areas.Map
	// Metered overrides NetworkManager's Metered guess by profile: true
	// metered, false not (IT knows which SIM is on an unlimited plan).
	Metered map[string]bool
}

// Engine ties a source to its watchers.
type Engine struct {
	src Source
	opt Options

	mu       sync.Mutex
	state    State
	havePic  bool
	raw      netstate.Snapshot // the source's last picture, unclassified
	probes   map[string]netstate.Probe
	watchers map[chan State]struct{}
	ready    chan struct{}
	eventSeq uint64
	actions  []failover.Action
	next     time.Time
	warnings map[string]string
	wake     chan struct{}
	// early are events added before the first picture: the journal gets
	// them with it (a recorder needs a picture to write against).
	early []netstate.Event
	// localApp: the application shown is this instance's own.
	localApp bool
}

// New returns an engine for src.
func New(src Source, opt Options) *Engine {
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Throttle <= 0 {
		opt.Throttle = 100 * time.Millisecond
	}
	if opt.MaxEvents <= 0 {
		opt.MaxEvents = 200
	}
	if opt.ActionTimeout <= 0 {
		opt.ActionTimeout = 10 * time.Second
	}
	return &Engine{
		src:      src,
		opt:      opt,
		probes:   map[string]netstate.Probe{},
		watchers: map[chan State]struct{}{},
		ready:    make(chan struct{}),
		wake:     make(chan struct{}, 1),
		state:    State{Role: opt.Role, Holder: opt.Holder, Source: src.Name()},
	}
}

// Ingest folds a source update into the engine's state. The engine's logic
// is synchronous so that tests can drive it. It reports whether the change
// is urgent (a carrier, state, route, service or level change, or a
// failover decision) and should reach watchers at once.
func (e *Engine) Ingest(u netstate.Update, now time.Time) (urgent bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.raw = u.Snapshot.Clone()
	return e.evaluate(now, u.Events)
}

// IngestProbe folds in a probe round.
func (e *Engine) IngestProbe(r probe.Report, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.probes[r.Link] = r.Probe
	if !e.havePic {
		return false
	}
	return e.evaluate(now, nil)
}

// Tick re-evaluates without news, for failover's timers.
func (e *Engine) Tick(now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.havePic {
		return false
	}
	return e.evaluate(now, nil)
}

// evaluate merges probes, classifies, runs failover and records events;
// e.mu must be held.
func (e *Engine) evaluate(now time.Time, srcEvents []netstate.Event) bool {
	snap := e.raw.Clone()
	for i := range snap.Links {
		l := &snap.Links[i]
		if l.State != netstate.StateConnected {
			// A link that went down starts afresh when it comes back, and
			// what a probe said before it went down is history.
			delete(e.probes, l.ID)
			l.Probe = netstate.Probe{}
			continue
		}
		if l.Carrier == netstate.No {
			// Nor is an unplugged cable probed: the prober's history of it
			// is forgotten (a source's own figures stand).
			delete(e.probes, l.ID)
			continue
		}
		// A source with probes of its own (the scenario) keeps them.
		if p, ok := e.probes[l.ID]; ok && l.Probe.IsZero() {
			l.Probe = p
		}
	}
	for id := range e.probes {
		if snap.Link(id) == nil {
			delete(e.probes, id)
		}
	}
	e.applyMetered(&snap)
	netstate.Apply(&snap, e.opt.Thresholds)
	if m := e.opt.Areas; m != nil {
		where := areas.Where(&snap)
		for i := range snap.Links {
			snap.Links[i].Area = m.Name(m.CodeOf(&snap.Links[i], where))
		}
	}

	var evs []netstate.Event
	if e.havePic {
		kept := ""
		if e.opt.VPN != nil && e.opt.Role == Holder {
			kept = e.opt.VPN.Kept(&snap)
			if kept == "" {
				kept = e.opt.VPN.Kept(&e.state.Snapshot)
			}
		}
		evs = deriveEvents(&e.state.Snapshot, &snap, now, kept)
	} else {
		evs = []netstate.Event{{Time: now, Kind: netstate.EventLevel, Link: snap.Primary, Level: snap.Level,
			Text: snap.Level.Word() + ": " + snap.Reason}}
	}
	urgent := len(evs) > 0
	if e.opt.Failover != nil {
		out := e.opt.Failover.Step(now, &snap)
		e.actions = append(e.actions, out.Actions...)
		e.next = out.Next
		evs = append(evs, out.Events...)
		urgent = urgent || len(out.Events) > 0 || len(out.Actions) > 0
	}
	if k := e.opt.VPN; k != nil && e.opt.Role == Holder {
		work := ""
		if e.opt.Failover != nil {
			work = e.opt.Failover.Current()
		}
		out := k.StepOn(now, &snap, work)
		e.actions = append(e.actions, out.Actions...)
		if !out.Next.IsZero() && (e.next.IsZero() || out.Next.Before(e.next)) {
			e.next = out.Next
		}
		evs = append(evs, out.Events...)
		urgent = urgent || len(out.Events) > 0 || len(out.Actions) > 0
		if st := k.Status(); st != e.state.Work.VPN {
			e.setVPN(now, st)
			urgent = true
		}
	}
	// The source's own words (scenario notes) come before what we derived
	// from the change they describe.
	all := append(append([]netstate.Event(nil), srcEvents...), evs...)
	e.appendEvents(all)
	e.state.Snapshot = snap
	if e.opt.Recorder != nil {
		e.opt.Recorder.Observe(now, &snap, append(e.early, all...))
		e.early = nil
	}
	e.state.Seq++
	if !e.havePic {
		e.havePic = true
		close(e.ready)
	}
	if e.opt.Prober != nil && e.opt.Role == Holder {
		var preferred map[string]bool
		if e.opt.Failover != nil {
			preferred = e.opt.Failover.Preferred(&snap)
		}
		e.opt.Prober.Watch(&snap, preferred)
	}
	return urgent
}

// applyMetered sets the links whose profile IT named metered or not.
func (e *Engine) applyMetered(s *netstate.Snapshot) {
	if len(e.opt.Metered) == 0 {
		return
	}
	for i := range s.Links {
		l := &s.Links[i]
		if m, ok := e.opt.Metered[l.Profile]; ok && l.Profile != "" {
			l.Metered = netstate.Bool(m)
		}
	}
}

// Refresh asks the prober for a fresh check of the link carrying the work
// when its last one is old: a screen has just been opened, and "can I
// work here?" deserves a fresh answer.
func (e *Engine) Refresh() {
	if e.opt.Prober != nil && e.opt.Role == Holder {
		e.opt.Prober.Refresh()
	}
}

// TakeActions hands over the actions failover decided so far and when it
// wants another look. Run calls it; drivers that carry actions out
// themselves (a deterministic replay) call it instead of Run.
func (e *Engine) TakeActions() ([]failover.Action, time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.actions
	e.actions = nil
	return a, e.next
}

// AddEvents records events from elsewhere (action results, journal
// warnings, the holder's decisions seen by an observer).
func (e *Engine) AddEvents(evs ...netstate.Event) {
	e.mu.Lock()
	e.appendEvents(evs)
	e.state.Seq++
	if e.opt.Recorder != nil && len(evs) > 0 {
		if e.havePic {
			e.opt.Recorder.Observe(evs[len(evs)-1].Time, &e.state.Snapshot, evs)
		} else {
			e.early = append(e.early, evs...)
		}
	}
	e.mu.Unlock()
	// An added event (a visit marked, the journal failing) is news on its
	// own: the screen must not wait for the network to change.
	e.publish()
}

// SetAhead sets what the fleet says of the area the device is in, and
// wakes the watchers if it changed.
func (e *Engine) SetAhead(text string) {
	e.mu.Lock()
	if e.state.Work.Ahead == text {
		e.mu.Unlock()
		return
	}
	e.state.Work.Ahead = text
	e.state.Seq++
	e.mu.Unlock()
	e.publish()
}

// SetWarning sets (or, with "", clears) a standing warning and wakes the
// watchers.
func (e *Engine) SetWarning(key, text string) {
	e.mu.Lock()
	if e.warnings == nil {
		e.warnings = map[string]string{}
	}
	if text == "" {
		delete(e.warnings, key)
	} else {
		e.warnings[key] = text
	}
	keys := make([]string, 0, len(e.warnings))
	for k := range e.warnings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.state.Warnings = e.state.Warnings[:0]
	for _, k := range keys {
		e.state.Warnings = append(e.state.Warnings, e.warnings[k])
	}
	e.state.Seq++
	e.mu.Unlock()
	e.publish()
}

func (e *Engine) appendEvents(evs []netstate.Event) {
	if len(evs) == 0 {
		return
	}
	for i := range evs {
		e.eventSeq++
		evs[i].Seq = e.eventSeq
	}
	all := append(e.state.Events, evs...)
	if n := len(all) - e.opt.MaxEvents; n > 0 {
		all = append([]netstate.Event(nil), all[n:]...)
	}
	e.state.Events = all
}

// ConnectVPN asks for the VPN now (a key press): it clears a hold and
// skips any back-off. It reports false when this instance keeps no VPN.
func (e *Engine) ConnectVPN() bool {
	k := e.opt.VPN
	if k == nil || e.opt.Role != Holder {
		return false
	}
	e.mu.Lock()
	k.Connect(e.opt.Clock.Now())
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return true
}

// VPNHold tells the VPN keeper the attempt in progress will get no
// answer from the agent (the server refused the password twice, the
// prompt was cancelled or left): its end is held for the clinician, in
// those words, rather than retried.
func (e *Engine) VPNHold(profile, why string) {
	k := e.opt.VPN
	if k == nil || e.opt.Role != Holder || k.Status().Profile != profile {
		return
	}
	e.mu.Lock()
	k.HoldNext(e.opt.Clock.Now(), why)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// SetApp publishes the clinical application's status. Once set, the
// application shown is this instance's own, whatever the holder says: a
// client at the clinician's screen runs the application there.
func (e *Engine) SetApp(st netstate.AppStatus) {
	e.mu.Lock()
	e.state.Work.App = st
	e.localApp = true
	e.state.Seq++
	e.mu.Unlock()
	e.publish()
}

// SetHolder says which instance is in charge, for a client's banner.
func (e *Engine) SetHolder(h string) {
	e.mu.Lock()
	changed := e.state.Holder != h
	e.state.Holder = h
	e.state.Seq++
	e.mu.Unlock()
	if changed {
		e.publish()
	}
}

// SetVisit publishes the visit in progress.
func (e *Engine) SetVisit(v netstate.VisitStatus) {
	e.mu.Lock()
	e.state.Work.Visit = v
	e.state.Seq++
	e.mu.Unlock()
	e.publish()
}

// SetSync publishes how the journal stands with the fleet server.
func (e *Engine) SetSync(st netstate.SyncStatus) {
	e.mu.Lock()
	e.state.Work.Sync = st
	e.state.Seq++
	e.mu.Unlock()
	e.publish()
}

// SetRemoteWork takes the work status the holder reports: its VPN and
// visit, and its application unless this instance runs its own.
func (e *Engine) SetRemoteWork(w netstate.Work) {
	e.mu.Lock()
	if e.localApp {
		w.App = e.state.Work.App
	}
	e.state.Work = w
	e.state.Seq++
	e.mu.Unlock()
	e.publish()
}

// Current returns a copy of the latest state.
func (e *Engine) Current() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.copyState()
}

func (e *Engine) copyState() State {
	s := e.state
	s.Snapshot = s.Snapshot.Clone()
	s.Events = append([]netstate.Event(nil), s.Events...)
	s.Warnings = append([]string(nil), s.Warnings...)
	return s
}

// Ready is closed once the first picture has arrived.
func (e *Engine) Ready() <-chan struct{} { return e.ready }

// Subscribe returns a channel that always holds the latest state a watcher
// has not yet read (older ones are dropped: watchers want the present, not
// a backlog), and a function to stop watching.
func (e *Engine) Subscribe() (<-chan State, func()) {
	ch := make(chan State, 1)
	e.mu.Lock()
	e.watchers[ch] = struct{}{}
	if e.havePic {
		ch <- e.copyState()
	}
	e.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			e.mu.Lock()
			delete(e.watchers, ch)
			e.mu.Unlock()
		})
	}
}

// publish hands the current state to every watcher, once there is a
// picture: a warning or the holder's name alone is not one.
func (e *Engine) publish() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.havePic {
		return
	}
	for ch := range e.watchers {
		select {
		case <-ch:
		default:
		}
		ch <- e.copyState()
	}
}

// ErrSourceEnded is returned when a source stops on its own.
var ErrSourceEnded = errors.New("network source stopped")

type actionResult struct {
	a    failover.Action
	err  error
	at   time.Time
	note string // a diagnosis
}

// Run runs the source, probes and failover, and publishes until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := e.newLoop(ctx)
	defer l.inflight.Wait()
	srcDone := make(chan error, 1)
	go func() {
		srcDone <- e.src.Run(ctx, func(u netstate.Update) {
			select {
			case l.updates <- u:
			case <-ctx.Done():
			}
		})
	}()
	var probes <-chan probe.Report
	if e.opt.Prober != nil && e.opt.Role == Holder {
		e.opt.Prober.Start(ctx)
		probes = e.opt.Prober.Results()
	}
	c := e.opt.Clock
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-srcDone:
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = ErrSourceEnded
			}
			return err
		case u := <-l.updates:
			now := c.Now()
			l.after(e.Ingest(u, now), now)
		case r := <-probes:
			now := c.Now()
			l.after(e.IngestProbe(r, now), now)
		case <-l.tick.C():
			now := c.Now()
			l.after(e.Tick(now), now)
		case <-e.wake:
			now := c.Now()
			e.Tick(now)
			l.after(true, now) // a key was pressed: show what came of it now
		case r := <-l.done:
			l.actionDone(r)
		case <-l.throttle.C():
			l.throttled()
		}
	}
}

// loop is Run's state between events: the actions on their way, the
// failover timer, and the throttle that keeps a burst of changes to one
// publication per window.
type loop struct {
	e        *Engine
	ctx      context.Context
	updates  chan netstate.Update
	done     chan actionResult
	inflight sync.WaitGroup
	throttle clock.Timer
	tick     clock.Timer
	lastPub  time.Time
	// pendingSeq counts evaluations, pubSeq the last one published.
	pendingSeq, pubSeq uint64
	armed              bool // the throttle timer is set
}

func (e *Engine) newLoop(ctx context.Context) *loop {
	c := e.opt.Clock
	l := &loop{e: e, ctx: ctx, updates: make(chan netstate.Update, 16), done: make(chan actionResult, 16),
		throttle: c.NewTimer(time.Hour), tick: c.NewTimer(time.Hour)}
	l.throttle.Stop()
	l.tick.Stop()
	return l
}

// after handles what an evaluation produced: actions to carry out, a
// failover timer, and waking watchers now or within the throttle.
func (l *loop) after(urgent bool, now time.Time) {
	l.pendingSeq++
	acts, next := l.e.TakeActions()
	for _, a := range acts {
		l.carryOut(a)
	}
	l.tick.Stop()
	if !next.IsZero() {
		l.tick.Reset(max(next.Sub(now), 0))
	}
	if urgent {
		// A cable pull must not wait for the throttle window.
		l.publish(now)
		return
	}
	if l.armed {
		return
	}
	if wait := l.e.opt.Throttle - now.Sub(l.lastPub); l.lastPub.IsZero() || wait <= 0 {
		l.publish(now)
	} else {
		l.throttle.Reset(wait)
		l.armed = true
	}
}

func (l *loop) publish(now time.Time) {
	l.e.publish()
	l.lastPub, l.pubSeq = now, l.pendingSeq
}

// carryOut does an action on its own goroutine, bounded by the action
// timeout, and reports back to the loop.
func (l *loop) carryOut(a failover.Action) {
	e, c := l.e, l.e.opt.Clock
	l.inflight.Add(1)
	go func() {
		defer l.inflight.Done()
		actx, acancel := context.WithTimeout(l.ctx, e.opt.ActionTimeout)
		defer acancel()
		var note string
		var err error
		if a.Kind == failover.Diagnose {
			if d, ok := e.opt.Actuator.(VPNDiagnoser); ok {
				note = d.DiagnoseVPN(actx, a.Profile)
			}
		} else {
			err = e.do(actx, a)
		}
		select {
		case l.done <- actionResult{a: a, err: err, at: c.Now(), note: note}:
		case <-l.ctx.Done():
		}
	}()
}

// actionDone hands a failed action back to whoever asked for it: the VPN
// keeper (whose back-off needs a timer) or failover.
func (l *loop) actionDone(r actionResult) {
	e := l.e
	if r.a.Kind == failover.Diagnose && e.opt.VPN != nil {
		e.mu.Lock()
		evs := e.opt.VPN.Diagnosed(r.at, r.note)
		e.setVPN(r.at, e.opt.VPN.Status())
		e.mu.Unlock()
		e.AddEvents(evs...)
		e.publish()
		return
	}
	if r.err == nil {
		return
	}
	if e.opt.VPN != nil && e.opt.VPN.Owns(r.a) {
		e.mu.Lock()
		evs := e.opt.VPN.Failed(r.a, r.err, r.at)
		e.setVPN(r.at, e.opt.VPN.Status())
		e.mu.Unlock()
		e.AddEvents(evs...)
		now := e.opt.Clock.Now()
		l.after(e.Tick(now), now)
		return
	}
	if e.opt.Failover != nil {
		e.opt.Failover.Failed(r.a, r.at)
	}
	e.AddEvents(netstate.Event{Time: r.at, Kind: netstate.EventDecision, Link: r.a.Link, Level: netstate.LevelRed,
		Text: fmt.Sprintf("Could not %s: %v", r.a, r.err)})
	e.publish()
}

// throttled publishes what changed during the throttle window.
func (l *loop) throttled() {
	l.armed = false
	if l.pubSeq != l.pendingSeq {
		l.publish(l.e.opt.Clock.Now())
	}
}

func (e *Engine) do(ctx context.Context, a failover.Action) error {
	act := e.opt.Actuator
	if act == nil {
		return errors.New("no actuator")
	}
	switch a.Kind {
	case failover.Activate:
		return act.Activate(ctx, a.Profile)
	case failover.Deactivate:
		return act.Deactivate(ctx, a.Profile)
	case failover.Demote:
		return act.SetDemoted(ctx, a.Link, true)
	case failover.Restore:
		return act.SetDemoted(ctx, a.Link, false)
	case failover.MakeWay:
		_ = act.Deactivate(ctx, a.Profile)
		return act.Activate(ctx, a.Then)
	case failover.Reconnect:
		// Not being active is fine: NetworkManager may have dropped it
		// with its base link already.
		_ = act.Deactivate(ctx, a.Profile)
		return act.Activate(ctx, a.Profile)
	}
	return fmt.Errorf("unknown action %s", a.Kind)
}

// Notify wakes watchers after AddEvents from outside the Run loop.
func (e *Engine) Notify() { e.publish() }
