// Package failover decides which link carries the clinician's work. It is
// a pure decision machine: snapshots (with probe results) and the time go
// in, actions and the reasons for them come out. It does no I/O and reads
// no clock, so every rule has a table test.
//
// The rules: prefer links in the configured order; act at once on carrier
// loss, deactivation or a sign-in page; after Down consecutive probe
// failures; after RedHold of sustained red. Fail back to a preferred link
// only when it has been usable for FailbackAfter, after a minimum dwell,
// and later still when switches have been frequent (exponential back-off).
// A dead link that is still up is demoted (its route metric raised) rather
// than torn down, so it can be probed back. Cellular waits cold (activated
// on demand, deactivated after fail-back) or hot (kept up as a backup).
package failover

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// track is what the machine keeps of one link between steps. Nothing here
// is a copy of what NetworkManager reports (whether the link is demoted,
// connected, carries the route): that is read from every snapshot, so no
// mark can outlive a deactivation, a re-plug, a profile change or a
// NetworkManager restart. What is kept is time (how long usable, dead,
// red) and fieldlink's own intents while they are on their way.
type track struct {
	usableSince time.Time // zero while not usable
	deadSince   time.Time // zero while not dead
	deadWhy     string
	redSince    time.Time // zero while not red
	asked       map[ActionKind]time.Time
	failed      map[ActionKind]time.Time
	// activating is when fieldlink asked NetworkManager to bring the link
	// up; zero once it is up or the attempt was given up.
	activating time.Time
	// ours: fieldlink brought the link up (cold standby takes it down
	// again after fail-back); forgotten when the link goes down.
	ours bool
}

// pendingFor is how long an action is taken to be on its way: the same
// action is not asked for twice within it, and the link is taken to be as
// asked (demoted, restored) until NetworkManager's picture shows it.
const pendingFor = 2 * time.Second

// settleFor bounds how long a switch waits for the route to follow.
const settleFor = 5 * time.Second

// Machine is the failover state.
type Machine struct {
	p        Policy
	current  string
	since    time.Time
	links    map[string]*track
	switches []time.Time
	lastBack time.Time // last fail-back
	flaps    int
	unrest   time.Time // last time a usable link stopped being usable
	// leaving: after a switch, NetworkManager's route follows our actions
	// a moment later; until then (at most settleFor) the route still on the
	// link we left is not news to react to.
	leaving      string
	leavingSince time.Time
	nothing      string // last "no working connection" said
}

// New returns a machine with a policy; zero fields take the defaults.
func New(p Policy) *Machine {
	d := DefaultPolicy()
	if len(p.Prefer) == 0 {
		p.Prefer = d.Prefer
	}
	if p.Down <= 0 {
		p.Down = d.Down
	}
	def := func(v *time.Duration, dv time.Duration) {
		if *v <= 0 {
			*v = dv
		}
	}
	def(&p.RedHold, d.RedHold)
	def(&p.FailbackAfter, d.FailbackAfter)
	def(&p.MinDwell, d.MinDwell)
	def(&p.FlapWindow, d.FlapWindow)
	def(&p.MaxBackoff, d.MaxBackoff)
	def(&p.ActivationTimeout, d.ActivationTimeout)
	def(&p.RetryAfter, d.RetryAfter)
	return &Machine{p: p, links: map[string]*track{}}
}

// Policy returns the policy in force.
func (m *Machine) Policy() Policy { return m.p }

// Current returns the link the machine considers in charge of the work.
func (m *Machine) Current() string { return m.current }

// Switches returns the times of every switch so far.
func (m *Machine) Switches() []time.Time { return append([]time.Time(nil), m.switches...) }

// Failed tells the machine an action did not work, so it is retried only
// after RetryAfter and not assumed done.
func (m *Machine) Failed(a Action, now time.Time) {
	t := m.links[a.Link]
	if t == nil {
		return
	}
	t.failed[a.Kind] = now
	delete(t.asked, a.Kind) // not on its way after all
	if a.Kind == Activate {
		t.activating, t.ours = time.Time{}, false
	}
}

// Preferred returns the links ranked above the one carrying the work: the
// fail-back candidates, which the prober keeps proven.
func (m *Machine) Preferred(s *netstate.Snapshot) map[string]bool {
	cur := s.Link(m.current)
	if cur == nil {
		cur = s.Link(s.Primary)
	}
	if cur == nil {
		return nil
	}
	out := map[string]bool{}
	for i := range s.Links {
		l := &s.Links[i]
		if l.ID != cur.ID && l.Kind != netstate.KindVPN && m.rank(l) < m.rank(cur) {
			out[l.ID] = true
		}
	}
	return out
}

// rank orders links by the policy; lower is better.
func (m *Machine) rank(l *netstate.Link) int {
	for i, p := range m.p.Prefer {
		if p == l.ID {
			return i
		}
	}
	for i, p := range m.p.Prefer {
		if k, err := netstate.ParseKind(p); err == nil && k == l.Kind {
			return i
		}
	}
	return len(m.p.Prefer)
}

