package system

import (
	"sort"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/mm"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/nm"
)

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
	if !in.NMRunning || (snap.Connectivity == netstate.ConnFull && !in.NM.Manager.Checks) {
		snap.Connectivity = netstate.ConnUnknown
	}
	b := newBuilder(in)
	for i := range in.NM.Devices {
		if l, ok := b.deviceLink(&in.NM.Devices[i]); ok {
			if l.Default && in.NMRunning {
				snap.Primary = l.ID
			}
			snap.Links = append(snap.Links, l)
		}
	}
	snap.Links = append(snap.Links, b.unmatchedModems()...)
	snap.Links = append(snap.Links, b.vpnLinks(&snap)...)
	routePrimary(&snap)
	sortLinks(snap.Links)
	snap.Services = []netstate.Service{{Name: "NetworkManager", Running: in.NMRunning}}
	if in.TrackMM || b.hasModemDevice || in.MMRunning {
		snap.Services = append(snap.Services, netstate.Service{Name: "ModemManager", Running: in.MMRunning})
	}
	if snap.Primary == "" && in.NMRunning {
		managerPrimary(&snap, &in.NM)
	}
	return snap
}

// builder holds the lookups of one Build.
type builder struct {
	in             Input
	profileByPath  map[dbus.ObjectPath]nm.Profile
	modems         map[dbus.ObjectPath]*mm.Modem
	matched        map[dbus.ObjectPath]bool // modems NetworkManager has a device for
	hasModemDevice bool
}

func newBuilder(in Input) *builder {
	b := &builder{in: in, profileByPath: map[dbus.ObjectPath]nm.Profile{}, modems: map[dbus.ObjectPath]*mm.Modem{},
		matched: map[dbus.ObjectPath]bool{}}
	for _, p := range in.Profiles {
		b.profileByPath[p.Path] = p
	}
	for i := range in.MM.Modems {
		b.modems[in.MM.Modems[i].Path] = &in.MM.Modems[i]
	}
	return b
}

// deviceLink is a NetworkManager device as a link: its state, profiles,
// addresses and route, and its radio (Wi-Fi access points, the modem
// ModemManager has for it). Devices that are no link (a VPN's tun, an
// unmanaged veth) are left out.
func (b *builder) deviceLink(d *nm.Device) (netstate.Link, bool) {
	kind, ok := nm.Kind(d.Type)
	if !ok || kind == netstate.KindVPN || (d.Type == nm.TypeVeth && d.State == 10) {
		return netstate.Link{}, false
	}
	l := netstate.Link{ID: d.Interface, Kind: kind, Interface: d.Interface, State: nm.LinkState(d.State),
		Metered: nm.Metered(d.Metered), Connectivity: nm.Connectivity(d.IP4Connectivity)}
	if l.Connectivity == netstate.ConnFull && !b.in.NM.Manager.Checks {
		// NetworkManager's unchecked "full" only means a default route:
		// GO must come from a passing check.
		l.Connectivity = netstate.ConnUnknown
	}
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
		if pr, ok := b.profileByPath[p]; ok && pr.ID != "" {
			l.Profiles = append(l.Profiles, pr.ID)
			for _, u := range pr.Secondaries {
				l.Brings = append(l.Brings, netstate.Secondary{Profile: pr.ID, UUID: u})
			}
		}
	}
	sort.Strings(l.Profiles)
	b.fillRoute(&l, d)
	switch kind {
	case netstate.KindWiFi:
		fillWiFi(&l, d, b.in.NM.APs, b.savedSSIDs())
	case netstate.KindCellular:
		b.hasModemDevice = true
		if md, ok := b.modems[dbus.ObjectPath(d.Udi)]; ok {
			b.matched[md.Path] = true
			fillCell(&l, md)
			if md.PrimaryPort != "" {
				l.ID = md.PrimaryPort
			}
		} else if d.OperatorCode != "" {
			l.Cell.MCC, l.Cell.MNC = splitPLMN(d.OperatorCode)
		}
	}
	if !b.in.NMRunning {
		l.State, l.StateReason = netstate.StateUnknown, "NetworkManager is not running"
	}
	return l, true
}

// fillRoute takes a device's profile, addresses and default-route metric
// from its active connection (else the device's own IPv4 config); a
// connected link whose default route is at the demoted metric is demoted,
// whoever did it.
func (b *builder) fillRoute(l *netstate.Link, d *nm.Device) {
	in := b.in
	metric := int64(-1)
	if a, ok := in.NM.Actives[d.Active]; ok {
		l.Profile, l.ProfileUUID = a.ID, a.UUID
		l.Default = a.Default || a.Path == in.NM.Manager.Primary
		if ip, ok := in.NM.IP4[a.IP4]; ok && a.IP4 != "" {
			l.Addresses, l.Gateway, metric = ip.Addresses, ip.Gateway, ip.DefaultMetric
			l.DNS, l.Routes = ip.DNS, ip.Routes
		}
	}
	if ip, ok := in.NM.IP4[d.IP4]; ok && d.IP4 != "" {
		if len(l.Addresses) == 0 {
			l.Addresses, l.Gateway = ip.Addresses, ip.Gateway
			l.DNS, l.Routes = ip.DNS, ip.Routes
		}
		if metric < 0 {
			metric = ip.DefaultMetric
		}
	}
	if l.State == netstate.StateConnected && metric >= 0 {
		l.RouteMetric, l.HasRoute = metric, true
		l.Demoted = in.DemotedMetric > 0 && metric >= in.DemotedMetric
	}
}

