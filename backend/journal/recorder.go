package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

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
	visit  chan VisitResult // a MarkVisit request
	flush  chan error       // a Flush request
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

// Text words a visit result for the events pane.
func (v VisitResult) Text() string {
	if v.Started {
		return "Visit started"
	}
	return fmt.Sprintf("Visit ended after %s: workable signal for %.0f%% of it", v.Duration.Round(time.Second), 100*v.Workable)
}

// VisitResult says what MarkVisit did.
type VisitResult struct {
	Started  bool
	Duration time.Duration
	Workable float64 // share of the visit with workable signal
	Err      error
}

// MarkVisit starts a visit, or ends the one in progress. A visit is only a
// start and an end: no patient, no place, no text.
func (r *Recorder) MarkVisit(ctx context.Context) VisitResult {
	ch := make(chan VisitResult, 1)
	select {
	case r.in <- input{now: r.opt.Clock.Now(), visit: ch}:
	case <-ctx.Done():
		return VisitResult{Err: ctx.Err()}
	}
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		return VisitResult{Err: ctx.Err()}
	}
}

// VisitOpen reports whether a visit is in progress (for the TUI).
func (r *Recorder) VisitOpen() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.visitOpen
}

// Visit is the visit in progress, if any.
func (r *Recorder) Visit() netstate.VisitStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return netstate.VisitStatus{Open: r.visitOpen, Since: r.visitSince}
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
	flush := r.opt.Clock.NewTimer(r.opt.FlushEvery)
	defer flush.Stop()
	daily := r.opt.Clock.NewTimer(24 * time.Hour)
	defer daily.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			end := last
			if end.IsZero() {
				end = r.opt.Clock.Now()
			}
			// The visit goes on when fieldlink comes back in time (a
			// restart, a reboot): it is paused, not ended, and its figures
			// so far are written first, while the sessions still credit it.
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
			if r.write(context.Background()) == nil && r.j != nil {
				// Best effort: a stale month is read from its days.
				r.j.RefreshMonths(context.Background())
			}
			return nil
		case in := <-r.in:
			switch {
			case in.visit != nil:
				in.visit <- r.toggleVisit(in.now)
				r.write(ctx)
			case in.flush != nil:
				in.flush <- r.write(ctx)
			default:
				last = in.now
				r.observe(in)
				if len(r.queue) >= r.opt.BatchMax {
					r.write(ctx)
				}
			}
		case <-flush.C():
			r.write(ctx)
			flush.Reset(r.opt.FlushEvery)
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

// openSession is a link's connection being recorded.
type openSession struct {
	uuid, link, kind, network, mcc, mnc string
	day                                 int64
	start                               time.Time
	connect                             time.Duration // -1 when not seen
	ident                               string
	// the state since the last observation, and when that was
	lastT                   time.Time
	level                   netstate.Level
	inUse, workable, usable bool
	area                    string
	green, amber, red       time.Duration
	inUseD, workableD       time.Duration
	// usableD is the connected time the link was workable, whether or not
	// it carried the work.
	usableD time.Duration
	areas   map[string]*areaAcc
	// sampling
	sampled              bool
	sampleT              time.Time
	sampleLevel          netstate.Level
	sampleInUse          bool
	sampleArea           string
	sampleTech           string // as last written
	sampleWhere          string // area and cell as last written
	sampleFig            figures
	samples, probes, pOK int64
	hSignal, hSINR       Hist
	hStrength, hRSRP     Hist
	hRSCP, hRTT          Hist
}

type areaAcc struct {
	conn, green, amber, red, workable, usable, inUse time.Duration
	hSignal                                          Hist
}

type figures struct {
	strength, rsrp, rsrq, sinr, rscp, rtt netstate.Figure
	probe                                 netstate.Tristate
}

func figuresOf(l *netstate.Link) figures {
	return figures{l.Signal.Strength, l.Signal.RSRP, l.Signal.RSRQ, l.Signal.SINR, l.Signal.RSCP, l.Probe.RTT, l.Probe.OK}
}

