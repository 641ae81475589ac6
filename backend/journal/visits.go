package journal

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

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
	// lost are the networks that dropped while they carried the work:
	// still wanted, they count as connected and unusable until they are
	// back or the visit ends (a Wi-Fi that drops in every visit is not
	// "workable in 100% of visits" because its connected time was good).
	lost map[string]*lostNet
}

// lostNet is a network that dropped while carrying the work.
type lostNet struct {
	kind, network, mcc, mnc, area string
	since                         time.Time
}

// lose notes a session's network dropping, at now, while it carried the
// work.
func (v *openVisit) lose(s *openSession, now time.Time) {
	if v.lost == nil {
		v.lost = map[string]*lostNet{}
	}
	v.lost[s.kind+"|"+s.network] = &lostNet{kind: s.kind, network: s.network, mcc: s.mcc, mnc: s.mnc, area: s.area, since: now}
}

// found notes a network back: it counts by its own session again.
func (v *openVisit) found(s *openSession) { delete(v.lost, s.kind+"|"+s.network) }

// creditLost counts the time from..to spent wanting the lost networks, as
// connected and unusable.
func (v *openVisit) creditLost(from, to time.Time) {
	for _, l := range v.lost {
		start := from
		if l.since.After(start) {
			start = l.since
		}
		dt := to.Sub(start)
		if dt <= 0 {
			continue
		}
		for i, area := range []string{"", l.area} {
			if i > 0 && area == "" {
				break
			}
			v.net(visitKey{l.kind, l.network, area}, l.mcc, l.mnc).connected += dt
		}
	}
}

type visitKey struct{ kind, network, area string }

type visitNet struct {
	mcc, mnc          string
	connected, usable time.Duration
}

// net is the visit's figures for a network in an area, made on first use.
func (v *openVisit) net(k visitKey, mcc, mnc string) *visitNet {
	n := v.nets[k]
	if n == nil {
		n = &visitNet{mcc: mcc, mnc: mnc}
		v.nets[k] = n
	}
	return n
}

func (v *openVisit) credit(s *openSession, area string, dt time.Duration) {
	n := v.net(visitKey{s.kind, s.network, area}, s.mcc, s.mnc)
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
	prev := v.lastT
	v.lastT = now
	v.total += dt
	if v.workable {
		v.workTime += dt
	}
	v.creditLost(prev, now)
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
