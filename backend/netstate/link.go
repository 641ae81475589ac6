package netstate

import (
	"slices"
	"strconv"
	"time"
)

// Link is one way out of the device: a wired port, a Wi-Fi radio, a modem or
// a VPN, with everything fieldlink knows about it right now.
type Link struct {
	// ID is stable for the life of the device: the interface name for
	// NetworkManager devices, "modem:<n>" for a modem without one.
	ID          string    `json:"id"`
	Kind        Kind      `json:"kind"`
	Interface   string    `json:"interface,omitempty"`
	Model       string    `json:"model,omitempty"`
	State       State     `json:"state"`
	StateReason string    `json:"state_reason,omitempty"`
	Since       time.Time `json:"since,omitzero"`
	Carrier     Tristate  `json:"carrier"`
	// Profile is the NetworkManager connection active on the link, if any.
	Profile     string `json:"profile,omitempty"`
	ProfileUUID string `json:"profile_uuid,omitempty"`
	// Profiles lists the saved profiles that can be activated on the link.
	Profiles []string `json:"profiles,omitempty"`
	// Brings are the connections the link's profiles start with them
	// (NetworkManager's connection.secondaries, set by IT).
	Brings    []Secondary `json:"brings,omitempty"`
	Addresses []string    `json:"addresses,omitempty"`
	Gateway   string      `json:"gateway,omitempty"`
	// Server is where a VPN connects to (its profile's remote or gateway):
	// the first thing a technician checks when a tunnel will not come up.
	Server string `json:"server,omitempty"`
	// DNS are the link's name servers and Routes its IPv4 routes, as
	// NetworkManager has them: what a technician asks first.
	DNS     []string `json:"dns,omitempty"`
	Routes  []Route  `json:"routes,omitempty"`
	Default bool     `json:"default_route"`
	Metered Tristate `json:"metered"`
	Demoted bool     `json:"demoted,omitempty"`
	// RouteMetric is the metric of the link's default route as the kernel
	// has it (NetworkManager's route data), when HasRoute.
	RouteMetric  int64        `json:"route_metric,omitempty"`
	HasRoute     bool         `json:"-"`
	Connectivity Connectivity `json:"connectivity"`
	WiFi         WiFi         `json:"wifi,omitzero"`
	Cell         Cell         `json:"cellular,omitzero"`
	Signal       Signal       `json:"signal,omitzero"`
	Probe        Probe        `json:"probe,omitzero"`
	// Area is the area map's name for where the link is ("Northfield"),
	// "" where the map has none or there is no map.
	Area string `json:"area,omitempty"`
	// Radio is the level of the radio figures alone (unknown for wired);
	// Level is whether work can go over the link now, and Reason says why.
	Radio  Level  `json:"radio_level"`
	Level  Level  `json:"level"`
	Reason string `json:"reason"`
}

// WiFi is what a Wi-Fi link knows beyond the common fields.
type WiFi struct {
	SSID         string        `json:"ssid,omitempty"`
	BSSID        string        `json:"bssid,omitempty"`
	FrequencyMHz uint32        `json:"frequency_mhz,omitempty"`
	Security     string        `json:"security,omitempty"`
	AccessPoints []AccessPoint `json:"access_points,omitempty"`
}

// IsZero lets `omitzero` drop the section from non-Wi-Fi links.
func (w WiFi) IsZero() bool {
	return w.SSID == "" && w.BSSID == "" && w.FrequencyMHz == 0 && w.Security == "" && len(w.AccessPoints) == 0
}

// Equal compares two Wi-Fi sections, access points in order.
func (w WiFi) Equal(o WiFi) bool {
	return w.SSID == o.SSID && w.BSSID == o.BSSID && w.FrequencyMHz == o.FrequencyMHz &&
		w.Security == o.Security && slices.Equal(w.AccessPoints, o.AccessPoints)
}

// AccessPoint is one visible Wi-Fi network.
type AccessPoint struct {
	SSID         string `json:"ssid"`
	BSSID        string `json:"bssid,omitempty"`
	Strength     uint8  `json:"strength_pct"`
	FrequencyMHz uint32 `json:"frequency_mhz,omitempty"`
	Security     string `json:"security,omitempty"`
	Active       bool   `json:"active,omitempty"`
	// Saved: NetworkManager has a profile for the network, so joining it
	// asks nothing.
	Saved bool `json:"saved,omitempty"`
}