// moved reports figures that changed enough to be worth a sample before
// the heartbeat.
func moved(a, b figures) bool {
	d := func(x, y netstate.Figure, by float64) bool {
		return x.OK != y.OK || (x.OK && math.Abs(x.V-y.V) >= by)
	}
	return a.probe != b.probe || d(a.strength, b.strength, 5) || d(a.rsrp, b.rsrp, 3) || d(a.sinr, b.sinr, 3) ||
		d(a.rscp, b.rscp, 3) || d(a.rtt, b.rtt, 50)
}

// identity is what makes a new session when it changes: the link's kind
// and the network it is on.
func identity(l *netstate.Link) (network, mcc, mnc string) {
	switch l.Kind {
	case netstate.KindWiFi:
		return l.WiFi.SSID, "", ""
	case netstate.KindCellular:
		return l.Cell.Operator, l.Cell.MCC, l.Cell.MNC
	}
	return l.Profile, "", ""
}

func cellOf(l *netstate.Link, area string) string {
	if l.Cell.CellID != "" && !strings.Contains(area, " cell ") {
		return " cell " + l.Cell.CellID
	}
	return ""
}

// placeCode is where the device is, for its visit: the modems' place, else
// the place of the link carrying the work (a Wi-Fi network's name), else
// "unknown area".
func (r *Recorder) placeCode(snap *netstate.Snapshot, where areas.Place) string {
	if code := r.opt.Areas.Code(where); code != "" {
		return code
	}
	if p := snap.PrimaryLink(); p != nil {
		return r.opt.Areas.CodeOf(p, where)
	}
	return "unknown area"
}

// namelessWait is how long a connected link without a name (profile,
// SSID or operator) waits for one before its session is named after its
// interface.
const namelessWait = 2 * time.Second

func (r *Recorder) observe(in input) {
	now := in.now
	snap := &in.snap
	r.lastSeen = now
	where := areas.Where(snap)
	seen := map[string]bool{}
	for i := range snap.Links {
		l := &snap.Links[i]
		if l.Kind == netstate.KindVPN {
			continue
		}
		seen[l.ID] = true
		s := r.open[l.ID]
		if l.State != netstate.StateConnected {
			delete(r.nameless, l.ID)
			if l.State == netstate.StateConnecting {
				if _, ok := r.connecting[l.ID]; !ok {
					r.connecting[l.ID] = now
				}
			} else {
				delete(r.connecting, l.ID)
			}
			if s != nil {
				why := l.State.String()
				if l.Carrier == netstate.No {
					why = "carrier lost"
				}
				r.closeSession(s, now, why)
			}
			continue
		}
		network, mcc, mnc := identity(l)
		if network == "" {
			// NetworkManager names a link's connection a moment after it
			// says the link is up: wait for the name rather than journal a
			// nameless session ("Wired ") that lasts a few milliseconds.
			since, waiting := r.nameless[l.ID]
			if !waiting {
				r.nameless[l.ID] = now
				continue
			}
			if now.Sub(since) < namelessWait {
				continue
			}
			network = l.Interface
			if network == "" {
				network = l.ID
			}
		}
		delete(r.nameless, l.ID)
		ident := l.Kind.String() + "|" + network + "|" + mcc + "-" + mnc
		if s != nil && s.ident != ident {
			r.closeSession(s, now, "network changed")
			s = nil
		}
		area := r.opt.Areas.CodeOf(l, where)
		if s == nil {
			s = r.openSession(l, now, ident, network, mcc, mnc, area)
		}
		r.advance(s, now)
		s.level, s.inUse, s.workable, s.area = l.Level, snap.Primary == l.ID, snap.Primary == l.ID && l.Workable(), area
		s.usable = l.Workable()
		r.maybeSample(s, l, now)
	}
	for id, s := range r.open {
		if !seen[id] {
			r.advance(s, now)
			r.closeSession(s, now, "link removed")
		}
	}
	r.place = r.placeCode(snap, where)
	if r.visit != nil {
		r.visit.advance(now)
		p := snap.PrimaryLink()
		r.visit.workable = p != nil && p.Workable() && (snap.Service("NetworkManager") == nil || snap.Service("NetworkManager").Running)
		r.visit.place = r.place
	}
	for _, ev := range in.events {
		// A level change is already a sample (every change is sampled at
		// once); journaling it twice would be a sixth of a day's bytes.
		if ev.Kind == netstate.EventLevel {
			continue
		}
		r.queue = append(r.queue, opEvent{dev: r.dev(), ev: ev})
	}
}

