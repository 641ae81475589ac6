// Package system is the real network source: NetworkManager and
// ModemManager followed over a private system-bus connection and merged
// into netstate snapshots, one per batch of D-Bus signals. Either daemon
// may be absent or restart; that is shown, not fatal.
package system

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/mm"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/nm"
	"github.com/fieldlink/fieldlink/backend/vpncheck"
)

// Options configure the source.
type Options struct {
	// Address of the bus; "" is the system bus ($DBUS_SYSTEM_BUS_ADDRESS
	// or the standard socket).
	Address string
	// Timeout bounds every D-Bus call (default bus.DefaultTimeout).
	Timeout time.Duration
	Modem   mm.Options
	// DemotedMetric is the route metric a demoted link gets (default 20000).
	DemotedMetric int64
}

// Source follows the real system.
type Source struct {
	opt  Options
	conn *bus.Conn
	nm   *nm.Client
	mm   *mm.Client

	wake chan struct{}

	mu       sync.Mutex
	mmSeen   bool
	since    map[string]sinceEntry
	reported map[string]bool
	// last is the picture NetworkManager last gave while it was running
	// and settled: it stands while NetworkManager restarts.
	last []netstate.Link
	// gone is when each link of last went missing from NetworkManager's
	// picture: it is kept a moment, since NetworkManager removes every
	// device just before it quits.
	gone map[string]time.Time
	// away is when NetworkManager was last seen leaving the bus.
	away time.Time
	// primary is last's link in charge.
	primary string
	// held: the last picture stood in for NetworkManager (away or
	// starting up).
	held bool
	// failing are device failures signalled but not yet told.
	failing map[dbus.ObjectPath]pendingFailure
	// devState is each device's state in the last picture, and
	// shownFailed the devices a picture showed failed before their
	// failure's signal came.
	devState    map[dbus.ObjectPath]uint32
	shownFailed map[dbus.ObjectPath]bool
}

// removalGrace is how long a link that vanished from NetworkManager's
// picture is kept as it was: NetworkManager, asked to stop, removes every
// device from the bus some 60 ms before it leaves the bus itself, and that
// must not read as every link failing.
const removalGrace = time.Second

// holdFor bounds how long the last picture stands in for a NetworkManager
// that left the bus: a restart takes seconds; after this it has stopped,
// and what it last said is no longer the system's picture.
const holdFor = time.Minute

type sinceEntry struct {
	state netstate.State
	at    time.Time
}

// New connects to the bus. It fails only when the bus itself is
// unreachable; missing daemons are part of the picture.
func New(opt Options) (*Source, error) {
	var conn *bus.Conn
	var err error
	if opt.Address != "" {
		conn, err = bus.Dial(opt.Address)
	} else {
		conn, err = bus.System()
	}
	if err != nil {
		return nil, fmt.Errorf("%w (is dbus running?): %w", ErrNoBus, err)
	}
	if opt.Timeout > 0 {
		conn.Timeout = opt.Timeout
	}
	if opt.DemotedMetric <= 0 {
		opt.DemotedMetric = 20000
	}
	if opt.Modem.SignalRate == 0 && !opt.Modem.Location3GPP && !opt.Modem.GPS {
		opt.Modem.Location3GPP = true
	}
	return &Source{opt: opt, conn: conn, nm: nm.New(conn), mm: mm.New(conn, opt.Modem),
		wake: make(chan struct{}, 1), since: map[string]sinceEntry{}, reported: map[string]bool{},
		failing: map[dbus.ObjectPath]pendingFailure{}, shownFailed: map[dbus.ObjectPath]bool{},
		gone: map[string]time.Time{}}, nil
}

// ErrNoBus is wrapped by New's error when there is no system bus.
var ErrNoBus = errors.New("cannot reach the system D-Bus")

// Name describes the source.
func (s *Source) Name() string { return "this device" }

// NM returns the NetworkManager client (for actions and tests).
func (s *Source) NM() *nm.Client { return s.nm }

// MM returns the ModemManager client.
func (s *Source) MM() *mm.Client { return s.mm }

// Conn returns the bus connection.
func (s *Source) Conn() *bus.Conn { return s.conn }

func (s *Source) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run follows both daemons until ctx ends, then removes its match rules
// and closes the connection.
func (s *Source) Run(ctx context.Context, emit func(netstate.Update)) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	// The first picture waits until both daemons have been looked at, so
	// that nobody is told "NetworkManager is not running" while it is
	// merely still being read.
	var loaded sync.WaitGroup
	allLoaded := make(chan struct{})
	for _, run := range []func(context.Context, func()) error{s.nm.Run, s.mm.Run} {
		wg.Add(1)
		loaded.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			changed := func() {
				once.Do(loaded.Done)
				s.poke()
			}
			if err := run(ctx, changed); err != nil && ctx.Err() == nil {
				once.Do(loaded.Done)
				errs <- err
			}
		}()
	}
	go func() { loaded.Wait(); close(allLoaded) }()
	select {
	case <-allLoaded:
	case <-ctx.Done():
	}
	defer func() {
		cancel()
		wg.Wait()
		s.conn.Close()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			return err
		case <-s.wake:
			emit(s.update(time.Now()))
		}
	}
}

