package journal

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Options tune the recorder.
type Options struct {
	// SampleEvery is the least spacing of samples of a link whose level has
	// not changed (default 10 s); a level change is sampled at once.
	SampleEvery time.Duration
	// Heartbeat is the longest gap between samples of a steady link
	// (default 60 s): figures that barely move are not written every 10 s.
	Heartbeat time.Duration
	// Resample, when set, samples a steady picture again after this long
	// without news (the daemon sets Heartbeat): the engine tells the
	// journal only of changes, and a session's end after a crash must be
	// known to within it. Pictures are then taken to be timed by Clock.
	Resample time.Duration
	// FlushEvery and BatchMax bound a batch (default 1 s, 500 writes).
	FlushEvery time.Duration
	BatchMax   int
	// Backlog bounds the writes kept in memory while the journal cannot be
	// written (default 50 000); beyond it the oldest samples are dropped.
	Backlog int
	// RetryEvery spaces attempts to write after a failure (default 5 s).
	RetryEvery time.Duration
	// Retention deletes samples and events older than this (default 400
	// days); sessions, visits and roll-ups keep their figures.
	Retention time.Duration
	Clock     clock.Clock
	// OnStatus is told when writing fails and when it recovers.
	OnStatus func(Status)
	// OnVisit is told when a visit starts or ends, so that every screen can
	// show the visit in progress.
	OnVisit func(netstate.VisitStatus)
	// Areas names the places recorded (area_name columns); nil: codes only.
	Areas *areas.Map
	// ResumeVisit: a visit open when fieldlink stopped continues if it
	// comes back within this long (default 15 min); otherwise it is closed
	// at the moment fieldlink stopped.
	ResumeVisit time.Duration
}

// Status says whether the journal is being written.
type Status struct {
	OK      bool
	Problem string // in words, for the TUI
	Backlog int    // writes waiting
	Dropped int64  // samples dropped for want of room
}

func (o *Options) defaults() {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.SampleEvery, 10*time.Second)
	def(&o.Heartbeat, time.Minute)
	def(&o.FlushEvery, time.Second)
	def(&o.RetryEvery, 5*time.Second)
	def(&o.Retention, 400*24*time.Hour)
	def(&o.ResumeVisit, 15*time.Minute)
	if o.BatchMax <= 0 {
		o.BatchMax = 500
	}
	if o.Backlog <= 0 {
		o.Backlog = 50000
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
}

// Recorder turns the engine's pictures into journal rows. Observe is
// cheap and never blocks the engine; one goroutine (Run) owns the
// sessions and does every write.
type Recorder struct {
	opt Options
	in  chan input
	// place is the area code where the device was last seen (Run's).
	place string

	// opener opens the journal when it could not be opened at start (a
	// read-only or full file system); until then writes wait in the
	// backlog. Run owns j and opener.
	j      *Journal
	opener func() (*Journal, error)

	mu         sync.Mutex
	status     Status
	lost       int64 // observations dropped because Run fell behind
	visitOpen  bool
	visitSince time.Time
	lastTry    time.Time

	// Owned by Run.
	open       map[string]*openSession
	connecting map[string]time.Time
	// nameless: connected links waiting for a name, since when.
	nameless map[string]time.Time
	visit    *openVisit
	vpnRec   *vpnSession
	queue    []op
	ids      map[string]int64 // session uuid -> row id
	// lastSeen is the last time an observation arrived: while a visit is
	// open it is written as the visit's alive time, so that a crash closes
	// the visit then and not at its last sample.
	lastSeen time.Time
}

type input struct {
	now    time.Time
	snap   netstate.Snapshot
	events []netstate.Event
	vpn    *netstate.VPNStatus // an ObserveVPN
	visit  chan VisitResult    // a MarkVisit request
	flush  chan error          // a Flush request
}

// NewRecorder returns a recorder writing to j.
func NewRecorder(j *Journal, opt Options) *Recorder {
	opt.defaults()
	return &Recorder{j: j, opt: opt, in: make(chan input, 1024), open: map[string]*openSession{},
		connecting: map[string]time.Time{}, nameless: map[string]time.Time{}, ids: map[string]int64{}, status: Status{OK: true}}
}

// NewRecorderOpening returns a recorder that opens its journal with open,
// and keeps trying (every RetryEvery) while that fails: fieldlink records
// from the first second even when the journal's file system is read-only
// or full at start, and writes it all once it can.
func NewRecorderOpening(open func() (*Journal, error), opt Options) *Recorder {
	r := NewRecorder(nil, opt)
	r.opener = open
	return r
}