func (r *Recorder) openSession(l *netstate.Link, now time.Time, ident, network, mcc, mnc, area string) *openSession {
	s := &openSession{uuid: uuid.NewString(), link: l.ID, kind: l.Kind.String(), network: network, mcc: mcc, mnc: mnc,
		day: dayOf(now), start: now, connect: -1, ident: ident, lastT: now, areas: map[string]*areaAcc{},
		hSignal: Hist{}, hSINR: Hist{}, hStrength: Hist{}, hRSRP: Hist{}, hRSCP: Hist{}, hRTT: Hist{}}
	if t, ok := r.connecting[l.ID]; ok {
		s.connect = now.Sub(t)
		delete(r.connecting, l.ID)
	}
	r.open[l.ID] = s
	tech := ""
	if l.Kind == netstate.KindCellular {
		tech = l.Cell.Tech.Label()
	}
	r.queue = append(r.queue, opOpen{
		uuid: s.uuid, dev: r.dev(), link: l.ID, kind: s.kind, iface: l.Interface, profile: l.Profile,
		network: network, mcc: mcc, mnc: mnc, tech: tech, roaming: l.Cell.Roaming(),
		area: area + cellOf(l, area), start: now,
	})
	return s
}

// advance credits the time since the last observation to the state the
// session was in.
func (r *Recorder) advance(s *openSession, now time.Time) {
	prev := s.lastT
	dt := now.Sub(prev)
	if dt <= 0 {
		return // time only moves on: an earlier instant credits nothing
	}
	s.lastT = now
	if s.level == netstate.LevelUnknown && s.area == "" {
		return
	}
	addLevel(s.level, dt, &s.green, &s.amber, &s.red)
	if s.inUse {
		s.inUseD += dt
	}
	if s.workable {
		s.workableD += dt
	}
	if s.usable {
		s.usableD += dt
	}
	a := s.areas[s.area]
	if a == nil {
		a = &areaAcc{hSignal: Hist{}}
		s.areas[s.area] = a
	}
	a.conn += dt
	addLevel(s.level, dt, &a.green, &a.amber, &a.red)
	if s.workable {
		a.workable += dt
	}
	if s.usable {
		a.usable += dt
	}
	if s.inUse {
		a.inUse += dt
	}
	// The part of it within the visit in progress counts for the visit,
	// by network and by area.
	if v := r.visit; v != nil {
		from := prev
		if v.resumedAt.After(from) {
			from = v.resumedAt
		}
		if v.start.After(from) {
			from = v.start
		}
		if in := now.Sub(from); in > 0 {
			v.credit(s, s.area, in)
			v.credit(s, "", in)
		}
	}
}

// addLevel credits dt to the counter of the level it was spent at.
func addLevel(l netstate.Level, dt time.Duration, green, amber, red *time.Duration) {
	switch l {
	case netstate.LevelGreen:
		*green += dt
	case netstate.LevelAmber:
		*amber += dt
	case netstate.LevelRed:
		*red += dt
	}
}