// Cell is what a cellular link knows: the network it is on and where.
type Cell struct {
	Operator     string       `json:"operator,omitempty"`
	MCC          string       `json:"mcc,omitempty"`
	MNC          string       `json:"mnc,omitempty"`
	Tech         Tech         `json:"technology"`
	Registration Registration `json:"registration"`
	ModemState   string       `json:"modem_state,omitempty"`
	FailedReason string       `json:"failed_reason,omitempty"`
	// LAC/TAC and CellID are hex strings as the network gives them; they
	// are the "area" of the reports.
	LAC       string  `json:"lac,omitempty"`
	TAC       string  `json:"tac,omitempty"`
	CellID    string  `json:"cell_id,omitempty"`
	Latitude  Figure  `json:"latitude,omitzero"`
	Longitude Figure  `json:"longitude,omitzero"`
	SIM       SIMInfo `json:"sim,omitzero"`
	// Lock is what the SIM waits for before the modem can register
	// ("sim-pin", "sim-puk"; "" when none), and PINTries the tries left
	// before the SIM locks harder (-1: not known).
	Lock     string `json:"sim_lock,omitempty"`
	PINTries int    `json:"pin_tries,omitempty"`
	// SIMPath is ModemManager's object for the SIM (for SendPin).
	SIMPath string `json:"-"`
}

// SIMInfo is the part of a SIM that selects an APN: never its secrets.
type SIMInfo struct {
	Operator string `json:"operator,omitempty"`
	MCC      string `json:"mcc,omitempty"`
	MNC      string `json:"mnc,omitempty"`
}

// IsZero lets `omitzero` drop the section from non-cellular links.
func (c Cell) IsZero() bool { return c == Cell{} }

// Roaming reports whether the modem is registered on a visited network.
func (c Cell) Roaming() bool { return c.Registration == RegRoaming }

// Signal holds the radio figures; each may be absent.
type Signal struct {
	Strength Figure `json:"strength_pct,omitzero"` // Wi-Fi, 0–100
	Quality  Figure `json:"quality_pct,omitzero"`  // modem's coarse figure, 0–100
	RSSI     Figure `json:"rssi_dbm,omitzero"`
	RSRP     Figure `json:"rsrp_dbm,omitzero"`
	RSRQ     Figure `json:"rsrq_db,omitzero"`
	SINR     Figure `json:"sinr_db,omitzero"`
	RSCP     Figure `json:"rscp_dbm,omitzero"`
	EcIo     Figure `json:"ecio_db,omitzero"`
	// QualityCached: ModemManager says Quality is not recent (its own
	// SignalQuality flag): the figure is shown as cached and not trusted
	// for the light.
	QualityCached bool `json:"quality_cached,omitempty"`
}

// IsZero lets `omitzero` drop an empty signal section.
func (s Signal) IsZero() bool { return s == Signal{} }

// Probe is the latest reachability check over a link.
type Probe struct {
	Checked time.Time `json:"checked,omitzero"`
	// OK is unknown until a probe has run.
	OK       Tristate `json:"ok"`
	RTT      Figure   `json:"rtt_ms,omitzero"`
	Loss     Figure   `json:"loss_pct,omitzero"`
	Reason   string   `json:"reason,omitempty"`
	Portal   bool     `json:"portal,omitempty"`
	Target   string   `json:"target,omitempty"`
	Bound    bool     `json:"bound,omitempty"`
	Failures int      `json:"consecutive_failures,omitempty"`
	// BytesToday is what probing this link has cost today (UTC), both
	// ways and headers included: on a SIM paid by the gigabyte, money.
	BytesToday int64 `json:"probe_bytes_today,omitempty"`
	// Traffic is when the link's own traffic was last seen answered: a
	// check that cost nothing (told at the pace of the idle rounds it
	// stands in for).
	Traffic time.Time `json:"traffic_answered,omitzero"`
}

