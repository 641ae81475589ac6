// Package vpn keeps the configured VPN profile up over whatever path the
// work takes: it asks NetworkManager to activate it once the path is
// workable, re-activates it on the new path after every failover (a VPN's
// tunnel and its route to the VPN server stay on the link it was started
// over), and says in words why it waits or failed. Like failover it is a
// pure machine: snapshot and time in, actions and events out.
package vpn

import (
	"fmt"
	"strings"
	"time"

	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// LinkPrefix starts the link ID of a VPN ("vpn:" + profile name).
const LinkPrefix = "vpn:"

// Policy configures the keeper.
type Policy struct {
	// Profile is the NetworkManager VPN or WireGuard profile (ID or UUID).
	Profile string
	// Auto brings the VPN up by itself; without it only Connect does.
	Auto bool
	// ActivationTimeout bounds a connection attempt (default 60 s).
	ActivationTimeout time.Duration
	// RetryMin and RetryMax bound the back-off after a failure (10 s, 5 min).
	RetryMin, RetryMax time.Duration
	// AgentReady reports whether the device's secret agent is registered
	// with NetworkManager (nil: there is none to wait for). A
	// NetworkManager that just restarted has forgotten it, and an
	// activation that needs a log-in in that moment fails "no secrets"
	// and waits out a back-off.
	AgentReady func() bool
}

// Output is what one Step decided.
type Output struct {
	Actions []failover.Action
	Events  []netstate.Event
	// Next is when to Step again if nothing arrives; zero for never.
	Next time.Time
}

// Keeper is the machine. It is not safe for concurrent use: the engine
// calls it under its lock.
type Keeper struct {
	p        Policy
	phase    netstate.VPNPhase
	since    time.Time
	via      string // the path it went (or goes) over
	reason   string
	retry    time.Time
	failures int
	asked    time.Time // when activation was last asked for
	seen     bool      // the attempt has shown up in NetworkManager
	wanted   bool      // Connect was called: try once whatever Auto says
	// dropWait: a reconnect was asked for and the old tunnel has not gone
	// yet, so "connected" is still the old one.
	dropWait bool
	// gone is when the VPN was first seen down without a reason: the
	// reason comes in a signal of its own, so it is given a moment.
	gone time.Time
	// downVia and downAt: the link a VPN that just dropped ran over. The
	// VPN's end and its link's can arrive in either order, so the keeper
	// does not restart it over that link at once.
	downVia string
	downAt  time.Time
	// refused is the agent's word that the server refused the password
	// (and when): the attempt's failure is held in those words.
	refused   string
	refusedAt time.Time
	// diagnose: the last failure's cause is NetworkManager's "timed out"
	// or "failed": ask the device what it can check.
	diagnose bool
	// dropped is when the keeper took down an attempt that timed out:
	// until it has gone, that attempt still shows as connecting (and may
	// end "disconnected by the user"), which is neither a new attempt nor
	// a second failure.
	dropped time.Time
	// madeWay is when the VPN last made way for a link that brings it.
	madeWay map[string]time.Time
	// agentWait is when the keeper first waited for the agent to
	// register: it waits at most agentGrace.
	agentWait time.Time
}

// settle is how long a VPN that dropped waits before starting again over
// the link it dropped on (a new path is taken at once).
const settle = 2 * time.Second

// agentGrace bounds the wait for the secret agent to register (a
// NetworkManager just started answers it within a second); agentPoll is
// how often the keeper looks meanwhile.
const (
	agentGrace = 3 * time.Second
	agentPoll  = 100 * time.Millisecond
)

// dropGrace bounds the wait for a timed-out attempt to go: after it, a
// VPN still connecting is taken as an attempt of its own.
const dropGrace = 10 * time.Second

// reasonGrace is how long a VPN seen down waits for NetworkManager's reason.
const reasonGrace = 2 * time.Second

// New returns a keeper; a Policy without a profile keeps nothing.
func New(p Policy) *Keeper {
	if p.ActivationTimeout <= 0 {
		p.ActivationTimeout = 60 * time.Second
	}
	if p.RetryMin <= 0 {
		p.RetryMin = 10 * time.Second
	}
	if p.RetryMax < p.RetryMin {
		p.RetryMax = max(5*time.Minute, p.RetryMin)
	}
	return &Keeper{p: p, phase: netstate.VPNWaiting}
}

// LinkID is the ID the VPN's link has in a snapshot.
func (k *Keeper) LinkID() string { return LinkPrefix + k.p.Profile }

// find returns the VPN's link: by ID on the real system, else the VPN link
// that holds the profile (by name or UUID; a scenario names its own links).
func (k *Keeper) find(s *netstate.Snapshot) *netstate.Link {
	if l := s.Link(k.LinkID()); l != nil {
		return l
	}
	for i := range s.Links {
		l := &s.Links[i]
		if l.Kind != netstate.KindVPN {
			continue
		}
		if l.Profile == k.p.Profile || l.ProfileUUID == k.p.Profile {
			return l
		}
		for _, p := range l.Profiles {
			if p == k.p.Profile {
				return l
			}
		}
	}
	return nil
}

// Kept returns the ID of the VPN's link in s, or "" when s has none.
func (k *Keeper) Kept(s *netstate.Snapshot) string {
	if l := k.find(s); l != nil {
		return l.ID
	}
	return ""
}

// Owns reports whether an action came from this keeper.
func (k *Keeper) Owns(a failover.Action) bool { return a.Link == k.LinkID() }

// Status is the VPN as the screen shows it.
func (k *Keeper) Status() netstate.VPNStatus {
	if k.p.Profile == "" {
		return netstate.VPNStatus{}
	}
	return netstate.VPNStatus{Profile: k.p.Profile, Phase: k.phase, Since: k.since, Via: k.via,
		Reason: k.reason, Retry: k.retry, Auto: k.p.Auto}
}

// Connect asks for the VPN now (a key press): it clears a hold and skips
// the back-off, and with Auto off it is the only way the VPN comes up.
func (k *Keeper) Connect(now time.Time) {
	k.wanted = true
	if k.phase == netstate.VPNHeld || k.phase == netstate.VPNRetrying {
		k.set(netstate.VPNWaiting, now, "")
		k.retry = time.Time{}
	}
}

func (k *Keeper) set(phase netstate.VPNPhase, now time.Time, reason string) {
	if phase != k.phase {
		k.since = now
	}
	k.phase, k.reason = phase, reason
}

// Failed is told that an action of this keeper could not be carried out.
func (k *Keeper) Failed(a failover.Action, err error, now time.Time) []netstate.Event {
	if k.phase != netstate.VPNConnecting {
		return nil
	}
	return k.fail(now, actionReason(err))
}

// actionReason words a refused ActivateConnection.
func actionReason(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "no saved profile"), strings.Contains(s, "unknown profile"), strings.Contains(s, "UnknownConnection"):
		return "NetworkManager has no saved profile of that name"
	case strings.Contains(s, "not authorized"), strings.Contains(s, "PermissionDenied"):
		return "not allowed to start it: " + s
	case strings.Contains(s, "was not installed"):
		// NetworkManager: "The VPN service 'org.freedesktop.NetworkManager.vpnc' was not installed."
		kind := "its type"
		if i := strings.Index(s, "NetworkManager."); i >= 0 {
			kind = strings.TrimRight(strings.Fields(s[i+len("NetworkManager."):])[0], "'.\"")
		}
		return fmt.Sprintf("this laptop has no VPN plugin for %s (network-manager-%s is not installed): IT installs it or fixes the profile", kind, kind)
	}
	return s
}

