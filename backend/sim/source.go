package sim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Source plays a scenario in (scaled) real time and emits updates, the way
// the NetworkManager source does for a real system.
type Source struct {
	clock clock.Clock
	speed float64

	mu     sync.Mutex
	player *Player
	start  time.Time
	wake   chan struct{}
	// events and dirty carry changes made between two emits, such as those
	// an action caused.
	events []netstate.Event
	dirty  bool
}

// Options tune a Source.
type Options struct {
	// Speed runs the timeline this many times faster (default 1).
	Speed float64
	// Clock defaults to the wall clock.
	Clock clock.Clock
}

// New returns a source for the scenario.
func New(sc *Scenario, opt Options) *Source {
	if opt.Speed <= 0 {
		opt.Speed = 1
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	return &Source{clock: opt.Clock, speed: opt.Speed, player: NewPlayer(sc), wake: make(chan struct{}, 1)}
}

// Name describes the source for the banner.
func (s *Source) Name() string {
	sc := s.player.Scenario()
	title := sc.Title
	if title == "" {
		title = sc.Name
	}
	if s.speed != 1 {
		return fmt.Sprintf("%s (x%g)", title, s.speed)
	}
	return title
}

// Scenario returns the scenario being played.
func (s *Source) Scenario() *Scenario { return s.player.Scenario() }

// elapsed converts wall time into scenario time.
func (s *Source) elapsed(now time.Time) time.Duration {
	return time.Duration(float64(now.Sub(s.start)) * s.speed)
}

// Run plays the scenario until ctx ends, calling emit with each change.
func (s *Source) Run(ctx context.Context, emit func(netstate.Update)) error {
	s.mu.Lock()
	s.start = s.clock.Now()
	now := s.start
	first := netstate.Update{Snapshot: s.player.Snapshot(now)}
	if sc := s.player.Scenario(); sc.About != "" {
		first.Events = []netstate.Event{{Time: now, Kind: netstate.EventNote, Text: "Demo: " + sc.About}}
	}
	s.mu.Unlock()
	emit(first)

	timer := s.clock.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		wait := 24 * time.Hour
		if at, ok := s.player.NextAt(); ok {
			wait = max(0, time.Duration(float64(at-s.elapsed(s.clock.Now()))/s.speed))
		}
		s.mu.Unlock()
		timer.Stop()
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C():
		case <-s.wake:
		}
		s.mu.Lock()
		s.advance(s.clock.Now())
		var u netstate.Update
		dirty := s.dirty || len(s.events) > 0
		if dirty {
			u = netstate.Update{Snapshot: s.player.Snapshot(s.clock.Now()), Events: s.events}
			s.events, s.dirty = nil, false
		}
		s.mu.Unlock()
		if dirty {
			emit(u)
		}
	}
}

// advance plays the timeline up to now; s.mu must be held.
func (s *Source) advance(now time.Time) {
	events, changed := s.player.Advance(s.elapsed(now), now)
	s.events = append(s.events, events...)
	s.dirty = s.dirty || changed
}

func (s *Source) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// act runs an action against the player at the current scenario time.
func (s *Source) act(f func(now time.Time) error) error {
	s.mu.Lock()
	now := s.clock.Now()
	s.advance(now)
	err := f(now)
	s.dirty = s.dirty || err == nil
	s.mu.Unlock()
	s.poke()
	return err
}

// Activate brings up a saved profile, as NetworkManager's
// ActivateConnection would.
func (s *Source) Activate(_ context.Context, profile string) error {
	return s.act(func(now time.Time) error { _, err := s.player.Activate(profile, now); return err })
}

// Deactivate takes a profile down.
func (s *Source) Deactivate(_ context.Context, profile string) error {
	return s.act(func(now time.Time) error { _, err := s.player.Deactivate(profile, now); return err })
}

// SetDemoted moves a link's default route behind the others, or back.
func (s *Source) SetDemoted(_ context.Context, linkID string, demoted bool) error {
	return s.act(func(time.Time) error { return s.player.SetDemoted(linkID, demoted) })
}

// Scan has nothing to do: the scenario's networks are what the radio sees.
func (s *Source) Scan(context.Context) error { return nil }

// Join joins nothing, since a simulation has no radio, and says what a
// real device would do: no demo can be mistaken for a joined network.
func (s *Source) Join(_ context.Context, r join.Request) (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	return "", &join.Refused{Why: fmt.Sprintf("Demo: %s not joined (a simulation has no radio)", r.SSID)}
}
