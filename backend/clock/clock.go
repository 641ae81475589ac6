// Package clock abstracts time so that the simulated source and the engine
// can be driven by a fake clock in tests: no test sleeps to wait for a
// scenario to unfold.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of time.Timer the callers need.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration)
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer returns a real timer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Stop() bool            { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }

// Fake is a clock that moves only when told to.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	// waiters is signalled whenever a timer is created or reset, so a test
	// can wait for a goroutine to arm its next timer before advancing.
	waiters chan struct{}
}

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, waiters: make(chan struct{}, 1024)}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer arms a timer that fires when the clock is advanced past it.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	t := &fakeTimer{f: f, c: make(chan time.Time, 1), at: f.now.Add(d), armed: true}
	f.timers = append(f.timers, t)
	f.mu.Unlock()
	f.notify()
	return t
}

func (f *Fake) notify() {
	select {
	case f.waiters <- struct{}{}:
	default:
	}
}

// Armed returns a channel that receives whenever a timer is armed.
func (f *Fake) Armed() <-chan struct{} { return f.waiters }

// Advance moves the clock forward, firing due timers in time order.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	end := f.now.Add(d)
	for {
		var due []*fakeTimer
		for _, t := range f.timers {
			if t.armed && !t.at.After(end) {
				due = append(due, t)
			}
		}
		if len(due) == 0 {
			break
		}
		sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
		t := due[0]
		if t.at.After(f.now) {
			f.now = t.at
		}
		t.armed = false
		select {
		case t.c <- f.now:
		default:
		}
	}
	f.now = end
	f.mu.Unlock()
}

// Next returns the time of the earliest armed timer, if any.
func (f *Fake) Next() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var best time.Time
	ok := false
	for _, t := range f.timers {
		if t.armed && (!ok || t.at.Before(best)) {
			best, ok = t.at, true
		}
	}
	return best, ok
}

type fakeTimer struct {
	f     *Fake
	c     chan time.Time
	at    time.Time
	armed bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.armed
	t.armed = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) {
	t.f.mu.Lock()
	t.at = t.f.now.Add(d)
	t.armed = true
	t.f.mu.Unlock()
	t.f.notify()
}