// linkLost reports whether NetworkManager ended the VPN because the link
// under it went (NMActiveConnectionStateReason 3 and 14, as worded by nm).
func linkLost(reason string) bool {
	return strings.Contains(reason, "the link it ran over") || strings.Contains(reason, "the device it ran over")
}

// held reports whether a failure needs the user rather than another try:
// retrying refused credentials locks accounts, and a cancelled prompt
// means the user chose not to.
func held(reason string) bool {
	for _, s := range []string{"login failed", "refused the password", "no saved profile", "not allowed", "cancelled", "nobody answered",
		"no VPN plugin"} {
		if strings.Contains(reason, s) {
			return true
		}
	}
	return false
}

// HoldNext is told the attempt in progress will not succeed for a reason
// only the clinician can change (the server refused the password twice,
// the prompt was cancelled or left): its end is held with why, never
// retried by itself (a refused password retried locks the account).
func (k *Keeper) HoldNext(now time.Time, why string) { k.refused, k.refusedAt = why, now }

func (k *Keeper) fail(now time.Time, reason string) []netstate.Event {
	if k.refused != "" && now.Sub(k.refusedAt) < k.p.ActivationTimeout {
		reason = k.refused
	}
	k.refused = ""
	k.diagnose = diagnosable(reason) && !held(reason)
	k.failures++
	k.seen = false
	name := k.p.Profile
	if held(reason) {
		k.set(netstate.VPNHeld, now, reason)
		k.retry = time.Time{}
		return []netstate.Event{{Time: now, Kind: netstate.EventVPNDown, Link: k.LinkID(), Level: netstate.LevelRed,
			Text: fmt.Sprintf("VPN %s failed: %s; press c to try again", name, reason)}}
	}
	wait := k.p.RetryMin << min(k.failures-1, 10)
	wait = min(wait, k.p.RetryMax)
	k.set(netstate.VPNRetrying, now, reason)
	k.retry = now.Add(wait)
	return []netstate.Event{{Time: now, Kind: netstate.EventVPNDown, Link: k.LinkID(), Level: netstate.LevelRed,
		Text: fmt.Sprintf("VPN %s failed: %s; trying again in %s", name, reason, wait.Round(time.Second))}}
}

