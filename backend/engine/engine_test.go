package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/sim"
)

var base = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func scenario(t *testing.T, name string) *sim.Scenario {
	t.Helper()
	sc, err := sim.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestEventsAreBounded(t *testing.T) {
	e := New(sim.New(scenario(t, "steady"), sim.Options{}), Options{MaxEvents: 5, Thresholds: netstate.DefaultThresholds()})
	for i := 0; i < 20; i++ {
		e.AddEvents(netstate.Event{Text: string(rune('a' + i))})
	}
	evs := e.Current().Events
	if len(evs) != 5 || evs[0].Text != "p" || evs[4].Text != "t" {
		t.Fatalf("events %+v", evs)
	}
}

// chanSource lets a test push updates by hand.
type chanSource struct{ ch chan netstate.Update }

func (c chanSource) Name() string { return "test" }
func (c chanSource) Run(ctx context.Context, emit func(netstate.Update)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case u := <-c.ch:
			emit(u)
		}
	}
}

func wifi(pct float64) netstate.Update {
	return netstate.Update{Snapshot: netstate.Snapshot{Primary: "wlan0", Links: []netstate.Link{{
		ID: "wlan0", Kind: netstate.KindWiFi, State: netstate.StateConnected,
		Signal: netstate.Signal{Strength: netstate.Some(pct)}, Probe: netstate.Probe{OK: netstate.Yes},
	}}}}
}

func TestPublishingIsThrottled(t *testing.T) {
	fc := clock.NewFake(base)
	src := chanSource{make(chan netstate.Update)}
	e := New(src, Options{Clock: fc, Thresholds: netstate.DefaultThresholds()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.Run(ctx) }()
	states, stop := e.Subscribe()
	defer stop()

	recv := func() (State, bool) {
		select {
		case s := <-states:
			return s, true
		case <-time.After(200 * time.Millisecond):
			return State{}, false
		}
	}
	// The first change of a quiet spell is published at once.
	src.ch <- wifi(70)
	s, ok := recv()
	if !ok || s.Snapshot.Links[0].Signal.Strength.V != 70 {
		t.Fatalf("first update not published at once: %v %+v", ok, s)
	}
	// A burst of routine changes inside the window is held back and
	// coalesced.
	src.ch <- wifi(66)
	src.ch <- wifi(64)
	src.ch <- wifi(62)
	if s, ok := recv(); ok {
		t.Fatalf("published inside the throttle window: %v", s.Snapshot.Links[0].Signal.Strength)
	}
	fc.Advance(100 * time.Millisecond)
	s, ok = recv()
	if !ok || s.Snapshot.Links[0].Signal.Strength.V != 62 {
		t.Fatalf("trailing publish should carry the latest picture: %v %+v", ok, s.Snapshot.Links)
	}
	// An urgent change (here the light turning red) is published at once,
	// even inside the window.
	src.ch <- wifi(10)
	s, ok = recv()
	if !ok || s.Snapshot.Level != netstate.LevelRed {
		t.Fatalf("urgent change held back: %v %v", ok, s.Snapshot.Level)
	}
	// Nothing is lost from the story: every level change is in the events.
	var lv []string
	for _, ev := range s.Events {
		if ev.Kind == netstate.EventLevel {
			lv = append(lv, ev.Level.String())
		}
	}
	if !slices.Equal(lv, []string{"green", "red"}) {
		t.Fatalf("level events %v", lv)
	}
	stop()
	cancel()
	wg.Wait()
}

func TestSubscribeGetsCurrentStateAndUnsubscribeStops(t *testing.T) {
	e := New(chanSource{}, Options{Thresholds: netstate.DefaultThresholds(), Role: Observer, Holder: "fieldlink pid 1"})
	e.Ingest(wifi(30), base)
	ch, stop := e.Subscribe()
	s := <-ch
	if s.Snapshot.Level != netstate.LevelRed || s.Role != Observer || s.Holder != "fieldlink pid 1" {
		t.Fatalf("state %+v", s)
	}
	stop()
	stop() // twice is harmless
	e.Ingest(wifi(80), base)
	e.publish()
	select {
	case s := <-ch:
		t.Fatalf("unsubscribed watcher got %v", s.Seq)
	default:
	}
	select {
	case <-e.Ready():
	default:
		t.Fatal("Ready not closed after the first picture")
	}
}

func TestRunEndsWhenSourceFails(t *testing.T) {
	e := New(failing{}, Options{})
	if err := e.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Run = %v", err)
	}
}