// Close closes the bus connection (Run does this itself when it ends).
func (s *Source) Close() error { return s.conn.Close() }

// update builds the current picture and the events for new problems.
func (s *Source) update(now time.Time) netstate.Update {
	n := s.nm.Objects()
	m := s.mm.Objects()
	nmUp, mmUp := s.nm.Running(), s.mm.Running()
	s.mu.Lock()
	if mmUp {
		s.mmSeen = true
	}
	in := Input{NM: n, NMRunning: nmUp, Profiles: s.nm.Profiles(), MM: m, MMRunning: mmUp, EndedVPNs: s.nm.EndedVPNs(),
		TrackMM: s.mmSeen, DemotedMetric: s.opt.DemotedMetric}
	s.mu.Unlock()
	snap := Build(in, now)

	s.mu.Lock()
	defer s.mu.Unlock()
	// Settled: running, read in full (a restarted NetworkManager's objects
	// arrive a few milliseconds after its name), and done starting up.
	s.holdThroughRestarts(&snap, nmUp && n.Loaded && !n.Manager.Startup, now)
	for i := range snap.Links {
		l := &snap.Links[i]
		e, ok := s.since[l.ID]
		if !ok || e.state != l.State {
			e = sinceEntry{l.State, now}
			s.since[l.ID] = e
		}
		l.Since = e.at
	}
	evs := append(s.problemEvents(in, &snap, now), s.failureEvents(&n, &snap, now)...)
	return netstate.Update{Snapshot: snap, Events: evs}
}

// holdThroughRestarts keeps NetworkManager's last settled picture while it
// is away or starting up: the kernel keeps the links and routes meanwhile,
// and a picture being rebuilt (devices "disconnected" until taken over)
// must not read as links failing. A link that vanishes while
// NetworkManager runs is kept for removalGrace first. s.mu must be held.
func (s *Source) holdThroughRestarts(snap *netstate.Snapshot, settled bool, now time.Time) {
	svc := snap.Service("NetworkManager")
	if svc == nil {
		return
	}
	if !svc.Running {
		if s.away.IsZero() {
			s.away = now
			time.AfterFunc(holdFor, s.poke)
		}
		if now.Sub(s.away) >= holdFor {
			s.last = nil
		}
	} else {
		s.away = time.Time{}
	}
	if !settled {
		s.held = true
		note := netstate.NoteRestarting
		if svc.Running {
			note = netstate.NoteStartingUp
		}
		for i := range snap.Services {
			if snap.Services[i].Name == "NetworkManager" {
				snap.Services[i].Running, snap.Services[i].Note = false, note
			}
		}
		if len(s.last) == 0 {
			return // nothing seen yet: say what is known
		}
		fresh := map[string]netstate.Link{}
		for _, l := range snap.Links {
			fresh[l.ID] = l
		}
		links := make([]netstate.Link, 0, len(s.last))
		for _, l := range s.last {
			// ModemManager's figures stay live where it runs.
			if f, ok := fresh[l.ID]; ok && l.Kind == netstate.KindCellular {
				l.Signal, l.Cell.Registration, l.Cell.Tech = f.Signal, f.Cell.Registration, f.Cell.Tech
			}
			links = append(links, l)
		}
		snap.Links, snap.Primary = links, ""
		for _, l := range links {
			if l.Default {
				snap.Primary = l.ID
			}
		}
		return
	}
	present := map[string]bool{}
	for _, l := range snap.Links {
		present[l.ID] = true
		delete(s.gone, l.ID)
	}
	if s.held {
		s.held = false
		s.lostInRestart(snap, present)
	}
	var kept []netstate.Link
	for _, l := range s.last {
		if present[l.ID] {
			continue
		}
		since, ok := s.gone[l.ID]
		if !ok {
			since = now
			s.gone[l.ID] = now
			time.AfterFunc(removalGrace, s.poke)
		}
		if now.Sub(since) < removalGrace {
			kept = append(kept, l)
		} else {
			delete(s.gone, l.ID)
		}
	}
	for _, l := range kept {
		// A link in charge that vanished is still in charge until the
		// grace is over: the route has not moved.
		if l.ID == s.primary {
			snap.Primary = l.ID
			for i := range snap.Links {
				snap.Links[i].Default = false
			}
		}
	}
	if len(kept) > 0 {
		snap.Links = append(snap.Links, kept...)
		sortLinks(snap.Links)
	}
	s.last = make([]netstate.Link, 0, len(snap.Links))
	for _, l := range snap.Links {
		s.last = append(s.last, l.Clone())
	}
	s.primary = snap.Primary
}