// diagnosable reports whether NetworkManager's reason leaves the cause
// open (a timeout, a plugin that gave up).
func diagnosable(reason string) bool {
	for _, s := range []string{"did not connect within", "did not answer in time", "did not start in time", "failed to start",
		"service stopped", "could not start it"} {
		if strings.Contains(reason, s) {
			return true
		}
	}
	return false
}

// Diagnosed is told what the device found of the last failure's cause:
// the waiting VPN says it, and an event tells it once.
func (k *Keeper) Diagnosed(now time.Time, cause string) []netstate.Event {
	if cause == "" || (k.phase != netstate.VPNRetrying && k.phase != netstate.VPNHeld) {
		return nil
	}
	k.reason += ": " + cause
	return []netstate.Event{{Time: now, Kind: netstate.EventVPNDown, Link: k.LinkID(), Level: netstate.LevelRed,
		Text: fmt.Sprintf("VPN %s: %s", k.p.Profile, cause)}}
}

// Step looks at a classified snapshot (after failover's own step), taking
// the default route as the work's path.
func (k *Keeper) Step(now time.Time, s *netstate.Snapshot) Output { return k.StepOn(now, s, "") }

// StepOn is Step when failover says which link carries the work: the VPN
// follows that decision, once the route is on it. A route NetworkManager
// moves for a moment (a preferred link coming back, demoted again an
// instant later) is no change of path, and the tunnel is left alone.
func (k *Keeper) StepOn(now time.Time, s *netstate.Snapshot, work string) Output {
	if k.p.Profile == "" {
		return Output{}
	}
	st := k.look(now, s, work)
	if k.stillDropping(st) {
		return st.out
	}
	switch st.state {
	case netstate.StateConnected:
		if !k.makeWay(st) {
			k.whileConnected(st)
		}
	case netstate.StateConnecting:
		k.whileConnecting(st)
	default:
		if k.whileDown(st) {
			k.startIfDue(st)
		}
	}
	if k.diagnose {
		k.diagnose = false
		st.out.Actions = append(st.out.Actions, failover.Action{Kind: failover.Diagnose, Link: st.id, Profile: k.p.Profile,
			Reason: "why it did not connect"})
	}
	return st.out
}

// stillDropping reports whether the VPN seen connecting (or up) is the
// attempt the keeper took down at its timeout, not yet gone.
func (k *Keeper) stillDropping(st *step) bool {
	if k.dropped.IsZero() {
		return false
	}
	going := st.state == netstate.StateConnecting || st.state == netstate.StateConnected
	if !going || st.now.Sub(k.dropped) >= dropGrace {
		k.dropped = time.Time{}
		return false
	}
	st.out.Next = k.dropped.Add(dropGrace)
	if !k.retry.IsZero() && k.retry.Before(st.out.Next) {
		st.out.Next = k.retry
	}
	return true
}

