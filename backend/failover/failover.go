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
	"strings"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Standby is how cellular waits while a better link carries the work.
type Standby int

// Standby modes.
const (
	Cold Standby = iota // activate on demand, deactivate after fail-back
	Hot                 // keep the mobile profile up as a backup route
)

func (s Standby) String() string {
	if s == Hot {
		return "hot"
	}
	return "cold"
}

// Policy is the failover configuration.
type Policy struct {
	// Prefer lists link kinds ("ethernet", "wifi", "cellular") or link IDs
	// ("veth0"), best first.
	Prefer []string
	// Down is how many consecutive probe failures make a link down.
	Down int
	// RedHold is how long a link may stay red (weak radio, slow or lossy
	// probes) before fieldlink moves off it.
	RedHold time.Duration
	// FailbackAfter is how long a preferred link must stay usable before
	// fieldlink goes back to it.
	FailbackAfter time.Duration
	// MinDwell is the least time on a link before a fail-back.
	MinDwell time.Duration
	// FlapWindow: a fail-back followed within it by another fail-over is
	// a flap, and each flap doubles the fail-back wait, up to MaxBackoff;
	// a FlapWindow in which no link failed forgets the flaps.
	FlapWindow time.Duration
	MaxBackoff time.Duration
	Standby    Standby
	// ActivationTimeout is how long an activation may take before another
	// link is tried.
	ActivationTimeout time.Duration
	// RetryAfter spaces repeated attempts of an action that failed.
	RetryAfter time.Duration
}

// DefaultPolicy returns the defaults documented in README.md.
func DefaultPolicy() Policy {
	return Policy{
		Prefer:            []string{"ethernet", "wifi", "cellular"},
		Down:              3,
		RedHold:           10 * time.Second,
		FailbackAfter:     30 * time.Second,
		MinDwell:          10 * time.Second,
		FlapWindow:        10 * time.Minute,
		MaxBackoff:        10 * time.Minute,
		Standby:           Cold,
		ActivationTimeout: 45 * time.Second,
		RetryAfter:        15 * time.Second,
	}
}

// ActionKind is what the engine is asked to do.
type ActionKind string

// Actions.
const (
	Activate   ActionKind = "activate"
	Deactivate ActionKind = "deactivate"
	Demote     ActionKind = "demote"
	Restore    ActionKind = "restore"
	// Reconnect takes a profile down and brings it up again (a VPN moving
	// to the new path after a failover), in that order.
	Reconnect ActionKind = "reconnect"
)

// Action is one thing to do, with the reason for it.
type Action struct {
	Kind    ActionKind
	Link    string
	Profile string
	Reason  string
}

func (a Action) String() string {
	if a.Profile != "" {
		return fmt.Sprintf("%s %s (%s)", a.Kind, a.Link, a.Profile)
	}
	return fmt.Sprintf("%s %s", a.Kind, a.Link)
}

// Output is what one Step decided.
type Output struct {
	Actions []Action
	// Events say what was decided and why, for the events pane and the
	// journal.
	Events []netstate.Event
	// Next is when to Step again if nothing new arrives (a hold or a
	// fail-back wait ends then); zero when nothing is pending.
	Next time.Time
}

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

// failOver moves the work off a dead link in charge (or finds a link when
// none is): to the best usable link, else by bringing a standby up.
func (st *step) failOver(cur *netstate.Link) {
	m := st.m
	// With no link in charge there is no one to blame: just say so.
	why, since, name := "no link was working", st.now, ""
	if cur != nil {
		t := m.links[cur.ID]
		why, since, name = t.deadWhy, t.deadSince, cur.Kind.Label()+" "
	}
	var best *netstate.Link
	for _, l := range st.ordered {
		if st.usable[l.ID] && (cur == nil || l.ID != cur.ID) {
			best = l
			break
		}
	}
	if best == nil {
		st.bringUp(name + why)
		return
	}
	if st.demoted(best) {
		st.act(Action{Kind: Restore, Link: best.ID, Reason: "taking over"})
	}
	st.say(netstate.EventFailover, best.ID, best.Level, "Switched to %s: %s%s %s", label(best), name, why, ago(st.now.Sub(since)))
	m.switchTo(st.s, best.ID, st.now, false)
	m.nothing = ""
}