// hardDown reports reasons to leave a link at once.
func hardDown(l *netstate.Link) (bool, string) {
	switch {
	case l.State != netstate.StateConnected:
		if l.Carrier == netstate.No {
			return true, "no carrier"
		}
		return true, "disconnected"
	case l.Carrier == netstate.No:
		return true, "no carrier"
	case l.Probe.Portal || l.Connectivity == netstate.ConnPortal:
		return true, "sign-in page"
	}
	return false, ""
}

func ago(d time.Duration) string {
	s := d.Seconds()
	if s < 10 {
		return fmt.Sprintf("%.1f s ago", math.Max(s, 0))
	}
	return fmt.Sprintf("%.0f s ago", s)
}

// step is one evaluation: the snapshot, what was found of each link, and
// what is decided.
type step struct {
	m       *Machine
	now     time.Time
	s       *netstate.Snapshot
	out     Output
	usable  map[string]bool
	dead    map[string]bool
	ordered []*netstate.Link // best first, VPNs left out
}

// Step evaluates a snapshot at time now, in stages: where each link
// stands; which link carries the work; dead links demoted; activations
// that never came; then a fail-over, or a fail-back; backups restored;
// hot standby kept up.
func (m *Machine) Step(now time.Time, s *netstate.Snapshot) Output {
	st := &step{m: m, now: now, s: s, usable: map[string]bool{}, dead: map[string]bool{}}
	// With NetworkManager away or starting up nothing can be done, and its
	// picture is the one it last gave (see system.Source): decide nothing,
	// and take its picture afresh when it is back.
	if svc := s.Service("NetworkManager"); svc != nil && !svc.Running {
		return st.out
	}
	st.assess()
	st.forgetGone()
	cur := st.followRoute()
	st.order()
	st.demoteDead()
	st.expireActivations()
	if cur == nil || st.dead[cur.ID] {
		st.failOver(cur)
	} else {
		m.nothing = ""
		st.failBack(cur)
	}
	st.restoreBackups()
	st.keepHotStandby()
	return st.out
}

func (st *step) next(t time.Time) {
	if !t.IsZero() && t.After(st.now) && (st.out.Next.IsZero() || t.Before(st.out.Next)) {
		st.out.Next = t
	}
}

func (st *step) say(kind netstate.EventKind, link string, lv netstate.Level, format string, a ...any) {
	st.out.Events = append(st.out.Events, netstate.Event{Time: st.now, Kind: kind, Link: link, Level: lv, Text: fmt.Sprintf(format, a...)})
}

// act asks for an action unless the same one is on its way or failed
// recently; it reports whether it asked.
func (st *step) act(a Action) bool {
	t := st.m.links[a.Link]
	if t != nil {
		if at, ok := t.asked[a.Kind]; ok && st.now.Sub(at) < pendingFor {
			return false
		}
		if at, ok := t.failed[a.Kind]; ok && st.now.Sub(at) < st.m.p.RetryAfter {
			return false
		}
		t.asked[a.Kind] = st.now
		switch a.Kind {
		case Demote:
			delete(t.asked, Restore)
		case Restore:
			delete(t.asked, Demote)
		case Activate:
			t.activating, t.ours = st.now, true
		case Deactivate:
			t.ours = false
		}
	}
	st.out.Actions = append(st.out.Actions, a)
	return true
}

// demoted reports whether a link is demoted: as NetworkManager's routes
// show, unless fieldlink asked otherwise a moment ago and the picture has
// yet to follow.
func (st *step) demoted(l *netstate.Link) bool {
	t := st.m.links[l.ID]
	if t != nil {
		if at, ok := t.asked[Demote]; ok && st.now.Sub(at) < pendingFor {
			return true
		}
		if at, ok := t.asked[Restore]; ok && st.now.Sub(at) < pendingFor {
			return false
		}
	}
	return l.Demoted
}