// step is one look at the VPN: what the snapshot says of it and of the
// path under it, and what is being decided.
type step struct {
	now      time.Time
	s        *netstate.Snapshot
	id       string
	vl       *netstate.Link // the VPN's link, nil when NetworkManager has none
	state    netstate.State
	prim     *netstate.Link // the link with the default route
	path     string         // prim in words
	pathOK   bool           // prim is workable
	settling bool           // the route is not yet (or no longer) where the work is going
	out      Output
}

func (k *Keeper) look(now time.Time, s *netstate.Snapshot, work string) *step {
	st := &step{now: now, s: s, id: k.LinkID(), vl: k.find(s), state: netstate.StateDisconnected, prim: s.PrimaryLink()}
	if st.vl != nil {
		st.state = st.vl.State
	}
	if st.prim != nil && st.prim.Kind != netstate.KindVPN {
		st.path = netstate.Describe(st.prim)
		st.pathOK = st.prim.Workable()
	}
	st.settling = work != "" && (st.prim == nil || st.prim.ID != work)
	if st.state != netstate.StateConnected {
		k.dropWait = false
	}
	if st.state == netstate.StateConnected || st.state == netstate.StateConnecting {
		k.gone = time.Time{}
	}
	return st
}

func (st *step) event(kind netstate.EventKind, level netstate.Level, format string, a ...any) {
	st.out.Events = append(st.out.Events, netstate.Event{Time: st.now, Kind: kind, Link: st.id, Level: level, Text: fmt.Sprintf(format, a...)})
}

// activate asks NetworkManager for the VPN over the current path.
func (k *Keeper) activate(st *step, kind failover.ActionKind, why string) {
	st.out.Actions = append(st.out.Actions, failover.Action{Kind: kind, Link: st.id, Profile: k.p.Profile, Reason: why})
	k.asked, k.seen, k.wanted = st.now, false, false
	k.dropWait = kind == failover.Reconnect
	k.via = st.prim.ID
	k.set(netstate.VPNConnecting, st.now, why)
	st.out.Next = st.now.Add(k.p.ActivationTimeout)
}

// makeWayAfter spaces the hand-overs to one link.
const makeWayAfter = 30 * time.Second

// makeWay hands the VPN to a link that brings it with it (IT made the VPN
// a secondary of the link's profile): NetworkManager 1.42 fails such a
// link's activation while the VPN is up over another ("Connection is
// already active"), four times, and then leaves the link down. So the
// VPN is taken down and the link's profile activated, which starts the
// VPN again over it. It reports whether it did.
func (k *Keeper) makeWay(st *step) bool {
	uuid := ""
	if st.vl != nil {
		uuid = st.vl.ProfileUUID
	}
	for i := range st.s.Links {
		l := &st.s.Links[i]
		if l.Kind == netstate.KindVPN || l.ID == k.via || l.Carrier == netstate.No ||
			(l.State != netstate.StateDisconnected && l.State != netstate.StateFailed) {
			continue
		}
		for _, b := range l.Brings {
			if b.UUID != uuid && b.UUID != k.p.Profile {
				continue
			}
			if k.madeWay == nil {
				k.madeWay = map[string]time.Time{}
			}
			if st.now.Sub(k.madeWay[l.ID]) < makeWayAfter {
				return false
			}
			k.madeWay[l.ID] = st.now
			why := fmt.Sprintf("%s starts VPN %s itself (IT made it a secondary of %s)", l.ID, k.p.Profile, b.Profile)
			st.event(netstate.EventDecision, netstate.LevelAmber, "Handing VPN %s to %s: %s", k.p.Profile, l.ID, why)
			st.out.Actions = append(st.out.Actions, failover.Action{Kind: failover.MakeWay, Link: st.id, Profile: k.p.Profile,
				Then: b.Profile, Reason: why})
			k.asked, k.seen, k.dropWait = st.now, false, true
			k.via = l.ID
			k.set(netstate.VPNConnecting, st.now, why)
			st.out.Next = st.now.Add(k.p.ActivationTimeout)
			return true
		}
	}
	return false
}

// broughtBy reports whether the VPN runs over a workable link that
// brings it itself (IT's secondaries): IT's wish stands, and the VPN is
// not moved off it while that link is good.
func (k *Keeper) broughtBy(st *step) bool {
	l := st.s.Link(k.via)
	if l == nil || !l.Workable() || st.vl == nil {
		return false
	}
	for _, b := range l.Brings {
		if b.UUID == st.vl.ProfileUUID || b.UUID == k.p.Profile {
			return true
		}
	}
	return false
}

