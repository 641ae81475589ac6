package failover

import (
	"strings"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

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