// restoreBackups returns links fieldlink demoted that are usable again,
// and less preferred than the one in charge, to their own metric as
// backups; a more preferred one comes back only by fail-back, which waits.
func (st *step) restoreBackups() {
	m := st.m
	cur := st.s.Link(m.current)
	for _, l := range st.ordered {
		if st.demoted(l) && st.usable[l.ID] && cur != nil && l.ID != cur.ID && m.rank(l) > m.rank(cur) {
			st.act(Action{Kind: Restore, Link: l.ID, Reason: "usable again, as a backup"})
		}
	}
}

// keepHotStandby keeps the cellular backup up (hot standby).
func (st *step) keepHotStandby() {
	if st.m.p.Standby != Hot {
		return
	}
	for _, l := range st.ordered {
		if l.Kind == netstate.KindCellular && l.State == netstate.StateDisconnected && l.Cell.Registration.Registered() {
			if p := profileOf(l); p != "" {
				st.act(Action{Kind: Activate, Link: l.ID, Profile: p, Reason: "hot standby"})
			}
		}
	}
}

func (m *Machine) switchTo(s *netstate.Snapshot, id string, now time.Time, failback bool) {
	if !failback && !m.lastBack.IsZero() && now.Sub(m.lastBack) < m.p.FlapWindow {
		m.flaps++ // went back, and had to leave again: a flap
	}
	if failback {
		m.lastBack = now
	}
	// Only a link still up keeps a route that has yet to move.
	if old := s.Link(m.current); old != nil && old.State == netstate.StateConnected {
		m.leaving, m.leavingSince = m.current, now
	} else {
		m.leaving = ""
	}
	m.current, m.since = id, now
	m.switches = append(m.switches, now)
}

// bringUp activates a standby link when nothing usable is up.
func (st *step) bringUp(lost string) {
	m := st.m
	var reasons []string
	for _, l := range st.ordered {
		t := m.links[l.ID]
		if l.State == netstate.StateConnecting && !l.Since.IsZero() && st.now.Sub(l.Since) < m.p.ActivationTimeout {
			st.next(l.Since.Add(m.p.ActivationTimeout))
			return // something is already on its way up
		}
		if !t.activating.IsZero() && l.State != netstate.StateConnected {
			return // ours, on its way up
		}
		if l.State == netstate.StateConnected {
			// Up and not yet proven: its first probes decide. One found
			// dead (red for red_hold, say) is not waited on.
			if bad, _ := hardDown(l); !bad && !st.dead[l.ID] && l.Probe.OK != netstate.No {
				return
			}
			continue
		}
		ok, why := activatable(l)
		if !ok {
			if why != "" {
				reasons = append(reasons, label(l)+": "+why)
			}
			continue
		}
		p := profileOf(l)
		st.act(Action{Kind: Activate, Link: l.ID, Profile: p, Reason: lost})
		// A decision, not yet a fail-over: the switch is said when the link
		// is up and proven, and only switches count as fail-overs.
		st.say(netstate.EventDecision, l.ID, netstate.LevelAmber, "Activating %s: %s", label(l), lost)
		return
	}
	text := "No working connection"
	if len(reasons) > 0 {
		text += " (" + strings.Join(reasons, "; ") + ")"
	}
	if text != m.nothing {
		m.nothing = text
		st.say(netstate.EventDecision, "", netstate.LevelRed, "%s", text)
	}
}

