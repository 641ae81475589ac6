// Package frames holds the pace of the screen's frames: as fast as the
// eye needs while something changes (a key, a new picture from the
// engine), and no frame at all while nothing does, so that a screen left
// open on a kiosk all day costs the battery nothing.
//
// Bubble Tea v2 writes frames on a ticker of fixed rate (startRenderer in
// tea.go: WithFPS, at least one a second), whether or not anything
// changed. The framework has no way to change that rate once running, so
// the pacer resets the program's own ticker: to the full rate on
// activity, to once an hour after a quiet moment. It reaches the ticker by
// reflection (an unexported field, kept through every v2 release so far);
// where a release moves it, Hooked reports false, the screen keeps the
// fixed rate, and TestPacerFindsTheTicker fails so the upgrade is seen.
package frames

import (
	"reflect"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
)

// Quiet is how long after the last activity the frames stop: long enough
// for the frame that shows it (1/fps) and a burst of keys.
const Quiet = 100 * time.Millisecond

// idleFrame is the ticker's period while nothing happens: in effect none.
const idleFrame = time.Hour

// Pacer paces one program's frames.
type Pacer struct {
	prog  *tea.Program
	frame time.Duration

	mu     sync.Mutex
	ticker *time.Ticker
	tried  bool
	quiet  *time.Timer
	fast   bool
}

// New paces p, whose frame rate (WithFPS) is fps.
func New(p *tea.Program, fps int) *Pacer {
	return &Pacer{prog: p, frame: time.Second / time.Duration(max(1, fps))}
}

// Activity is called on every message the screen handles (from its
// Update, on the program's own goroutine): frames at full rate now, and
// none once Quiet has passed without another.
func (pc *Pacer) Activity() {
	if pc == nil {
		return
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	t := pc.find()
	if t == nil {
		return
	}
	if !pc.fast {
		t.Reset(pc.frame)
		pc.fast = true
	}
	if pc.quiet == nil {
		pc.quiet = time.AfterFunc(Quiet, pc.sleep)
	} else {
		pc.quiet.Reset(Quiet)
	}
}

// sleep stops the frames after a quiet moment.
func (pc *Pacer) sleep() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.ticker != nil && pc.fast {
		pc.ticker.Reset(idleFrame)
		pc.fast = false
	}
}

// Hooked reports whether the pacer holds the program's ticker (after the
// program has started).
func (pc *Pacer) Hooked() bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.find() != nil
}

// find reaches the program's frame ticker, once it exists. pc.mu must be
// held.
func (pc *Pacer) find() *time.Ticker {
	if pc.ticker != nil || pc.tried {
		return pc.ticker
	}
	v := reflect.ValueOf(pc.prog).Elem().FieldByName("ticker")
	if !v.IsValid() || v.Type() != reflect.TypeFor[*time.Ticker]() {
		pc.tried = true // moved in this release: the fixed rate stands
		return nil
	}
	if v.IsNil() {
		return nil // not started yet
	}
	pc.ticker = (*time.Ticker)(v.UnsafePointer())
	return pc.ticker
}