// lostInRestart marks the VPNs the last picture had and the restarted
// NetworkManager has not: it never takes a VPN back (its plugin, which
// outlived it, is ended by ReapOrphanVPNs), and saying so at once spares
// the VPN keeper its wait for a reason that will not come.
func (s *Source) lostInRestart(snap *netstate.Snapshot, present map[string]bool) {
	for _, l := range s.last {
		if l.Kind != netstate.KindVPN || present[l.ID] || l.State != netstate.StateConnected {
			continue
		}
		l.State, l.StateReason, l.Default = netstate.StateDisconnected, "NetworkManager restarted without it", false
		l.Addresses, l.Gateway, l.DNS, l.Routes = nil, "", nil, nil
		snap.Links = append(snap.Links, l)
		present[l.ID] = true
	}
}

// problemEvents says, once each, what the daemons could not do: one line
// naming the service, the object and the operation; the full text goes
// with the event for the log and the details view.
func (s *Source) problemEvents(in Input, snap *netstate.Snapshot, now time.Time) []netstate.Event {
	var evs []netstate.Event
	if in.NMRunning {
		hasGSM := false
		for _, p := range in.Profiles {
			hasGSM = hasGSM || p.Type == "gsm"
		}
		for _, l := range snap.Links {
			key := "no-gsm-profile:" + l.ID
			if l.Kind == netstate.KindCellular && !hasGSM && !s.reported[key] {
				s.reported[key] = true
				evs = append(evs, netstate.Event{Time: now, Kind: netstate.EventService, Link: l.ID, Level: netstate.LevelAmber,
					Text: "Modem " + l.ID + " has no mobile data profile in NetworkManager: 'fieldlink apn --create' can add one"})
			}
		}
	}
	for _, err := range append(in.NM.Problems, in.MM.Problems...) {
		full := err.Error()
		if s.reported[full] || len(s.reported) > 500 {
			continue
		}
		s.reported[full] = true
		text := bus.OneLine(full)
		ev := netstate.Event{Time: now, Kind: netstate.EventService, Level: netstate.LevelAmber, Text: text}
		var cf *mm.CallFailed
		if errors.As(err, &cf) {
			for _, l := range snap.Links {
				if l.Kind == netstate.KindCellular && (l.Interface == cf.Modem || l.ID == cf.Modem || l.Model == cf.Modem ||
					"modem "+strings.TrimPrefix(l.ID, "modem:") == cf.Modem) {
					ev.Link = l.ID
				}
			}
		}
		var d interface{ Detail() string }
		switch {
		case errors.As(err, &d) && d.Detail() != text:
			ev.Detail = d.Detail()
		case text != full:
			ev.Detail = full
		}
		evs = append(evs, ev)
	}
	return evs
}

// Errors an action can return when the link is unknown.
var errNoLink = errors.New("no such link")

// Activate brings up a saved profile (by name or UUID).
func (s *Source) Activate(ctx context.Context, profile string) error {
	_, err := s.nm.Activate(ctx, profile, "")
	return err
}

// DiagnoseVPN says why a VPN profile did not connect, from what the
// device can check itself (vpncheck): its certificate files, and whether
// its server answers. "" when it finds nothing.
func (s *Source) DiagnoseVPN(ctx context.Context, profile string) string {
	for _, p := range s.nm.Profiles() {
		if p.ID == profile || p.UUID == profile {
			return vpncheck.Diagnose(ctx, vpncheck.Profile{Name: p.ID, Service: p.VPNService, Data: p.VPNData}, time.Now())
		}
	}
	return ""
}

// Deactivate takes a profile down.
func (s *Source) Deactivate(ctx context.Context, profile string) error {
	return s.nm.Deactivate(ctx, profile)
}

// SetDemoted moves a link's default route behind every other (a high
// route metric, applied in place), or back to its profile's own metric.
// Whether a link is demoted is then read back from its routes in every
// picture, never remembered: a re-plug, a profile change or a
// NetworkManager restart can undo a demotion.
func (s *Source) SetDemoted(ctx context.Context, linkID string, demoted bool) error {
	o := s.nm.Objects()
	d := o.DeviceByInterface(linkID)
	if d == nil {
		return fmt.Errorf("demote %s: %w", linkID, errNoLink)
	}
	metric := s.opt.DemotedMetric
	if !demoted {
		metric = s.profileMetric(o, d)
	}
	if err := s.nm.SetRouteMetric(ctx, d.Interface, metric); err != nil {
		return err
	}
	s.poke()
	return nil
}

// profileMetric is the route metric the device's active profile asks for
// (-1: NetworkManager's default for the device type).
func (s *Source) profileMetric(o nm.Objects, d *nm.Device) int64 {
	a, ok := o.Actives[d.Active]
	if !ok {
		return -1
	}
	for _, p := range s.nm.Profiles() {
		if p.Path == a.Connection {
			return p.RouteMetric
		}
	}
	return -1
}

// SendPIN gives ModemManager a SIM's PIN (Sim.SendPin); the PIN is not
// kept.
func (s *Source) SendPIN(ctx context.Context, simPath, pin string) error {
	if simPath == "" || simPath == "/" {
		return errors.New("ModemManager shows no SIM for this modem")
	}
	_, err := s.conn.Call(ctx, mm.Name, dbus.ObjectPath(simPath), "org.freedesktop.ModemManager1.Sim.SendPin", pin)
	return err
}