// activatable reports whether fieldlink can bring a link up itself.
func activatable(l *netstate.Link) (bool, string) {
	if profileOf(l) == "" {
		return false, ""
	}
	switch l.Kind {
	case netstate.KindCellular:
		switch {
		case l.Cell.Registration == netstate.RegDenied:
			return false, "registration denied"
		case l.Cell.FailedReason != "":
			return false, l.Cell.FailedReason
		case !l.Cell.Registration.Registered():
			return false, "not registered (" + l.Cell.Registration.String() + ")"
		}
		return l.State == netstate.StateDisconnected, ""
	case netstate.KindEthernet:
		return l.State == netstate.StateDisconnected && l.Carrier == netstate.Yes, ""
	}
	// Wi-Fi joins networks by itself (NetworkManager autoconnect).
	return false, ""
}

func profileOf(l *netstate.Link) string {
	if l.Profile != "" {
		return l.Profile
	}
	if len(l.Profiles) > 0 {
		return l.Profiles[0]
	}
	return ""
}

// label names a link as the events pane does: "cellular (EE, 4G)".
func label(l *netstate.Link) string {
	switch l.Kind {
	case netstate.KindCellular:
		parts := []string{}
		if l.Cell.Operator != "" {
			parts = append(parts, l.Cell.Operator)
		}
		if g := l.Cell.Tech.Generation(); g != "" {
			parts = append(parts, g)
		}
		if len(parts) > 0 {
			return "cellular (" + strings.Join(parts, ", ") + ")"
		}
		return "cellular"
	case netstate.KindWiFi:
		if l.WiFi.SSID != "" {
			return "Wi-Fi " + l.WiFi.SSID
		}
		return "Wi-Fi"
	case netstate.KindEthernet:
		return "wired " + l.ID
	}
	return l.Kind.Label() + " " + l.ID
}

// backoff is the fail-back wait, doubled for each recent flap.
func (m *Machine) backoff(now time.Time) time.Duration {
	if now.Sub(m.unrest) >= m.p.FlapWindow {
		m.flaps = 0 // a quiet spell forgives
	}
	wait := m.p.FailbackAfter
	for i := 0; i < m.flaps && wait < m.p.MaxBackoff; i++ {
		wait *= 2
	}
	return min(wait, max(m.p.MaxBackoff, m.p.FailbackAfter))
}

// failBack returns to a preferred link once it has proved itself, and
// sends a cold-standby cellular link fieldlink brought up back to rest.
func (st *step) failBack(cur *netstate.Link) {
	m := st.m
	wait := m.backoff(st.now)
	for _, l := range st.ordered {
		if m.rank(l) >= m.rank(cur) || l.ID == cur.ID {
			break
		}
		if !st.usable[l.ID] {
			continue
		}
		t := m.links[l.ID]
		ready := t.usableSince.Add(wait)
		dwell := m.since.Add(m.p.MinDwell)
		if st.now.Before(ready) || st.now.Before(dwell) {
			st.next(maxTime(ready, dwell))
			return
		}
		if st.demoted(l) {
			st.act(Action{Kind: Restore, Link: l.ID, Reason: "fail-back"})
		}
		st.say(netstate.EventFailback, l.ID, l.Level, "Back on %s: usable for %s", label(l), st.now.Sub(t.usableSince).Round(time.Second))
		m.switchTo(st.s, l.ID, st.now, true)
		return
	}
	// Cold standby: once the work is back on a preferred link, the
	// cellular link fieldlink brought up goes back to rest.
	if m.p.Standby != Cold || st.s.Primary != cur.ID || !st.usable[cur.ID] {
		return
	}
	for _, l := range st.ordered {
		if !m.links[l.ID].ours || l.ID == cur.ID || l.Kind != netstate.KindCellular || l.State != netstate.StateConnected {
			continue
		}
		if st.now.Sub(m.since) < m.p.MinDwell {
			st.next(m.since.Add(m.p.MinDwell))
			continue
		}
		if st.act(Action{Kind: Deactivate, Link: l.ID, Profile: profileOf(l), Reason: "cold standby"}) {
			st.say(netstate.EventDecision, l.ID, netstate.LevelUnknown, "%s back to standby", label(l))
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
