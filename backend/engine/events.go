package engine

import (
	"fmt"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// deriveEvents turns the difference between two classified snapshots into
// events a person can read in the events pane.
//
// The link named by kept (a VPN the keeper tells the story of) is left to
// the keeper; other VPNs' comings and goings are vpn-up and vpn-down.
func deriveEvents(prev, next *netstate.Snapshot, now time.Time, kept string) []netstate.Event {
	var out []netstate.Event
	add := func(kind netstate.EventKind, link string, level netstate.Level, format string, a ...any) {
		if link != "" && link == kept && kind != netstate.EventLevel {
			return
		}
		if l := next.Link(link); l != nil && l.Kind == netstate.KindVPN {
			switch kind {
			case netstate.EventLinkUp, netstate.EventLinkAdded:
				kind = netstate.EventVPNUp
			case netstate.EventLinkDown, netstate.EventLinkGone:
				kind = netstate.EventVPNDown
			}
		} else if l := prev.Link(link); l != nil && l.Kind == netstate.KindVPN && kind == netstate.EventLinkGone {
			kind = netstate.EventVPNDown
		}
		out = append(out, netstate.Event{Time: now, Kind: kind, Link: link, Level: level, Text: fmt.Sprintf(format, a...)})
	}
	d := netstate.Diff(prev, next)
	for _, l := range d.Added {
		add(netstate.EventLinkAdded, l.ID, l.Level, "%s %s appeared", l.Kind.Label(), name(&l))
	}
	for _, l := range d.Removed {
		add(netstate.EventLinkGone, l.ID, netstate.LevelUnknown, "%s %s removed", l.Kind.Label(), name(&l))
	}
	for _, c := range d.Changed {
		o, n := c.Old, c.New
		if c.Has("carrier") && o.Carrier != netstate.Unknown {
			if n.Carrier == netstate.No {
				add(netstate.EventLinkDown, n.ID, netstate.LevelRed, "%s %s: carrier lost (cable unplugged?)", n.Kind.Label(), name(&n))
			} else if n.Carrier == netstate.Yes {
				add(netstate.EventLinkUp, n.ID, n.Level, "%s %s: carrier back", n.Kind.Label(), name(&n))
			}
		}
		if c.Has("state") {
			switch {
			case n.State == netstate.StateConnected:
				add(netstate.EventLinkUp, n.ID, n.Level, "%s connected", netstate.Describe(&n))
			case o.State == netstate.StateConnected:
				why := ""
				if n.StateReason != "" {
					why = " (" + n.StateReason + ")"
				}
				add(netstate.EventLinkDown, n.ID, netstate.LevelRed, "%s %s %s%s", n.Kind.Label(), name(&n), n.State, why)
			case o.State == netstate.StateFailed && o.StateReason == "" && n.State != netstate.StateFailed:
				// The reason never came.
				add(netstate.EventLinkDown, n.ID, netstate.LevelRed, "%s %s: connection failed", n.Kind.Label(), name(&o))
			}
		}
		// NetworkManager's reason may follow the failed state in a signal
		// of its own: the failure is told once, with it.
		if n.State == netstate.StateFailed && n.StateReason != "" && (o.State != netstate.StateFailed || o.StateReason == "") {
			add(netstate.EventLinkDown, n.ID, netstate.LevelRed, "%s %s: connection failed: %s", n.Kind.Label(), name(&n), n.StateReason)
		}
		if c.Has("cell") && n.Kind == netstate.KindCellular {
			if o.Cell.Tech != n.Cell.Tech && n.Cell.Tech != netstate.TechUnknown && o.Cell.Tech != netstate.TechUnknown {
				add(netstate.EventLinkUp, n.ID, n.Radio, "%s: now %s (was %s)", name(&n), n.Cell.Tech.Label(), o.Cell.Tech.Label())
			}
			// Unknown is ModemManager's silence (going away, not said
			// yet), not news about the network.
			if o.Cell.Registration != n.Cell.Registration && n.Cell.Registration != netstate.RegUnknown {
				op := n.Cell.Operator
				if op == "" {
					op = "network"
				}
				add(netstate.EventLinkUp, n.ID, n.Radio, "%s: %s on %s", name(&n), n.Cell.Registration, op)
			}
		}
	}
	if d.ServicesChanged {
		for _, s := range next.Services {
			old := prev.Service(s.Name)
			if old != nil && old.Running == s.Running && old.Note == s.Note {
				continue
			}
			if old == nil && s.Running {
				continue // first sighting of a running service is not news
			}
			switch {
			case s.Running:
				add(netstate.EventService, "", netstate.LevelUnknown, "%s is running", s.Name)
			case s.Note != "":
				add(netstate.EventService, "", netstate.LevelAmber, "%s is %s: nothing is decided until it is back", s.Name, s.Note)
			default:
				add(netstate.EventService, "", netstate.LevelRed, "%s is not running", s.Name)
			}
		}
	}
	if d.PrimaryChanged && next.Primary != "" && prev.Primary != "" {
		add(netstate.EventLinkUp, next.Primary, next.Level, "Traffic now goes via %s", next.Path)
	}
	if prev.Level != next.Level {
		add(netstate.EventLevel, next.Primary, next.Level, "%s: %s", next.Level.Word(), next.Reason)
	}
	return out
}

func name(l *netstate.Link) string {
	if l.Interface != "" {
		return l.Interface
	}
	return l.ID
}
