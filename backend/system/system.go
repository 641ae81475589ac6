// Package system is the real network source: NetworkManager and
// ModemManager followed over a private system-bus connection and merged
// into netstate snapshots, one per batch of D-Bus signals. Either daemon
// may be absent or restart; that is shown, not fatal.
package system

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/mm"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/nm"
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
	return netstate.Update{Snapshot: snap, Events: s.problemEvents(in, &snap, now)}
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

// Input is everything Build merges.
type Input struct {
	NM        nm.Objects
	NMRunning bool
	Profiles  []nm.Profile
	MM        mm.Objects
	MMRunning bool
	// TrackMM shows ModemManager as a service (once seen, or when
	// NetworkManager has a modem): a laptop without a modem need not run it.
	TrackMM bool
	// DemotedMetric is the route metric of a demoted link: a link whose
	// default route is at or above it is demoted, whoever did it.
	DemotedMetric int64
	// EndedVPNs says how VPNs that are not active last ended.
	EndedVPNs map[string]nm.Ended
}

// Build merges NetworkManager's and ModemManager's views into a snapshot.
// It is a pure function, so it can be tested and benchmarked without a bus.
func Build(in Input, now time.Time) netstate.Snapshot {
	snap := netstate.Snapshot{Time: now, Source: "system", Connectivity: nm.Connectivity(in.NM.Manager.Connectivity)}
	if !in.NMRunning {
		snap.Connectivity = netstate.ConnUnknown
	}
	profileByPath := map[dbus.ObjectPath]nm.Profile{}
	for _, p := range in.Profiles {
		profileByPath[p.Path] = p
	}
	modems := map[dbus.ObjectPath]*mm.Modem{}
	for i := range in.MM.Modems {
		modems[in.MM.Modems[i].Path] = &in.MM.Modems[i]
	}
	matched := map[dbus.ObjectPath]bool{}
	hasModemDevice := false

	for i := range in.NM.Devices {
		d := &in.NM.Devices[i]
		kind, ok := nm.Kind(d.Type)
		if !ok || kind == netstate.KindVPN || (d.Type == nm.TypeVeth && d.State == 10) {
			continue
		}
		l := netstate.Link{ID: d.Interface, Kind: kind, Interface: d.Interface, State: nm.LinkState(d.State),
			Metered: nm.Metered(d.Metered), Connectivity: nm.Connectivity(d.IP4Connectivity)}
		if l.State != netstate.StateConnected && l.State != netstate.StateConnecting {
			l.StateReason = nm.ReasonText(d.Reason)
			if d.Reason == 39 || d.Reason == 2 || d.Reason == 40 {
				l.StateReason = "" // routine, not news
			}
		}
		if d.IPInterface != "" && d.IPInterface != d.Interface {
			l.Interface = d.IPInterface
		}
		if d.Carrier != nil {
			l.Carrier = netstate.Bool(*d.Carrier)
		}
		for _, p := range d.Available {
			if pr, ok := profileByPath[p]; ok && pr.ID != "" {
				l.Profiles = append(l.Profiles, pr.ID)
			}
		}
		sort.Strings(l.Profiles)
		metric := int64(-1)
		if a, ok := in.NM.Actives[d.Active]; ok {
			l.Profile, l.ProfileUUID = a.ID, a.UUID
			l.Default = a.Default || a.Path == in.NM.Manager.Primary
			if ip, ok := in.NM.IP4[a.IP4]; ok && a.IP4 != "" {
				l.Addresses, l.Gateway, metric = ip.Addresses, ip.Gateway, ip.DefaultMetric
			}
		}
		if ip, ok := in.NM.IP4[d.IP4]; ok && d.IP4 != "" {
			if len(l.Addresses) == 0 {
				l.Addresses, l.Gateway = ip.Addresses, ip.Gateway
			}
			if metric < 0 {
				metric = ip.DefaultMetric
			}
		}
		if l.State == netstate.StateConnected && metric >= 0 {
			l.RouteMetric, l.HasRoute = metric, true
			l.Demoted = in.DemotedMetric > 0 && metric >= in.DemotedMetric
		}
		switch kind {
		case netstate.KindWiFi:
			fillWiFi(&l, d, in.NM.APs)
		case netstate.KindCellular:
			hasModemDevice = true
			if md, ok := modems[dbus.ObjectPath(d.Udi)]; ok {
				matched[md.Path] = true
				fillCell(&l, md)
				if md.PrimaryPort != "" {
					l.ID = md.PrimaryPort
				}
			} else if d.OperatorCode != "" {
				l.Cell.MCC, l.Cell.MNC = splitPLMN(d.OperatorCode)
			}
		}
		if !in.NMRunning {
			l.State, l.StateReason = netstate.StateUnknown, "NetworkManager is not running"
		}
		if l.Default && in.NMRunning {
			snap.Primary = l.ID
		}
		snap.Links = append(snap.Links, l)
	}
	for i := range in.MM.Modems {
		md := &in.MM.Modems[i]
		if matched[md.Path] {
			continue
		}
		id := md.PrimaryPort
		if id == "" {
			id = "modem:" + lastElem(md.Path)
		}
		l := netstate.Link{ID: id, Kind: netstate.KindCellular, Interface: md.PrimaryPort, State: md.LinkState()}
		if in.NMRunning {
			l.StateReason = "NetworkManager has no device for this modem"
		}
		fillCell(&l, md)
		snap.Links = append(snap.Links, l)
	}
	for _, a := range sortedActives(in.NM.Actives) {
		if !a.VPN && a.Type != "wireguard" {
			continue
		}
		l := netstate.Link{ID: "vpn:" + a.ID, Kind: netstate.KindVPN, Profile: a.ID, ProfileUUID: a.UUID,
			State: activeState(a)}
		if ip, ok := in.NM.IP4[a.IP4]; ok {
			l.Addresses, l.Gateway = ip.Addresses, ip.Gateway
		}
		snap.Links = append(snap.Links, l)
	}
	// A VPN that failed or dropped stays on the list, down, with
	// NetworkManager's reason: the one thing the user needs to read.
	for _, id := range sortedKeys(in.EndedVPNs) {
		if !in.NMRunning || snap.Link("vpn:"+id) != nil {
			continue
		}
		e := in.EndedVPNs[id]
		snap.Links = append(snap.Links, netstate.Link{ID: "vpn:" + id, Kind: netstate.KindVPN, Profile: id, ProfileUUID: e.UUID,
			State: netstate.StateDisconnected, StateReason: nm.ActiveReason(e.Reason)})
	}

	routePrimary(&snap)
	sortLinks(snap.Links)
	snap.Services = []netstate.Service{{Name: "NetworkManager", Running: in.NMRunning}}
	if in.TrackMM || hasModemDevice || in.MMRunning {
		svc := netstate.Service{Name: "ModemManager", Running: in.MMRunning}
		snap.Services = append(snap.Services, svc)
	}
	if snap.Primary == "" && in.NMRunning {
		// An older NetworkManager may not mark Default; fall back to the
		// manager's primary connection.
		if a, ok := in.NM.Actives[in.NM.Manager.Primary]; ok && len(a.Devices) > 0 {
			if d := in.NM.Device(a.Devices[0]); d != nil {
				for i := range snap.Links {
					if snap.Links[i].Interface == d.Interface || snap.Links[i].ID == d.Interface {
						snap.Primary = snap.Links[i].ID
						snap.Links[i].Default = true
					}
				}
			}
		}
	}
	return snap
}