// dev is the journal's device id; "" until the journal is open, filled in
// when the batch is written.
func (r *Recorder) dev() string {
	if r.j == nil {
		return ""
	}
	return r.j.device.ID
}

// ensureOpen opens the journal if it is not yet, then closes what an
// earlier run left open and applies retention.
func (r *Recorder) ensureOpen(ctx context.Context, now time.Time) error {
	if r.j != nil {
		return nil
	}
	j, err := r.opener()
	if err != nil {
		return err
	}
	r.j = j
	if err := r.recover(ctx, now); err != nil {
		r.setProblem(err)
	}
	r.retention(ctx, now)
	return nil
}

// Close closes a journal the recorder opened itself, after Run returns.
func (r *Recorder) Close() error {
	if r.opener == nil || r.j == nil {
		return nil
	}
	return r.j.Close()
}

// Observe hands a classified picture and its new events to the recorder.
// It does not block: when the writer has fallen far behind the
// observation is counted as lost rather than stall the engine.
func (r *Recorder) Observe(now time.Time, snap *netstate.Snapshot, events []netstate.Event) {
	in := input{now: now, snap: snap.Clone(), events: append([]netstate.Event(nil), events...)}
	select {
	case r.in <- in:
	default:
		r.mu.Lock()
		r.lost++
		r.mu.Unlock()
	}
}

// Status returns the writer's state.
func (r *Recorder) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Flush writes everything queued so far and returns the write's error.
func (r *Recorder) Flush(ctx context.Context) error {
	ch := make(chan error, 1)
	select {
	case r.in <- input{flush: ch}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run records until ctx ends, then closes the open sessions and visit and
// writes what it can.
func (r *Recorder) Run(ctx context.Context) error {
	now := r.opt.Clock.Now()
	if r.j == nil {
		if err := r.ensureOpen(ctx, now); err != nil {
			r.lastTry = time.Now()
			r.setProblem(err)
		}
	} else {
		if err := r.recover(ctx, now); err != nil {
			r.setProblem(err)
		}
		r.retention(ctx, now)
	}
	// The flush and the heartbeat are armed only while there is something
	// to write or a picture to sample again: an idle laptop's journal
	// wakes nobody (a timer firing each second for nothing costs battery).
	flush := r.opt.Clock.NewTimer(time.Hour)
	flush.Stop()
	flushing := false
	armFlush := func() {
		if !flushing && (len(r.queue) > 0 || r.visitDue()) {
			flush.Reset(r.opt.FlushEvery)
			flushing = true
		}
	}
	defer flush.Stop()
	heartbeat := r.opt.Clock.NewTimer(time.Hour)
	heartbeat.Stop()
	defer heartbeat.Stop()
	var lastPic *input
	daily := r.opt.Clock.NewTimer(24 * time.Hour)
	defer daily.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			r.finish(last)
			return nil
		case in := <-r.in:
			switch {
			case in.visit != nil:
				in.visit <- r.toggleVisit(in.now)
				r.write(ctx)
			case in.flush != nil:
				in.flush <- r.write(ctx)
			case in.vpn != nil:
				r.observeVPN(in.now, *in.vpn)
			default:
				last = in.now
				r.observe(in)
				if len(r.queue) >= r.opt.BatchMax {
					r.write(ctx)
				}
				if r.opt.Resample > 0 {
					lastPic = &in
					heartbeat.Reset(r.opt.Resample)
				}
			}
			armFlush()
		case <-heartbeat.C():
			// A steady picture is sampled again at the heartbeat, so that
			// a session's end after a crash is known to within it.
			if lastPic != nil {
				in := *lastPic
				in.now, in.events = r.opt.Clock.Now(), nil
				last = in.now
				r.observe(in)
				heartbeat.Reset(r.opt.Resample)
			}
			armFlush()
		case <-flush.C():
			flushing = false
			r.write(ctx)
			armFlush() // a write that failed keeps its queue
		case <-daily.C():
			if r.j != nil {
				r.retention(ctx, r.opt.Clock.Now())
				if r.write(ctx) == nil {
					r.j.RefreshMonths(ctx)
				}
			}
			daily.Reset(24 * time.Hour)
		}
	}
}