// unmatchedModems are ModemManager's modems NetworkManager has no device
// for: shown, with that said, so a technician sees the modem is there.
func (b *builder) unmatchedModems() []netstate.Link {
	var links []netstate.Link
	for i := range b.in.MM.Modems {
		md := &b.in.MM.Modems[i]
		if b.matched[md.Path] {
			continue
		}
		id := md.PrimaryPort
		if id == "" {
			id = "modem:" + lastElem(md.Path)
		}
		l := netstate.Link{ID: id, Kind: netstate.KindCellular, Interface: md.PrimaryPort, State: md.LinkState()}
		if b.in.NMRunning {
			l.StateReason = "NetworkManager has no device for this modem"
		}
		fillCell(&l, md)
		links = append(links, l)
	}
	return links
}

// vpnLinks are the active VPNs and WireGuard connections, then the VPNs
// that failed or dropped: those stay on the list, down, with
// NetworkManager's reason, the one thing the user needs to read.
func (b *builder) vpnLinks(snap *netstate.Snapshot) []netstate.Link {
	in := b.in
	var links []netstate.Link
	active := map[string]bool{}
	for _, a := range sortedActives(in.NM.Actives) {
		if !a.VPN && a.Type != "wireguard" {
			continue
		}
		l := netstate.Link{ID: "vpn:" + a.ID, Kind: netstate.KindVPN, Profile: a.ID, ProfileUUID: a.UUID,
			State: activeState(a), Server: b.profileByPath[a.Connection].VPNServer()}
		if l.State == netstate.StateConnecting {
			l.StateReason = nm.VPNStage(a.VPNState)
		}
		if ip, ok := in.NM.IP4[a.IP4]; ok {
			// The tunnel's address, and the routes and name servers the
			// VPN server pushed.
			l.Addresses, l.Gateway, l.DNS, l.Routes = ip.Addresses, ip.Gateway, ip.DNS, ip.Routes
		}
		links = append(links, l)
		active[l.ID] = true
	}
	for _, id := range sortedKeys(in.EndedVPNs) {
		if !in.NMRunning || active["vpn:"+id] || snap.Link("vpn:"+id) != nil {
			continue
		}
		e := in.EndedVPNs[id]
		links = append(links, netstate.Link{ID: "vpn:" + id, Kind: netstate.KindVPN, Profile: id, ProfileUUID: e.UUID,
			State: netstate.StateDisconnected, StateReason: nm.ActiveReason(e.Reason), Server: b.serverOf(e.UUID)})
	}
	return links
}

// serverOf is the VPN server of the saved profile with this UUID.
func (b *builder) serverOf(uuid string) string {
	for _, p := range b.in.Profiles {
		if p.UUID == uuid && uuid != "" {
			return p.VPNServer()
		}
	}
	return ""
}

// managerPrimary falls back to the manager's primary connection where no
// device marks Default (an older NetworkManager).
func managerPrimary(snap *netstate.Snapshot, o *nm.Objects) {
	a, ok := o.Actives[o.Manager.Primary]
	if !ok || len(a.Devices) == 0 {
		return
	}
	d := o.Device(a.Devices[0])
	if d == nil {
		return
	}
	for i := range snap.Links {
		if snap.Links[i].Interface == d.Interface || snap.Links[i].ID == d.Interface {
			snap.Primary = snap.Links[i].ID
			snap.Links[i].Default = true
		}
	}
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

// savedSSIDs are the networks NetworkManager has a Wi-Fi profile for.
func (b *builder) savedSSIDs() map[string]bool {
	out := map[string]bool{}
	for _, p := range b.in.Profiles {
		if p.Type == "802-11-wireless" && p.SSID != "" {
			out[p.SSID] = true
		}
	}
	return out
}

func fillWiFi(l *netstate.Link, d *nm.Device, aps map[dbus.ObjectPath]nm.AP, saved map[string]bool) {
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
				FrequencyMHz: ap.Frequency, Security: ap.Security(), Active: active || cur.Active, Saved: saved[ap.SSID]}
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
	l.Signal.QualityCached = md.QualityOK && !md.QualityRecent
	c.SIMPath = string(md.SimPath)
	switch md.Lock {
	case mm.LockSIMPIN:
		c.Lock = "sim-pin"
	case mm.LockSIMPUK:
		c.Lock = "sim-puk"
	}
	if c.Lock != "" {
		c.PINTries = -1
		if n, ok := md.Retries[md.Lock]; ok {
			c.PINTries = int(n)
		}
	}
	if l.Interface == "" {
		l.Interface = md.PrimaryPort
	}
}