// routePrimary puts the work where the kernel sends it: on the connected
// link whose default route has the lowest metric, as NetworkManager's
// route data say. NetworkManager's own Default flag can lag a metric
// fieldlink changed, or follow its restarted picture rather than the
// routes it left; it decides only when no link reports its routes.
func routePrimary(snap *netstate.Snapshot) {
	best := -1
	for i := range snap.Links {
		l := &snap.Links[i]
		if l.Kind == netstate.KindVPN || l.State != netstate.StateConnected || !l.HasRoute {
			continue
		}
		if best < 0 || l.RouteMetric < snap.Links[best].RouteMetric {
			best = i
		}
	}
	if best < 0 {
		return
	}
	for i := range snap.Links {
		if snap.Links[i].Kind != netstate.KindVPN {
			snap.Links[i].Default = i == best
		}
	}
	snap.Primary = snap.Links[best].ID
}

// sortLinks orders links as a clinician reads them: wired, Wi-Fi,
// cellular, VPN, whatever order the daemons list their objects in.
func sortLinks(links []netstate.Link) {
	rank := map[netstate.Kind]int{netstate.KindEthernet: 0, netstate.KindWiFi: 1, netstate.KindCellular: 2, netstate.KindVPN: 3, netstate.KindOther: 4}
	sort.SliceStable(links, func(i, j int) bool {
		a, b := &links[i], &links[j]
		if rank[a.Kind] != rank[b.Kind] {
			return rank[a.Kind] < rank[b.Kind]
		}
		return a.ID < b.ID
	})
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedActives(m map[dbus.ObjectPath]nm.Active) []nm.Active {
	out := make([]nm.Active, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func activeState(a nm.Active) netstate.State {
	switch a.State {
	case 1:
		return netstate.StateConnecting
	case 2:
		return netstate.StateConnected
	case 3:
		return netstate.StateDisconnecting
	case 4:
		return netstate.StateDisconnected
	}
	return netstate.StateUnknown
}

func lastElem(p dbus.ObjectPath) string {
	s := string(p)
	return s[strings.LastIndexByte(s, '/')+1:]
}

func splitPLMN(code string) (string, string) {
	if len(code) < 5 || len(code) > 6 {
		return "", ""
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return "", ""
		}
	}
	return code[:3], code[3:]
}

func fillWiFi(l *netstate.Link, d *nm.Device, aps map[dbus.ObjectPath]nm.AP) {
	if ap, ok := aps[d.ActiveAP]; ok && d.ActiveAP != "" {
		l.WiFi.SSID, l.WiFi.BSSID, l.WiFi.FrequencyMHz, l.WiFi.Security = ap.SSID, ap.BSSID, ap.Frequency, ap.Security()
		l.Signal.Strength = netstate.Some(float64(ap.Strength))
	}
	// One row per network name, the strongest access point of each, as a
	// clinician thinks of "networks" rather than radios.
	best := map[string]netstate.AccessPoint{}
	for _, p := range d.APs {
		ap, ok := aps[p]
		if !ok || ap.SSID == "" {
			continue
		}
		cur, seen := best[ap.SSID]
		active := p == d.ActiveAP
		if !seen || ap.Strength > cur.Strength || active {
			best[ap.SSID] = netstate.AccessPoint{SSID: ap.SSID, BSSID: ap.BSSID, Strength: ap.Strength,
				FrequencyMHz: ap.Frequency, Security: ap.Security(), Active: active || cur.Active}
		}
	}
	for _, ap := range best {
		l.WiFi.AccessPoints = append(l.WiFi.AccessPoints, ap)
	}
	sort.Slice(l.WiFi.AccessPoints, func(i, j int) bool {
		a, b := l.WiFi.AccessPoints[i], l.WiFi.AccessPoints[j]
		if a.Strength != b.Strength {
			return a.Strength > b.Strength
		}
		return a.SSID < b.SSID
	})
	if len(l.WiFi.AccessPoints) > 30 {
		l.WiFi.AccessPoints = l.WiFi.AccessPoints[:30]
	}
}

func fillCell(l *netstate.Link, md *mm.Modem) {
	l.Model = strings.TrimSpace(md.Manufacturer + " " + md.Model)
	c := &l.Cell
	c.Operator = md.Operator
	c.MCC, c.MNC = splitPLMN(md.OperatorCode)
	if md.MCC != "" && c.MCC == "" {
		c.MCC, c.MNC = md.MCC, md.MNC
	}
	c.Tech = md.Tech()
	c.Registration = md.RegistrationState()
	if !md.Has3GPP {
		c.Registration = netstate.RegUnknown
	}
	c.ModemState = md.StateName()
	c.FailedReason = md.FailedText()
	c.LAC, c.CellID, c.TAC = md.LAC, md.CellID, md.TAC
	if c.Tech == netstate.TechLTE || c.Tech == netstate.Tech5GNR {
		c.LAC = "" // LTE and NR have tracking areas, not location areas
	} else {
		c.TAC = ""
	}
	c.Latitude, c.Longitude = md.Latitude, md.Longitude
	c.SIM = netstate.SIMInfo{Operator: md.SimOperator}
	c.SIM.MCC, c.SIM.MNC = splitPLMN(md.SimCode)
	l.Signal = md.Signal
	if l.Interface == "" {
		l.Interface = md.PrimaryPort
	}
}

// Errors an action can return when the link is unknown.
var errNoLink = errors.New("no such link")

// Activate brings up a saved profile (by name or UUID).
func (s *Source) Activate(ctx context.Context, profile string) error {
	_, err := s.nm.Activate(ctx, profile, "")
	return err
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
