package system

import (
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/nm"
)

// pendingFailure is a failure NetworkManager signalled, waiting for the
// device's properties to catch up with the signal.
type pendingFailure struct {
	reason uint32
	since  time.Time
}

// failureWait bounds how long a failure waits for its device's properties:
// NetworkManager sends them within milliseconds of the signal; a device
// whose properties never arrive (NetworkManager gone) is not told about.
const failureWait = 5 * time.Second

// failureEvents tells the activations that failed too briefly to be seen.
// NetworkManager can go prepare, config, failed, disconnected in under a
// millisecond (a modem whose PPP cannot start), and a picture read after
// that shows only "disconnected": the failure and its reason would be
// lost. A failure a picture did show (the device failed) is left to the
// engine, which tells it from the picture; one no picture showed is told
// here, once the device's properties have caught up with its StateChanged
// signal. The signal and the properties come in either order, so each
// failure signalled is paired with a failed picture or told, never both.
// s.mu must be held.
func (s *Source) failureEvents(objs *nm.Objects, snap *netstate.Snapshot, now time.Time) []netstate.Event {
	s.pairShownFailures(objs)
	for _, f := range s.nm.TakeFailures() {
		if s.shownFailed[f.Device] {
			delete(s.shownFailed, f.Device) // the engine told it
			continue
		}
		s.failing[f.Device] = pendingFailure{reason: f.Reason, since: now}
	}
	var evs []netstate.Event
	for path, f := range s.failing {
		d := deviceAt(objs, path)
		if d == nil || now.Sub(f.since) > failureWait {
			delete(s.failing, path)
			continue
		}
		if signalled, ok := s.nm.SignalledState(path); ok && d.State != signalled {
			continue // its properties are on their way
		}
		delete(s.failing, path)
		if l := linkOfDevice(snap, d); l != nil {
			evs = append(evs, netstate.Event{Time: now, Kind: netstate.EventLinkDown, Link: l.ID, Level: netstate.LevelRed,
				Text: l.Kind.Label() + " " + linkName(l) + ": connection failed: " + nm.ReasonText(f.reason)})
		}
	}
	return evs
}

// pairShownFailures notes each device this picture shows newly failed: the
// engine tells that failure, so its signal, come or to come, is not told
// again. s.mu must be held.
func (s *Source) pairShownFailures(objs *nm.Objects) {
	seen := make(map[dbus.ObjectPath]uint32, len(objs.Devices))
	for _, d := range objs.Devices {
		seen[d.Path] = d.State
		if d.State != nm.StateFailed || s.devState[d.Path] == nm.StateFailed {
			continue
		}
		if _, ok := s.failing[d.Path]; ok {
			delete(s.failing, d.Path)
		} else {
			s.shownFailed[d.Path] = true
		}
	}
	s.devState = seen
	for p := range s.shownFailed {
		if _, ok := seen[p]; !ok {
			delete(s.shownFailed, p)
		}
	}
}

// deviceAt finds a device of the picture by its D-Bus path.
func deviceAt(objs *nm.Objects, path dbus.ObjectPath) *nm.Device {
	for i := range objs.Devices {
		if objs.Devices[i].Path == path {
			return &objs.Devices[i]
		}
	}
	return nil
}

// linkOfDevice finds the link Build made of a device: a modem's link is
// named by its port, a device's by its interface.
func linkOfDevice(snap *netstate.Snapshot, d *nm.Device) *netstate.Link {
	for i := range snap.Links {
		l := &snap.Links[i]
		if l.Kind == netstate.KindVPN {
			continue
		}
		if l.ID == d.Interface || (d.Interface != "" && l.Interface == d.Interface) ||
			(d.IPInterface != "" && l.Interface == d.IPInterface) {
			return l
		}
	}
	return nil
}

// linkName is how events name a link: its interface, else its ID.
func linkName(l *netstate.Link) string {
	if l.Interface != "" {
		return l.Interface
	}
	return l.ID
}
