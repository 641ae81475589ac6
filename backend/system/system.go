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
	demoted  map[string]bool
	reported map[string]bool
}

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
		wake: make(chan struct{}, 1), since: map[string]sinceEntry{}, demoted: map[string]bool{},
		reported: map[string]bool{}}, nil
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
		TrackMM: s.mmSeen, Demoted: copySet(s.demoted)}
	s.mu.Unlock()
	snap := Build(in, now)

	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range snap.Links {
		l := &snap.Links[i]
		e, ok := s.since[l.ID]
		if !ok || e.state != l.State {
			e = sinceEntry{l.State, now}
			s.since[l.ID] = e
		}
		l.Since = e.at
	}
	var evs []netstate.Event
	if nmUp {
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
	for _, err := range append(n.Problems, m.Problems...) {
		text := "D-Bus: " + err.Error()
		if s.reported[text] || len(s.reported) > 500 {
			continue
		}
		s.reported[text] = true
		evs = append(evs, netstate.Event{Time: now, Kind: netstate.EventService, Level: netstate.LevelAmber, Text: text})
	}
	return netstate.Update{Snapshot: snap, Events: evs}
}

func copySet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
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
	Demoted map[string]bool
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
			Metered: nm.Metered(d.Metered), Connectivity: nm.Connectivity(d.IP4Connectivity), Demoted: in.Demoted[d.Interface]}
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
		if a, ok := in.NM.Actives[d.Active]; ok {
			l.Profile, l.ProfileUUID = a.ID, a.UUID
			l.Default = a.Default || a.Path == in.NM.Manager.Primary
			if ip, ok := in.NM.IP4[a.IP4]; ok && a.IP4 != "" {
				l.Addresses, l.Gateway = ip.Addresses, ip.Gateway
			}
		}
		if ip, ok := in.NM.IP4[d.IP4]; ok && d.IP4 != "" && len(l.Addresses) == 0 {
			l.Addresses, l.Gateway = ip.Addresses, ip.Gateway
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

	// Wired, Wi-Fi, cellular, VPN: the order a clinician reads the list in,
	// stable whatever order the daemons list their objects.
	rank := map[netstate.Kind]int{netstate.KindEthernet: 0, netstate.KindWiFi: 1, netstate.KindCellular: 2, netstate.KindVPN: 3, netstate.KindOther: 4}
	sort.SliceStable(snap.Links, func(i, j int) bool {
		a, b := &snap.Links[i], &snap.Links[j]
		if rank[a.Kind] != rank[b.Kind] {
			return rank[a.Kind] < rank[b.Kind]
		}
		return a.ID < b.ID
	})
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
// route metric, applied in place) or restores NetworkManager's default.
func (s *Source) SetDemoted(ctx context.Context, linkID string, demoted bool) error {
	o := s.nm.Objects()
	d := o.DeviceByInterface(linkID)
	if d == nil {
		return fmt.Errorf("demote %s: %w", linkID, errNoLink)
	}
	metric := int64(-1) // NetworkManager's default for the device type
	if demoted {
		metric = s.opt.DemotedMetric
	}
	// Record the intent first: the route change arrives as a signal, and the
	// snapshot it triggers must already say why the route moved.
	s.mu.Lock()
	was := s.demoted[linkID]
	s.setDemoted(linkID, demoted)
	s.mu.Unlock()
	if err := s.nm.SetRouteMetric(ctx, d.Interface, metric); err != nil {
		s.mu.Lock()
		s.setDemoted(linkID, was)
		s.mu.Unlock()
		return err
	}
	s.poke()
	return nil
}

func (s *Source) setDemoted(id string, on bool) {
	if on {
		s.demoted[id] = true
	} else {
		delete(s.demoted, id)
	}
}