// assess finds, for every link, whether it is dead (leave it), red for too
// long, or usable, and since when.
func (st *step) assess() {
	m := st.m
	for i := range st.s.Links {
		l := &st.s.Links[i]
		t := m.links[l.ID]
		if t == nil {
			t = &track{asked: map[ActionKind]time.Time{}, failed: map[ActionKind]time.Time{}}
			m.links[l.ID] = t
		}
		if l.Kind == netstate.KindVPN {
			continue
		}
		if l.State == netstate.StateConnected {
			t.activating = time.Time{} // it came up
		} else {
			// A demotion or restore asked for applied to the connection
			// that went: the next one starts at its profile's metric.
			delete(t.asked, Demote)
			delete(t.asked, Restore)
			if l.State != netstate.StateConnecting && t.activating.IsZero() {
				t.ours = false // down: a later activation is not ours
			}
		}
		isDead, why := hardDown(l)
		if !isDead && l.Probe.OK == netstate.No && l.Probe.Failures >= m.p.Down {
			isDead, why = true, fmt.Sprintf("%d probes failed (%s)", l.Probe.Failures, l.Probe.Reason)
		}
		// Red for other reasons (weak radio, slow or lossy probes) only
		// counts once it has lasted RedHold; a single failed probe waits
		// for Down instead.
		softRed := !isDead && l.Level == netstate.LevelRed && l.Probe.OK != netstate.No
		if softRed {
			if t.redSince.IsZero() {
				t.redSince = st.now
			}
			if st.now.Sub(t.redSince) >= m.p.RedHold {
				isDead, why = true, l.Reason
			} else {
				st.next(t.redSince.Add(m.p.RedHold))
			}
		} else {
			t.redSince = time.Time{}
		}
		if isDead {
			if t.deadSince.IsZero() {
				t.deadSince = st.now
				if !t.redSince.IsZero() {
					t.deadSince = t.redSince
				}
			}
			t.deadWhy = why
			st.dead[l.ID] = true
		} else {
			t.deadSince, t.deadWhy = time.Time{}, ""
		}
		ok := !isDead && l.State == netstate.StateConnected && l.Verified() && l.Level >= netstate.LevelAmber &&
			!(l.Probe.OK == netstate.No) && t.redSince.IsZero()
		if ok {
			if t.usableSince.IsZero() {
				t.usableSince = st.now
			}
			st.usable[l.ID] = true
		} else {
			if !t.usableSince.IsZero() {
				m.unrest = st.now
			}
			t.usableSince = time.Time{}
		}
	}
}

// forgetGone drops what is kept of links that are no longer there.
func (st *step) forgetGone() {
	for id := range st.m.links {
		if st.s.Link(id) == nil {
			delete(st.m.links, id)
		}
	}
}

// followRoute decides which link carries the work: NetworkManager's
// default route, unless a switch this machine made is still settling. A
// preferred link NetworkManager moved the route to by itself (it came
// back) is held (demoted) until it has been usable for the fail-back
// wait, or a Wi-Fi that comes and goes would drag the work back and
// forth; otherwise the route is followed quietly. A dead link in charge is
// a fail-over, handled later.
func (st *step) followRoute() *netstate.Link {
	m, s := st.m, st.s
	if m.current == "" || s.Link(m.current) == nil {
		m.current, m.since = s.Primary, st.now
	}
	cur := s.Link(m.current)
	if m.leaving != "" && (s.Primary != m.leaving || st.now.Sub(m.leavingSince) >= settleFor) {
		m.leaving = ""
	} else if m.leaving != "" {
		st.next(m.leavingSince.Add(settleFor))
	}
	p := s.PrimaryLink()
	if p == nil || cur == nil || p.ID == cur.ID || p.ID == m.leaving || st.dead[cur.ID] || st.dead[p.ID] {
		return cur
	}
	if m.rank(p) < m.rank(cur) {
		if !st.demoted(p) && st.act(Action{Kind: Demote, Link: p.ID, Reason: "held until it proves stable"}) {
			st.say(netstate.EventDecision, p.ID, p.Level, "Keeping the work on %s until %s has been usable for %s",
				label(cur), label(p), m.backoff(st.now))
		}
		return cur
	}
	if st.usable[p.ID] {
		m.current, m.since = p.ID, st.now
		return p
	}
	return cur
}

// order ranks the links, best first.
func (st *step) order() {
	for i := range st.s.Links {
		if st.s.Links[i].Kind != netstate.KindVPN {
			st.ordered = append(st.ordered, &st.s.Links[i])
		}
	}
	sort.SliceStable(st.ordered, func(i, j int) bool { return st.m.rank(st.ordered[i]) < st.m.rank(st.ordered[j]) })
}

// demoteDead moves the route off every dead link that still holds one, so
// traffic leaves it now rather than when NetworkManager gives up on it.
func (st *step) demoteDead() {
	for _, l := range st.ordered {
		if st.dead[l.ID] && l.State == netstate.StateConnected && !st.demoted(l) {
			st.act(Action{Kind: Demote, Link: l.ID, Reason: st.m.links[l.ID].deadWhy})
		}
	}
}

// expireActivations gives up activations that never completed, so that
// another link can be tried.
func (st *step) expireActivations() {
	for _, l := range st.ordered {
		t := st.m.links[l.ID]
		if t.activating.IsZero() || l.State == netstate.StateConnected {
			continue
		}
		if st.now.Sub(t.activating) >= st.m.p.ActivationTimeout {
			t.activating, t.ours = time.Time{}, false
			st.say(netstate.EventDecision, l.ID, netstate.LevelRed, "%s did not come up within %s", label(l), st.m.p.ActivationTimeout)
		} else {
			st.next(t.activating.Add(st.m.p.ActivationTimeout))
		}
	}
}