// finish closes what is open as fieldlink stops, at the last picture's
// time, and writes it.
func (r *Recorder) finish(last time.Time) {
	end := last
	if end.IsZero() {
		end = r.opt.Clock.Now()
	}
	// The visit goes on when fieldlink comes back in time (a restart, a
	// reboot): it is paused, not ended, and its figures so far are written
	// first, while the sessions still credit it.
	if r.visit != nil {
		for _, s := range r.open {
			r.advance(s, end)
		}
		r.visit.advance(end)
		r.visitProgress(end, true)
	}
	for _, s := range r.open {
		r.closeSession(s, end, "fieldlink stopped")
	}
	r.closeVPN(end, "fieldlink stopped")
	if r.write(context.Background()) == nil && r.j != nil {
		// Best effort: a stale month is read from its days.
		r.j.RefreshMonths(context.Background())
	}
}

// visitDue reports whether an open visit has progress to write.
func (r *Recorder) visitDue() bool {
	v := r.visit
	return v != nil && r.lastSeen.After(v.written) && r.j != nil
}

// namelessWait is how long a connected link without a name (profile,
// SSID or operator) waits for one before its session is named after its
// interface.
const namelessWait = 2 * time.Second

// WorkKind is the kind of a visit's own row in visit_net and day_visit:
// the whole visit, whatever link carried the work (or none), at the place
// the device was. Its connected time is the visit's time there and its
// usable time the part the work was workable, so a place where nothing
// connected at all still counts its visits (the dead zones).
const WorkKind = "work"

// write commits the queued writes in one transaction; on failure they stay
// queued (bounded) and the problem is reported.
func (r *Recorder) write(ctx context.Context) error {
	if v := r.visit; r.visitDue() {
		for _, s := range r.open {
			r.advance(s, r.lastSeen)
		}
		v.advance(r.lastSeen)
		r.visitProgress(r.lastSeen, false)
	}
	if len(r.queue) == 0 {
		return nil
	}
	r.mu.Lock()
	failing := !r.status.OK
	r.mu.Unlock()
	if failing && ctx.Err() == nil {
		// Back off: try again only every RetryEvery.
		if time.Since(r.lastTry) < r.opt.RetryEvery {
			r.trim()
			return errors.New(r.Status().Problem)
		}
	}
	r.lastTry = time.Now()
	err := r.ensureOpen(ctx, r.opt.Clock.Now())
	if err == nil {
		err = r.commit(ctx, r.queue)
	}
	if err != nil {
		r.setProblem(err)
		r.trim()
		return err
	}
	r.queue = r.queue[:0]
	r.mu.Lock()
	wasFailing := !r.status.OK
	r.status = Status{OK: true, Dropped: r.status.Dropped}
	st := r.status
	r.mu.Unlock()
	if wasFailing && r.opt.OnStatus != nil {
		r.opt.OnStatus(st)
	}
	return nil
}

// trim keeps the backlog bounded, dropping the oldest samples first: the
// sessions, visits and events matter more than one more figure.
func (r *Recorder) trim() {
	excess := len(r.queue) - r.opt.Backlog
	if excess <= 0 {
		r.mu.Lock()
		r.status.Backlog = len(r.queue)
		r.mu.Unlock()
		return
	}
	kept := r.queue[:0]
	var dropped int64
	for _, o := range r.queue {
		if _, isSample := o.(opSample); isSample && excess > 0 {
			excess--
			dropped++
			continue
		}
		kept = append(kept, o)
	}
	r.queue = kept
	r.mu.Lock()
	r.status.Dropped += dropped
	r.status.Backlog = len(r.queue)
	r.mu.Unlock()
}

func (r *Recorder) setProblem(err error) {
	msg := "Journal not written: " + describe(err)
	r.mu.Lock()
	was := r.status
	r.status.OK, r.status.Problem, r.status.Backlog = false, msg, len(r.queue)
	st := r.status
	r.mu.Unlock()
	if r.opt.OnStatus != nil && (was.OK || was.Problem != msg) {
		r.opt.OnStatus(st)
	}
}

// describe words SQLite's errors for the person at the screen.
func describe(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "disk is full") || strings.Contains(s, "SQLITE_FULL") || strings.Contains(s, "no space"):
		return "the disk is full"
	case strings.Contains(s, "readonly") || strings.Contains(s, "read-only") || strings.Contains(s, "SQLITE_READONLY"):
		return "the journal is on a read-only file system"
	case strings.Contains(s, "disk I/O error") || strings.Contains(s, "SQLITE_IOERR"):
		return "disk error (" + s + ")"
	}
	return s
}