// IsZero lets `omitzero` drop a probe that never ran.
func (p Probe) IsZero() bool { return p == Probe{} }

// Equal compares probes; times compare as instants.
func (p Probe) Equal(o Probe) bool {
	pc, oc, pt, ot := p.Checked, o.Checked, p.Traffic, o.Traffic
	p.Checked, o.Checked, p.Traffic, o.Traffic = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return p == o && pc.Equal(oc) && pt.Equal(ot)
}

// Connected reports whether the link carries (or can carry) traffic now.
func (l *Link) Connected() bool { return l.State == StateConnected }

// Verified reports whether traffic is known to get through: a probe
// passed, or (before any probe) NetworkManager's own check said so.
func (l *Link) Verified() bool {
	return l.Probe.OK == Yes || (l.Probe.OK == Unknown && l.Connectivity == ConnFull)
}

// Workable reports whether a clinician could work over the link: connected,
// at least amber, and traffic known to get through.
func (l *Link) Workable() bool {
	return l.State == StateConnected && l.Level >= LevelAmber && l.Verified()
}

// Equal compares every field of two links.
func (l *Link) Equal(o *Link) bool {
	return l.ID == o.ID && l.Kind == o.Kind && l.Interface == o.Interface && l.Model == o.Model &&
		l.State == o.State && l.StateReason == o.StateReason && l.Since.Equal(o.Since) &&
		l.Carrier == o.Carrier && l.Profile == o.Profile && l.ProfileUUID == o.ProfileUUID &&
		slices.Equal(l.Profiles, o.Profiles) && slices.Equal(l.Brings, o.Brings) && slices.Equal(l.Addresses, o.Addresses) &&
		l.Gateway == o.Gateway && l.Server == o.Server && slices.Equal(l.DNS, o.DNS) && slices.Equal(l.Routes, o.Routes) && l.Default == o.Default && l.Metered == o.Metered &&
		l.Demoted == o.Demoted && l.RouteMetric == o.RouteMetric && l.HasRoute == o.HasRoute &&
		l.Connectivity == o.Connectivity && l.WiFi.Equal(o.WiFi) &&
		l.Cell == o.Cell && l.Signal == o.Signal && l.Probe.Equal(o.Probe) &&
		l.Radio == o.Radio && l.Level == o.Level && l.Reason == o.Reason && l.Area == o.Area
}

// Clone returns a copy that shares no slices with l.
func (l Link) Clone() Link {
	l.Profiles = slices.Clone(l.Profiles)
	l.Brings = slices.Clone(l.Brings)
	l.Addresses = slices.Clone(l.Addresses)
	l.DNS = slices.Clone(l.DNS)
	l.Routes = slices.Clone(l.Routes)
	l.WiFi.AccessPoints = slices.Clone(l.WiFi.AccessPoints)
	return l
}

// Route is one IPv4 route of a link: "0.0.0.0/0" is the default.
type Route struct {
	Dest    string `json:"dest"`
	NextHop string `json:"next_hop,omitempty"`
	Metric  uint32 `json:"metric"`
}

// String is "default via 10.99.0.1 metric 100", "10.8.0.0/24 metric 50".
func (r Route) String() string {
	d := r.Dest
	if d == "0.0.0.0/0" {
		d = "default"
	}
	if r.NextHop != "" {
		d += " via " + r.NextHop
	}
	return d + " metric " + strconv.FormatUint(uint64(r.Metric), 10)
}

// Secondary is a connection a profile starts with it: Profile (the
// link's) brings UUID (a VPN's profile).
type Secondary struct {
	Profile string `json:"profile"`
	UUID    string `json:"uuid"`
}

// Service is a system service fieldlink depends on.
type Service struct {
	Name    string `json:"name"`
	Running bool   `json:"running"`
	Note    string `json:"note,omitempty"`
}

// Notes on a service that is not (yet) there: its links stand as it last
// reported them, and nothing is decided on them.
const (
	// NoteRestarting: it left the bus; the kernel keeps its links and
	// routes meanwhile.
	NoteRestarting = "restarting"
	// NoteStartingUp: it is back but still taking its links over.
	NoteStartingUp = "starting up"
)