func (r *Recorder) maybeSample(s *openSession, l *netstate.Link, now time.Time) {
	f := figuresOf(l)
	changed := !s.sampled || s.sampleLevel != l.Level || s.sampleInUse != s.inUse || s.sampleArea != s.area
	since := now.Sub(s.sampleT)
	if !changed && (since < r.opt.SampleEvery || (since < r.opt.Heartbeat && !moved(s.sampleFig, f))) {
		return
	}
	s.sampled, s.sampleT, s.sampleLevel, s.sampleInUse, s.sampleArea, s.sampleFig = true, now, l.Level, s.inUse, s.area, f
	s.samples++
	if l.Probe.OK != netstate.Unknown {
		s.probes++
		if l.Probe.OK == netstate.Yes {
			s.pOK++
		}
	}
	bin := func(h Hist, v netstate.Figure, per float64) {
		if v.OK {
			h[int(math.Round(v.V/per))]++
		}
	}
	bin(s.hStrength, f.strength, 1)
	bin(s.hRSRP, f.rsrp, 1)
	bin(s.hRSCP, f.rscp, 1)
	bin(s.hSINR, f.sinr, 1)
	bin(s.hRTT, f.rtt, 10)
	sig := f.rsrp
	if l.Kind == netstate.KindWiFi {
		sig = f.strength
	}
	bin(s.hSignal, sig, 1)
	if a := s.areas[s.area]; a != nil {
		bin(a.hSignal, sig, 1)
	} else if sig.OK {
		s.areas[s.area] = &areaAcc{hSignal: Hist{int(math.Round(sig.V)): 1}}
	}
	probe := sql.NullInt64{}
	if l.Probe.OK != netstate.Unknown {
		probe = sql.NullInt64{Int64: boolInt(l.Probe.OK == netstate.Yes), Valid: true}
	}
	tech := ""
	if l.Kind == netstate.KindCellular {
		tech = l.Cell.Tech.Label()
	}
	// Technology and area are written when they change ("" repeats the
	// previous sample's): they are a third of a sample's bytes and
	// rarely change within a session.
	area := s.area + cellOf(l, s.area)
	if s.samples > 1 && tech == s.sampleTech && area == s.sampleWhere {
		tech, area = "", ""
	} else {
		s.sampleTech, s.sampleWhere = tech, area
	}
	r.queue = append(r.queue, opSample{uuid: s.uuid, t: now, level: l.Level, inUse: s.inUse, f: f, probe: probe,
		tech: tech, area: area})
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func dayOf(t time.Time) int64 { return t.UnixMilli() / 86400000 }

func median(h Hist, per float64) sql.NullFloat64 {
	m, ok := h.Median()
	if !ok {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: float64(m) * per, Valid: true}
}

func (r *Recorder) closeSession(s *openSession, now time.Time, reason string) {
	r.advance(s, now)
	delete(r.open, s.link)
	c := opClose{uuid: s.uuid, dev: r.dev(), day: s.day, kind: s.kind, network: s.network, mcc: s.mcc, mnc: s.mnc,
		end: now, reason: reason, dur: now.Sub(s.start), green: s.green, amber: s.amber, red: s.red, inUse: s.inUseD,
		workable: s.workableD, usable: s.usableD, samples: s.samples, probes: s.probes, probesOK: s.pOK, names: r.opt.Areas,
		medStrength: median(s.hStrength, 1), medRSRP: median(s.hRSRP, 1), medSINR: median(s.hSINR, 1),
		medRSCP: median(s.hRSCP, 1), medRTT: median(s.hRTT, 10), hSignal: s.hSignal, hSINR: s.hSINR, areas: s.areas}
	if s.connect >= 0 {
		c.connect = sql.NullInt64{Int64: s.connect.Milliseconds(), Valid: true}
	}
	r.queue = append(r.queue, c)
}

// openVisit is a visit in progress.
type openVisit struct {
	uuid            string
	start, lastT    time.Time
	total, workTime time.Duration
	workable        bool
	// resumedAt is when fieldlink took the visit up again after a stop;
	// the time it was away is in no figure.
	resumedAt time.Time
	// nets is the visit's connected and usable time per network and area
	// (area "" is the whole visit).
	nets map[visitKey]*visitNet
	// written is the alive time last written.
	written time.Time
	// place is the area code of where the device is now.
	place string
}

type visitKey struct{ kind, network, area string }

// WorkKind is the kind of a visit's own row in visit_net and day_visit:
// the whole visit, whatever link carried the work (or none), at the place
// the device was. Its connected time is the visit's time there and its
// usable time the part the work was workable, so a place where nothing
// connected at all still counts its visits (the dead zones).
const WorkKind = "work"

type visitNet struct {
	mcc, mnc          string
	connected, usable time.Duration
}

func (v *openVisit) credit(s *openSession, area string, dt time.Duration) {
	k := visitKey{s.kind, s.network, area}
	n := v.nets[k]
	if n == nil {
		n = &visitNet{mcc: s.mcc, mnc: s.mnc}
		v.nets[k] = n
	}
	n.connected += dt
	if s.usable {
		n.usable += dt
	}
}

// rows copies the visit's figures per network and area for writing.
func (v *openVisit) rows(names *areas.Map) []visitNetRow {
	out := make([]visitNetRow, 0, len(v.nets))
	for k, n := range v.nets {
		out = append(out, visitNetRow{kind: k.kind, network: k.network, area: k.area, mcc: n.mcc, mnc: n.mnc,
			areaName: names.Name(k.area), connected: n.connected, usable: n.usable})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.network != b.network {
			return a.network < b.network
		}
		return a.area < b.area
	})
	return out
}