// whileConnected marks the VPN up, and starts it again over the new path
// when the work has moved: the tunnel's route to its server stays on the
// link it started over, which after a failover is demoted or gone.
func (k *Keeper) whileConnected(st *step) {
	if k.dropWait && st.now.Sub(k.asked) < k.p.ActivationTimeout {
		// The old tunnel of a reconnect has not gone yet.
		st.out.Next = k.asked.Add(k.p.ActivationTimeout)
		return
	}
	k.dropWait = false
	if k.phase != netstate.VPNUp {
		k.markUp(st)
	}
	prim := st.prim
	if prim != nil && k.via != "" && prim.ID != k.via && st.pathOK && !st.settling && !k.broughtBy(st) {
		was := k.via
		if l := st.s.Link(was); l != nil {
			was = netstate.Describe(l)
		}
		why := fmt.Sprintf("the work moved from %s to %s", was, st.path)
		st.event(netstate.EventDecision, netstate.LevelAmber, "Reconnecting VPN %s: %s", k.p.Profile, why)
		k.activate(st, failover.Reconnect, why)
	}
}

func (k *Keeper) markUp(st *step) {
	took := ""
	if !k.asked.IsZero() && k.phase == netstate.VPNConnecting {
		took = fmt.Sprintf(" in %.1f s", st.now.Sub(k.asked).Seconds())
	}
	if k.via == "" && st.prim != nil {
		k.via = st.prim.ID
	}
	k.set(netstate.VPNUp, st.now, "")
	if st.vl != nil && !st.vl.Since.IsZero() && k.asked.IsZero() {
		k.since = st.vl.Since // up before fieldlink started: its real uptime
	}
	k.failures, k.retry = 0, time.Time{}
	over := ""
	if st.path != "" {
		over = " over " + st.path
	}
	st.event(netstate.EventVPNUp, netstate.LevelGreen, "VPN %s up%s%s", k.p.Profile, over, took)
}

// whileConnecting waits for an activation, and gives up on it at the
// activation timeout.
func (k *Keeper) whileConnecting(st *step) {
	if k.phase != netstate.VPNConnecting {
		// Started by someone else (the user with nmcli, autoconnect).
		k.asked = st.now
		if st.prim != nil {
			k.via = st.prim.ID
		}
		k.set(netstate.VPNConnecting, st.now, "")
	}
	k.seen = true
	if st.vl != nil && st.vl.StateReason != "" && k.reason != st.vl.StateReason && !strings.HasPrefix(k.reason, "the work moved") {
		// NetworkManager's stage, while it lasts, says how far it got.
		k.reason = st.vl.StateReason
	}
	if st.now.Sub(k.asked) >= k.p.ActivationTimeout {
		st.out.Events = append(st.out.Events, k.fail(st.now, fmt.Sprintf("did not connect within %s", k.p.ActivationTimeout))...)
		st.out.Actions = append(st.out.Actions, failover.Action{Kind: failover.Deactivate, Link: st.id, Profile: k.p.Profile, Reason: "timed out"})
		k.dropped = st.now
		st.out.Next = k.retry
		return
	}
	st.out.Next = k.asked.Add(k.p.ActivationTimeout)
}

// whileDown accounts for a VPN that is neither up nor coming up: one that
// dropped, or an attempt that failed or has not shown up yet. It reports
// whether the keeper may go on to start it.
func (k *Keeper) whileDown(st *step) bool {
	reason := ""
	if st.vl != nil && st.vl.StateReason != "" {
		reason = st.vl.StateReason
	}
	if reason == "" && (k.phase == netstate.VPNUp || (k.phase == netstate.VPNConnecting && k.seen)) {
		// NetworkManager's reason comes in a signal of its own.
		if k.gone.IsZero() {
			k.gone = st.now
		}
		if st.now.Sub(k.gone) < reasonGrace {
			st.out.Next = k.gone.Add(reasonGrace)
			return false
		}
	}
	k.gone = time.Time{}
	switch k.phase {
	case netstate.VPNUp:
		up := st.now.Sub(k.since).Round(time.Second)
		if reason == "" {
			reason = "NetworkManager took it down"
		}
		st.event(netstate.EventVPNDown, netstate.LevelRed, "VPN %s down after %s: %s", k.p.Profile, up, reason)
		k.set(netstate.VPNWaiting, st.now, reason)
		if !strings.Contains(reason, "restarted without it") {
			// Its link may be going too: see whether it stays first. A
			// VPN a restarted NetworkManager lost is made again at once.
			k.downVia, k.downAt = k.via, st.now
		}
		k.via = ""
	case netstate.VPNConnecting:
		return k.attemptEnded(st, reason)
	}
	return true
}

