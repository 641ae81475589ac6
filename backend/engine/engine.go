// Package engine runs a network source, classifies what it reports, keeps
// the recent events and publishes the result to whoever watches: the TUI,
// `fieldlink status` and, later, failover and the journal.
package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Source produces updates of the network picture. The real NetworkManager
// source and the simulated one both satisfy it, so everything downstream
// runs the same code in the demo and for real.
type Source interface {
	// Name describes the source for the screen ("system", a scenario title).
	Name() string
	// Run emits updates until ctx ends. The first update should come as
	// soon as the source has a picture.
	Run(ctx context.Context, emit func(netstate.Update)) error
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
}

// Options configure an engine.
type Options struct {
	Thresholds netstate.Thresholds
	Clock      clock.Clock
	// Throttle bounds how often watchers are woken: at most once per
	// Throttle, the first change of a quiet spell at once (default 100 ms).
	Throttle time.Duration
	// MaxEvents bounds the events kept for watchers (default 200).
	MaxEvents int
	Role      Role
	Holder    string
}

// Engine ties a source to its watchers.
type Engine struct {
	src Source
	opt Options

	mu       sync.Mutex
	state    State
	havePic  bool
	watchers map[chan State]struct{}
	ready    chan struct{}
	eventSeq uint64
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
	return &Engine{
		src:      src,
		opt:      opt,
		watchers: map[chan State]struct{}{},
		ready:    make(chan struct{}),
		state:    State{Role: opt.Role, Holder: opt.Holder, Source: src.Name()},
	}
}

// Ingest classifies an update and folds it into the engine's state. It is
// the engine's whole logic, synchronous so that tests can drive it. It
// reports whether the change is urgent (a carrier, state, route, service
// or level change) and should reach watchers at once rather than with the
// next throttled batch.
func (e *Engine) Ingest(u netstate.Update, now time.Time) (urgent bool) {
	snap := u.Snapshot.Clone()
	netstate.Apply(&snap, e.opt.Thresholds)

	e.mu.Lock()
	defer e.mu.Unlock()
	var evs []netstate.Event
	if e.havePic {
		evs = deriveEvents(&e.state.Snapshot, &snap, now)
	} else {
		evs = []netstate.Event{{Time: now, Kind: netstate.EventLevel, Link: snap.Primary, Level: snap.Level,
			Text: snap.Level.Word() + ": " + snap.Reason}}
	}
	// The source's own words (scenario notes) come before what we derived
	// from the change they describe.
	e.appendEvents(append(append([]netstate.Event(nil), u.Events...), evs...))
	e.state.Snapshot = snap
	e.state.Seq++
	if !e.havePic {
		e.havePic = true
		close(e.ready)
	}
	return len(evs) > 0
}

// AddEvents records events from elsewhere in the engine (failover
// decisions, journal warnings).
func (e *Engine) AddEvents(evs ...netstate.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.appendEvents(evs)
	e.state.Seq++
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

// publish hands the current state to every watcher.
func (e *Engine) publish() {
	e.mu.Lock()
	defer e.mu.Unlock()
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

// Run runs the source and publishes until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	updates := make(chan netstate.Update, 16)
	srcDone := make(chan error, 1)
	go func() {
		srcDone <- e.src.Run(ctx, func(u netstate.Update) {
			select {
			case updates <- u:
			case <-ctx.Done():
			}
		})
	}()

	c := e.opt.Clock
	timer := c.NewTimer(time.Hour)
	timer.Stop()
	var lastPub time.Time
	var pendingSeq, pubSeq uint64
	armed := false
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
		case u := <-updates:
			now := c.Now()
			urgent := e.Ingest(u, now)
			pendingSeq++
			if urgent {
				// A cable pull must not wait for the throttle window.
				e.publish()
				lastPub, pubSeq = now, pendingSeq
				continue
			}
			if armed {
				continue
			}
			if wait := e.opt.Throttle - now.Sub(lastPub); lastPub.IsZero() || wait <= 0 {
				e.publish()
				lastPub, pubSeq = now, pendingSeq
			} else {
				timer.Reset(wait)
				armed = true
			}
		case <-timer.C():
			armed = false
			if pubSeq != pendingSeq {
				e.publish()
				lastPub, pubSeq = c.Now(), pendingSeq
			}
		}
	}
}

// Notify wakes watchers after AddEvents from outside the Run loop.
func (e *Engine) Notify() { e.publish() }
