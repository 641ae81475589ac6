package sim

import (
	"fmt"
	"sort"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Route metrics NetworkManager gives each device type by default; the sim
// routes the same way so that a scenario need not script the default route.
var routeMetric = map[netstate.Kind]int{
	netstate.KindEthernet: 100,
	netstate.KindWiFi:     600,
	netstate.KindCellular: 700,
	netstate.KindOther:    900,
}

// demotedMetric is added to a demoted link's metric, as fieldlink's
// failover does through Device.Reapply on a real system.
const demotedMetric = 20000

// Player applies a scenario's timeline to its links. It has no clock of its
// own: callers say how far into the scenario they are, which keeps tests
// deterministic.
type Player struct {
	sc       *Scenario
	links    []netstate.Link
	services []netstate.Service
	next     int           // index of the next step in this loop iteration
	epoch    time.Duration // scenario time at which this iteration began
	elapsed  time.Duration
	pending  []transition
}

// transition is a change that fieldlink's own actions set in motion, such
// as a profile finishing activation.
type transition struct {
	at    time.Duration
	link  string
	state netstate.State
	note  string
}

// NewPlayer returns a player at the start of the scenario.
func NewPlayer(sc *Scenario) *Player {
	p := &Player{sc: sc}
	p.reset(time.Time{})
	return p
}

func (p *Player) reset(now time.Time) {
	p.links = make([]netstate.Link, len(p.sc.Links))
	for i, l := range p.sc.Links {
		p.links[i] = l.Clone()
		p.links[i].Since = now
	}
	p.services = append([]netstate.Service(nil), p.sc.Services...)
	p.next = 0
	p.pending = nil
}

// Scenario returns the scenario being played.
func (p *Player) Scenario() *Scenario { return p.sc }

// Elapsed is how far into the scenario the player is.
func (p *Player) Elapsed() time.Duration { return p.elapsed }

// NextAt returns the scenario time of the next change, if any.
func (p *Player) NextAt() (time.Duration, bool) {
	best, ok := time.Duration(0), false
	if p.next < len(p.sc.Steps) {
		best, ok = p.epoch+p.sc.Steps[p.next].At, true
	} else if p.sc.Loop > 0 {
		best, ok = p.epoch+p.sc.Loop, true
	}
	for _, t := range p.pending {
		if !ok || t.at < best {
			best, ok = t.at, true
		}
	}
	return best, ok
}

// Advance plays every change due up to scenario time to; now stamps the
// changes. It returns the events the scenario wants said and whether
// anything changed.
func (p *Player) Advance(to time.Duration, now time.Time) (events []netstate.Event, changed bool) {
	if to < p.elapsed {
		to = p.elapsed
	}
	for {
		at, ok := p.NextAt()
		if !ok || at > to {
			break
		}
		p.elapsed = at
		ev, ch := p.stepOnce(at, now)
		events = append(events, ev...)
		changed = changed || ch
	}
	p.elapsed = to
	return events, changed
}

func (p *Player) stepOnce(at time.Duration, now time.Time) ([]netstate.Event, bool) {
	// Transitions started by fieldlink's actions go first at equal times: a
	// profile that finished activating exists before the next scripted step.
	sort.SliceStable(p.pending, func(i, j int) bool { return p.pending[i].at < p.pending[j].at })
	if len(p.pending) > 0 && p.pending[0].at <= at {
		t := p.pending[0]
		p.pending = p.pending[1:]
		l := p.link(t.link)
		if l == nil || l.State == t.state {
			return nil, false
		}
		l.State, l.Since = t.state, now
		if t.note == "" {
			return nil, true
		}
		return []netstate.Event{{Time: now, Kind: netstate.EventNote, Link: l.ID, Text: t.note}}, true
	}
	if p.next >= len(p.sc.Steps) {
		// Loop: start again from the initial state.
		p.epoch += p.sc.Loop
		p.reset(now)
		return []netstate.Event{{Time: now, Kind: netstate.EventNote, Text: "Scenario restarts from the beginning"}}, true
	}
	st := p.sc.Steps[p.next]
	p.next++
	switch st.Op {
	case OpNote:
		return []netstate.Event{{Time: now, Kind: netstate.EventNote, Text: st.Text}}, false
	case OpService:
		// The engine says "NetworkManager is not running" from the change.
		p.services = setService(p.services, st.Target, st.Running)
		return nil, true
	case OpRemove:
		for i := range p.links {
			if p.links[i].ID == st.Target {
				p.links = append(p.links[:i:i], p.links[i+1:]...)
				break
			}
		}
		return nil, true
	case OpAdd:
		if p.link(st.Target) != nil {
			return nil, false
		}
		l := newLink(st.Target, st.Kind)
		l.Since = now
		for _, s := range st.Settings {
			_ = apply(&l, s) // checked at parse time
		}
		p.links = append(p.links, l)
		return nil, true
	}
	l := p.link(st.Target)
	if l == nil {
		return nil, false // removed earlier in this iteration
	}
	before := l.State
	for _, s := range st.Settings {
		_ = apply(l, s)
	}
	if l.State != before {
		l.Since = now
		if l.State != netstate.StateConnected {
			// A connection that goes down loses a reapplied route metric,
			// as with NetworkManager.
			l.Demoted = false
		}
	}
	return nil, true
}

func (p *Player) link(id string) *netstate.Link {
	for i := range p.links {
		if p.links[i].ID == id {
			return &p.links[i]
		}
	}
	return nil
}

// Snapshot returns the current picture, unclassified.
func (p *Player) Snapshot(now time.Time) netstate.Snapshot {
	s := netstate.Snapshot{
		Time:      now,
		Source:    "demo",
		Simulated: true,
		Scenario:  p.sc.Name,
		Services:  append([]netstate.Service(nil), p.services...),
	}
	nmUp := true
	if svc := s.Service("NetworkManager"); svc != nil && !svc.Running {
		nmUp = false
	}
	s.Links = make([]netstate.Link, len(p.links))
	best, bestMetric := "", 0
	for i := range p.links {
		l := p.links[i].Clone()
		l.Default = false
		// A link that lost carrier keeps its route until NetworkManager
		// deactivates it (about 6 s later): that is the gap fieldlink's
		// failover closes, so the sim keeps it too.
		if nmUp && l.State == netstate.StateConnected && l.Kind != netstate.KindVPN {
			m := routeMetric[l.Kind]
			if l.Demoted {
				m += demotedMetric
			}
			if best == "" || m < bestMetric {
				best, bestMetric = l.ID, m
			}
		}
		s.Links[i] = l
	}
	if best != "" {
		s.Primary = best
		s.Link(best).Default = true
	}
	s.Connectivity = netstate.ConnNone
	if p := s.PrimaryLink(); p != nil {
		s.Connectivity = p.Connectivity
		if s.Connectivity == netstate.ConnUnknown && p.Probe.OK == netstate.Yes {
			s.Connectivity = netstate.ConnFull
		}
	}
	return s
}

// Activate starts activating the link that holds profile, as
// NetworkManager would: connecting now, connected after the link's
// activation time.
func (p *Player) Activate(profile string, now time.Time) (string, error) {
	for i := range p.links {
		l := &p.links[i]
		if l.Profile != profile && !contains(l.Profiles, profile) {
			continue
		}
		if l.State == netstate.StateConnected || l.State == netstate.StateConnecting {
			return l.ID, nil
		}
		if l.State == netstate.StateUnavailable || l.Carrier == netstate.No {
			return "", fmt.Errorf("cannot activate %q: %s is unavailable", profile, l.ID)
		}
		if l.Kind == netstate.KindCellular && !l.Cell.Registration.Registered() {
			return "", fmt.Errorf("cannot activate %q: %s is not registered on a network", profile, l.ID)
		}
		d, ok := p.sc.Activation[l.ID]
		if !ok {
			d = DefaultActivation
		}
		l.Profile = profile
		l.State, l.Since = netstate.StateConnecting, now
		p.pending = append(p.pending, transition{at: p.elapsed + d, link: l.ID, state: netstate.StateConnected})
		return l.ID, nil
	}
	return "", fmt.Errorf("no link has a profile %q", profile)
}

// Deactivate takes down the link that holds profile.
func (p *Player) Deactivate(profile string, now time.Time) (string, error) {
	for i := range p.links {
		l := &p.links[i]
		if l.Profile == profile && l.State != netstate.StateDisconnected {
			l.State, l.Since, l.Demoted = netstate.StateDisconnected, now, false
			return l.ID, nil
		}
	}
	return "", fmt.Errorf("profile %q is not active", profile)
}

// SetDemoted moves a link's default route behind every other link, or
// restores it.
func (p *Player) SetDemoted(id string, demoted bool) error {
	l := p.link(id)
	if l == nil {
		return fmt.Errorf("no link %q", id)
	}
	l.Demoted = demoted
	return nil
}