type failing struct{}

func (failing) Name() string { return "failing" }
func (failing) Run(context.Context, func(netstate.Update)) error {
	return errBoom
}

var errBoom = &boomErr{}

type boomErr struct{}

func (*boomErr) Error() string { return "boom" }

// An added event (a visit marked, a journal warning) reaches the screen at
// once, without waiting for the network to change.
func TestAddEventsPublishes(t *testing.T) {
	e := New(chanSource{}, Options{Thresholds: netstate.DefaultThresholds()})
	e.Ingest(wifi(80), base)
	ch, stop := e.Subscribe()
	defer stop()
	<-ch
	e.AddEvents(netstate.Event{Time: base, Kind: netstate.EventVisit, Text: "Visit started"})
	select {
	case s := <-ch:
		if n := len(s.Events); n == 0 || s.Events[n-1].Text != "Visit started" {
			t.Fatalf("published events %+v", s.Events)
		}
	case <-time.After(time.Second):
		t.Fatal("AddEvents did not publish")
	}
}

type recorded struct {
	mu  sync.Mutex
	evs []netstate.Event
}

func (r *recorded) Observe(_ time.Time, _ *netstate.Snapshot, evs []netstate.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, evs...)
	r.mu.Unlock()
}

// TestEventsBeforeTheFirstPictureAreJournaled: a prompt answered while the
// engine still waits for NetworkManager's picture reaches the journal with
// the first picture.
func TestEventsBeforeTheFirstPictureAreJournaled(t *testing.T) {
	var rec recorded
	e := New(chanSource{}, Options{Thresholds: netstate.DefaultThresholds(), Recorder: &rec})
	e.AddEvents(netstate.Event{Kind: netstate.EventCredential, Text: "asked early"})
	if len(rec.evs) != 0 {
		t.Fatal("journaled without a picture")
	}
	e.Ingest(netstate.Update{Snapshot: netstate.Snapshot{}}, time.Now())
	e.AddEvents(netstate.Event{Kind: netstate.EventCredential, Text: "asked later"})
	var texts []string
	for _, ev := range rec.evs {
		texts = append(texts, ev.Text)
	}
	if len(texts) < 2 || texts[0] != "asked early" || texts[len(texts)-1] != "asked later" {
		t.Fatalf("journaled %q", texts)
	}
}

// TestNoStateBeforeThePicture: a watcher is never handed a state without
// a picture (a client's engine hears the holder's name, or a warning,
// before its own source has spoken: `status` printed an empty document).
func TestNoStateBeforeThePicture(t *testing.T) {
	e := New(stubSource{}, Options{})
	states, stop := e.Subscribe()
	defer stop()
	e.SetHolder("fieldlink pid 1 (daemon, root)")
	e.SetWarning("charge", "waiting")
	e.AddEvents(netstate.Event{Time: time.Now(), Text: "early"})
	select {
	case st := <-states:
		t.Fatalf("a state before any picture: %+v", st)
	default:
	}
	e.Ingest(netstate.Update{Snapshot: netstate.Snapshot{Time: time.Now()}}, time.Now())
	e.Notify()
	select {
	case st := <-states:
		if st.Holder != "fieldlink pid 1 (daemon, root)" || st.Snapshot.Time.IsZero() {
			t.Fatalf("first state %+v", st)
		}
	case <-time.After(time.Second):
		t.Fatal("no state after the picture")
	}
}

type stubSource struct{}

func (stubSource) Name() string { return "stub" }
func (stubSource) Run(ctx context.Context, _ func(netstate.Update)) error {
	<-ctx.Done()
	return nil
}