// attemptEnded decides what an activation that is not (or no longer) in
// NetworkManager means: its link went under it (no fault of the VPN's, no
// back-off), it failed, or it has not shown up yet.
func (k *Keeper) attemptEnded(st *step, reason string) bool {
	switch {
	case k.seen && k.via != "" && (linkLost(reason) || st.prim == nil || st.prim.ID != k.via):
		st.event(netstate.EventVPNDown, netstate.LevelAmber, "VPN %s stopped while connecting: %s", k.p.Profile, reason)
		k.set(netstate.VPNWaiting, st.now, reason)
		k.downVia, k.downAt = k.via, st.now
		k.via, k.seen = "", false
	case k.seen || st.now.Sub(k.asked) >= 5*time.Second:
		if reason == "" {
			reason = "NetworkManager could not start it"
		}
		if !k.seen {
			reason = "NetworkManager did not start it"
		}
		st.out.Events = append(st.out.Events, k.fail(st.now, reason)...)
	default:
		st.out.Next = k.asked.Add(5 * time.Second)
		return false
	}
	return true
}

// startIfDue starts the VPN unless something says wait: a hold for the
// user, a back-off, no workable path, a route still settling, or the link
// it just dropped on not yet proven to stay.
func (k *Keeper) startIfDue(st *step) {
	switch k.phase {
	case netstate.VPNHeld:
		return
	case netstate.VPNRetrying:
		if st.now.Before(k.retry) {
			st.out.Next = k.retry
			return
		}
	}
	if why, wait := k.waitFor(st); why != "" {
		k.set(netstate.VPNWaiting, st.now, why)
		if !wait.IsZero() {
			st.out.Next = wait
		}
		return
	}
	retrying := k.phase == netstate.VPNRetrying
	st.event(netstate.EventDecision, netstate.LevelGreen, "Starting VPN %s over %s", k.p.Profile, st.path)
	k.activate(st, failover.Activate, "the path is workable")
	if retrying {
		st.out.Events[len(st.out.Events)-1].Text += fmt.Sprintf(" (attempt %d)", k.failures+1)
	}
}

// waitFor says why the VPN is not started now, and until when, if a time
// will change that.
func (k *Keeper) waitFor(st *step) (string, time.Time) {
	prim := st.prim
	switch {
	case !k.p.Auto && !k.wanted:
		return "press c to connect", time.Time{}
	case !st.pathOK:
		why := "no path to the network yet"
		if prim != nil && prim.Kind != netstate.KindVPN {
			why = fmt.Sprintf("%s is %s: %s", st.path, prim.Level.Word(), prim.Reason)
			if prim.Level >= netstate.LevelAmber && !prim.Verified() {
				why = st.path + " is not yet known to reach the network"
			}
		}
		return "waiting for a workable path: " + why, time.Time{}
	case st.settling:
		return "waiting for the route to settle", st.now.Add(settle)
	case prim.ID == k.downVia && st.now.Sub(k.downAt) < settle:
		return "it dropped; waiting to see whether " + st.path + " stays", k.downAt.Add(settle)
	case k.awaitAgent(st.now):
		return "waiting for fieldlink to be registered with NetworkManager for log-ins", st.now.Add(agentPoll)
	}
	return "", time.Time{}
}

// awaitAgent reports whether to wait for the secret agent, for at most
// agentGrace from the first time it was found missing.
func (k *Keeper) awaitAgent(now time.Time) bool {
	if k.p.AgentReady == nil || k.p.AgentReady() {
		k.agentWait = time.Time{}
		return false
	}
	if k.agentWait.IsZero() {
		k.agentWait = now
	}
	return now.Sub(k.agentWait) < agentGrace
}