func (v *openVisit) advance(now time.Time) {
	dt := now.Sub(v.lastT)
	if dt <= 0 {
		return // time only moves on
	}
	v.lastT = now
	v.total += dt
	if v.workable {
		v.workTime += dt
	}
	for i, area := range []string{"", v.place} {
		if i > 0 && area == "" {
			break // not known yet: the whole visit only
		}
		k := visitKey{WorkKind, "", area}
		n := v.nets[k]
		if n == nil {
			n = &visitNet{}
			v.nets[k] = n
		}
		n.connected += dt
		if v.workable {
			n.usable += dt
		}
	}
}

func (r *Recorder) toggleVisit(now time.Time) VisitResult {
	if r.visit == nil {
		workable := false
		// The link's state right now counts from the first instant.
		for _, s := range r.open {
			if s.inUse && s.workable {
				workable = true
			}
		}
		r.visit = &openVisit{uuid: uuid.NewString(), start: now, lastT: now, workable: workable, nets: map[visitKey]*visitNet{},
			place: r.place}
		r.queue = append(r.queue, opVisitOpen{uuid: r.visit.uuid, dev: r.dev(), start: now})
		r.setVisitOpen(true, now)
		return VisitResult{Started: true}
	}
	v := r.visit
	r.closeVisit(now, "")
	share := 0.0
	if v.total > 0 {
		share = float64(v.workTime) / float64(v.total)
	}
	return VisitResult{Duration: v.total, Workable: share}
}

func (r *Recorder) closeVisit(now time.Time, reason string) {
	v := r.visit
	for _, s := range r.open {
		r.advance(s, now) // the sessions' last stretch counts for the visit
	}
	v.advance(now)
	r.visit = nil
	r.setVisitOpen(false, time.Time{})
	r.queue = append(r.queue, opVisitClose{uuid: v.uuid, dev: r.dev(), day: dayOf(v.start), end: now, reason: reason,
		total: v.total, workable: v.workTime, nets: v.rows(r.opt.Areas)})
}

// visitProgress queues the visit in progress as far as it has got (alive
// now), or, with paused, as fieldlink stops with it open.
func (r *Recorder) visitProgress(alive time.Time, paused bool) {
	v := r.visit
	r.queue = append(r.queue, opVisitProgress{uuid: v.uuid, dev: r.dev(), alive: alive, paused: paused,
		total: v.total, workable: v.workTime, nets: v.rows(r.opt.Areas)})
	v.written = alive
}

func (r *Recorder) setVisitOpen(open bool, since time.Time) {
	r.mu.Lock()
	r.visitOpen, r.visitSince = open, since
	r.mu.Unlock()
	if r.opt.OnVisit != nil {
		r.opt.OnVisit(netstate.VisitStatus{Open: open, Since: since})
	}
}

// write commits the queued writes in one transaction; on failure they stay
// queued (bounded) and the problem is reported.
func (r *Recorder) write(ctx context.Context) error {
	if v := r.visit; v != nil && r.lastSeen.After(v.written) && r.j != nil {
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
