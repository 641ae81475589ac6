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

type track struct {
	usableSince time.Time // zero while not usable
	deadSince   time.Time // zero while not dead
	deadWhy     string
	redSince    time.Time // zero while not red
	asked       map[ActionKind]time.Time
	failed      map[ActionKind]time.Time
}

// pendingFor is how long an action is taken to be on its way: the same
// action is not asked for twice within it.
const pendingFor = 2 * time.Second

// settleFor bounds how long a switch waits for the route to follow.
const settleFor = 5 * time.Second

// Machine is the failover state.
type Machine struct {
	p         Policy
	current   string
	since     time.Time
	links     map[string]*track
	demoted   map[string]bool      // by us
	activated map[string]time.Time // links we brought up, and when
	switches  []time.Time
	lastBack  time.Time // last fail-back
	flaps     int
	unrest    time.Time // last time a usable link stopped being usable
	// leaving: after a switch, NetworkManager's route follows our actions
	// a moment later; until then (at most settleFor) the route still on the
	// link we left is not news to react to.
	leaving      string
	leavingSince time.Time
	nothing      string // last "no working connection" said
	notes        map[string]bool
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
	return &Machine{p: p, links: map[string]*track{}, demoted: map[string]bool{}, activated: map[string]time.Time{},
		notes: map[string]bool{}}
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
	switch a.Kind {
	case Demote:
		delete(m.demoted, a.Link)
	case Restore:
		m.demoted[a.Link] = true
	case Activate:
		delete(m.activated, a.Link)
	}
	if t := m.links[a.Link]; t != nil {
		t.failed[a.Kind] = now
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

// Step evaluates a snapshot at time now.
func (m *Machine) Step(now time.Time, s *netstate.Snapshot) Output {
	var out Output
	next := func(t time.Time) {
		if !t.IsZero() && t.After(now) && (out.Next.IsZero() || t.Before(out.Next)) {
			out.Next = t
		}
	}
	say := func(kind netstate.EventKind, link string, lv netstate.Level, format string, a ...any) {
		out.Events = append(out.Events, netstate.Event{Time: now, Kind: kind, Link: link, Level: lv, Text: fmt.Sprintf(format, a...)})
	}
	act := func(a Action) bool {
		t := m.links[a.Link]
		if t != nil {
			// Not the same action again while the last one is on its way,
			// nor soon after one that failed.
			if at, ok := t.asked[a.Kind]; ok && now.Sub(at) < pendingFor {
				return false
			}
			if at, ok := t.failed[a.Kind]; ok && now.Sub(at) < m.p.RetryAfter {
				return false
			}
			t.asked[a.Kind] = now
		}
		switch a.Kind {
		case Demote:
			m.demoted[a.Link] = true
		case Restore:
			delete(m.demoted, a.Link)
		case Activate:
			m.activated[a.Link] = now
		case Deactivate:
			delete(m.activated, a.Link)
		}
		out.Actions = append(out.Actions, a)
		return true
	}

	// With NetworkManager away nothing can be done, and the picture is
	// stale: wait for it.
	if svc := s.Service("NetworkManager"); svc != nil && !svc.Running {
		return out
	}

	// 1. Where each link stands.
	usable := map[string]bool{}
	dead := map[string]bool{}
	for i := range s.Links {
		l := &s.Links[i]
		t := m.links[l.ID]
		if t == nil {
			t = &track{asked: map[ActionKind]time.Time{}, failed: map[ActionKind]time.Time{}}
			m.links[l.ID] = t
		}
		if l.Kind == netstate.KindVPN {
			continue
		}
		if l.State != netstate.StateConnected {
			// A connection that went down lost the metric we reapplied.
			delete(m.demoted, l.ID)
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
				t.redSince = now
			}
			if now.Sub(t.redSince) >= m.p.RedHold {
				isDead, why = true, l.Reason
			} else {
				next(t.redSince.Add(m.p.RedHold))
			}
		} else {
			t.redSince = time.Time{}
		}
		if isDead {
			if t.deadSince.IsZero() {
				t.deadSince = now
				if !t.redSince.IsZero() {
					t.deadSince = t.redSince
				}
			}
			t.deadWhy = why
			dead[l.ID] = true
		} else {
			t.deadSince, t.deadWhy = time.Time{}, ""
		}
		ok := !isDead && l.State == netstate.StateConnected && l.Verified() && l.Level >= netstate.LevelAmber &&
			!(l.Probe.OK == netstate.No) && t.redSince.IsZero()
		if ok {
			if t.usableSince.IsZero() {
				t.usableSince = now
			}
			usable[l.ID] = true
		} else {
			if !t.usableSince.IsZero() {
				m.unrest = now
			}
			t.usableSince = time.Time{}
		}
	}
	for id := range m.links {
		if s.Link(id) == nil {
			delete(m.links, id)
			delete(m.demoted, id)
			delete(m.activated, id)
		}
	}

	// 2. Which link carries the work: NetworkManager's default route, unless
	// a switch this machine made is still settling.
	if m.current == "" || s.Link(m.current) == nil {
		m.current, m.since = s.Primary, now
	}
	cur := s.Link(m.current)
	// NetworkManager moved the route by itself: a link with a lower metric
	// came up. A preferred link coming back is held (demoted) until it has
	// been usable for the fail-back wait, or a Wi-Fi that comes and goes
	// would drag the work back and forth; otherwise follow it quietly. If
	// the link in charge is dead, that is a fail-over, handled below.
	if m.leaving != "" && (s.Primary != m.leaving || now.Sub(m.leavingSince) >= settleFor) {
		m.leaving = ""
	} else if m.leaving != "" {
		next(m.leavingSince.Add(settleFor))
	}
	if p := s.PrimaryLink(); p != nil && cur != nil && p.ID != cur.ID && p.ID != m.leaving && !dead[cur.ID] && !dead[p.ID] {
		if m.rank(p) < m.rank(cur) {
			if !m.demoted[p.ID] && !p.Demoted && act(Action{Kind: Demote, Link: p.ID, Reason: "held until it proves stable"}) {
				say(netstate.EventDecision, p.ID, p.Level, "Keeping the work on %s until %s has been usable for %s",
					label(cur), label(p), m.backoff(now))
			}
		} else if usable[p.ID] {
			m.current, m.since = p.ID, now
			cur = p
		}
	}

	ordered := make([]*netstate.Link, 0, len(s.Links))
	for i := range s.Links {
		if s.Links[i].Kind != netstate.KindVPN {
			ordered = append(ordered, &s.Links[i])
		}
	}
	sort.SliceStable(ordered, func(i, j int) bool { return m.rank(ordered[i]) < m.rank(ordered[j]) })

	// Demote every dead link that still holds a route, so traffic leaves
	// it now rather than when NetworkManager gives up on it.
	for _, l := range ordered {
		if dead[l.ID] && l.State == netstate.StateConnected && !l.Demoted && !m.demoted[l.ID] {
			act(Action{Kind: Demote, Link: l.ID, Reason: m.links[l.ID].deadWhy})
		}
	}

	// Activations that never completed are given up, so another link can
	// be tried.
	for id, at := range m.activated {
		l := s.Link(id)
		if l != nil && l.State != netstate.StateConnected && now.Sub(at) >= m.p.ActivationTimeout {
			delete(m.activated, id)
			say(netstate.EventDecision, id, netstate.LevelRed, "%s did not come up within %s", label(l), m.p.ActivationTimeout)
		} else if l != nil && l.State != netstate.StateConnected {
			next(at.Add(m.p.ActivationTimeout))
		}
	}
	// 3. Fail over when the link in charge is dead (or there is none).
	if cur == nil || dead[cur.ID] {
		// With no link in charge there is no one to blame: just say so.
		why, since, name := "no link was working", now, ""
		if cur != nil {
			t := m.links[cur.ID]
			why, since, name = t.deadWhy, t.deadSince, cur.Kind.Label()+" "
		}
		var best *netstate.Link
		for _, l := range ordered {
			if usable[l.ID] && (cur == nil || l.ID != cur.ID) {
				best = l
				break
			}
		}
		switch {
		case best != nil:
			if m.demoted[best.ID] || best.Demoted {
				act(Action{Kind: Restore, Link: best.ID, Reason: "taking over"})
			}
			say(netstate.EventFailover, best.ID, best.Level, "Switched to %s: %s%s %s", label(best), name, why, ago(now.Sub(since)))
			m.switchTo(s, best.ID, now, false)
			m.nothing = ""
		default:
			m.bringUp(now, ordered, name+why, act, say, next)
		}
	} else {
		m.nothing = ""
		m.failback(now, s, cur, ordered, usable, act, say, next)
	}

	// 4. Links we demoted that are usable again and less preferred than the
	// one in charge go back to their normal metric as backups; a more
	// preferred one comes back only by fail-back, which has a wait.
	cur = s.Link(m.current)
	for _, l := range ordered {
		if m.demoted[l.ID] && usable[l.ID] && cur != nil && l.ID != cur.ID && m.rank(l) > m.rank(cur) {
			act(Action{Kind: Restore, Link: l.ID, Reason: "usable again, as a backup"})
		}
	}

	// 5. Hot standby keeps the cellular backup up.
	if m.p.Standby == Hot {
		for _, l := range ordered {
			if l.Kind == netstate.KindCellular && l.State == netstate.StateDisconnected && l.Cell.Registration.Registered() {
				if p := profileOf(l); p != "" {
					act(Action{Kind: Activate, Link: l.ID, Profile: p, Reason: "hot standby"})
				}
			}
		}
	}
	return out
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
func (m *Machine) bringUp(now time.Time, ordered []*netstate.Link, lost string,
	act func(Action) bool, say func(netstate.EventKind, string, netstate.Level, string, ...any), next func(time.Time)) {
	var reasons []string
	for _, l := range ordered {
		if l.State == netstate.StateConnecting && !l.Since.IsZero() && now.Sub(l.Since) < m.p.ActivationTimeout {
			next(l.Since.Add(m.p.ActivationTimeout))
			return // something is already on its way up
		}
		if at, ok := m.activated[l.ID]; ok && now.Sub(at) < m.p.ActivationTimeout && l.State != netstate.StateConnected {
			return
		}
		if l.State == netstate.StateConnected {
			if bad, _ := hardDown(l); !bad && l.Probe.OK != netstate.No {
				return // up and not yet proven: its first probes decide
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
		act(Action{Kind: Activate, Link: l.ID, Profile: p, Reason: lost})
		// A decision, not yet a fail-over: the switch is said when the link
		// is up and proven, and only switches count as fail-overs.
		say(netstate.EventDecision, l.ID, netstate.LevelAmber, "Activating %s: %s", label(l), lost)
		return
	}
	text := "No working connection"
	if len(reasons) > 0 {
		text += " (" + strings.Join(reasons, "; ") + ")"
	}
	if text != m.nothing {
		m.nothing = text
		say(netstate.EventDecision, "", netstate.LevelRed, "%s", text)
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

// failback returns to a preferred link once it has proved itself, and
// sends cold-standby cellular back to rest.
func (m *Machine) failback(now time.Time, s *netstate.Snapshot, cur *netstate.Link, ordered []*netstate.Link,
	usable map[string]bool, act func(Action) bool, say func(netstate.EventKind, string, netstate.Level, string, ...any), next func(time.Time)) {
	wait := m.backoff(now)
	for _, l := range ordered {
		if m.rank(l) >= m.rank(cur) || l.ID == cur.ID {
			break
		}
		if !usable[l.ID] {
			continue
		}
		t := m.links[l.ID]
		ready := t.usableSince.Add(wait)
		dwell := m.since.Add(m.p.MinDwell)
		if now.Before(ready) || now.Before(dwell) {
			next(maxTime(ready, dwell))
			return
		}
		if m.demoted[l.ID] || l.Demoted {
			act(Action{Kind: Restore, Link: l.ID, Reason: "fail-back"})
		}
		say(netstate.EventFailback, l.ID, l.Level, "Back on %s: usable for %s", label(l), now.Sub(t.usableSince).Round(time.Second))
		m.switchTo(s, l.ID, now, true)
		return
	}
	// Cold standby: once the work is back on a preferred link, the
	// cellular link fieldlink brought up goes back to rest.
	if m.p.Standby == Cold && s.Primary == cur.ID && usable[cur.ID] {
		for _, l := range ordered {
			if _, ours := m.activated[l.ID]; ours && l.ID != cur.ID && l.Kind == netstate.KindCellular && l.State == netstate.StateConnected {
				if now.Sub(m.since) < m.p.MinDwell {
					next(m.since.Add(m.p.MinDwell))
					continue
				}
				act(Action{Kind: Deactivate, Link: l.ID, Profile: profileOf(l), Reason: "cold standby"})
				say(netstate.EventDecision, l.ID, netstate.LevelUnknown, "%s back to standby", label(l))
			}
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
