// Package nm is fieldlink's NetworkManager client: it mirrors
// NetworkManager's objects over D-Bus (event-driven, no polling), decodes
// them into typed values at the edge, and carries out actions (activate,
// deactivate, scan, reapply) with errors that say what to do.
package nm

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// D-Bus names, from ../shared/dbus-api/networkmanager.
const (
	Name         = "org.freedesktop.NetworkManager"
	Path         = dbus.ObjectPath("/org/freedesktop/NetworkManager")
	Root         = dbus.ObjectPath("/org/freedesktop")
	SettingsPath = dbus.ObjectPath("/org/freedesktop/NetworkManager/Settings")

	ifaceManager    = "org.freedesktop.NetworkManager"
	ifaceDevice     = ifaceManager + ".Device"
	ifaceWired      = ifaceManager + ".Device.Wired"
	ifaceWireless   = ifaceManager + ".Device.Wireless"
	ifaceModem      = ifaceManager + ".Device.Modem"
	ifaceAP         = ifaceManager + ".AccessPoint"
	ifaceActive     = ifaceManager + ".Connection.Active"
	ifaceIP4        = ifaceManager + ".IP4Config"
	ifaceSettings   = ifaceManager + ".Settings"
	ifaceConnection = ifaceManager + ".Settings.Connection"
	ifaceVPN        = ifaceManager + ".VPN.Connection"
)

// Device types (NMDeviceType) fieldlink shows.
const (
	TypeEthernet  = 1
	TypeWiFi      = 2
	TypeModem     = 8
	TypeTun       = 16
	TypeVeth      = 20
	TypeWireGuard = 29
)

// StateFailed is NM_DEVICE_STATE_FAILED.
const StateFailed = 120

// Manager is the NetworkManager object.
type Manager struct {
	Version         string
	State           uint32
	Connectivity    uint32
	Primary         dbus.ObjectPath
	Actives         []dbus.ObjectPath
	WirelessEnabled bool
	WwanEnabled     bool
	// Startup is true while NetworkManager is still taking over or
	// activating connections after it started: its picture is not yet
	// the system's.
	Startup bool
	// Checks is whether NetworkManager checks connectivity (a check URI
	// configured and checking enabled). Without it NetworkManager reports
	// "full" for any link with a default route: an assumption, not a
	// measurement.
	Checks bool
}

// Device is one NetworkManager device.
type Device struct {
	Path            dbus.ObjectPath
	Type            uint32
	Interface       string
	IPInterface     string
	Driver          string
	Udi             string
	State           uint32
	Reason          uint32
	Managed         bool
	Metered         uint32
	IP4Connectivity uint32
	Carrier         *bool
	Active          dbus.ObjectPath
	IP4             dbus.ObjectPath
	Available       []dbus.ObjectPath
	ActiveAP        dbus.ObjectPath
	APs             []dbus.ObjectPath
	OperatorCode    string
	APN             string
}

// AP is a Wi-Fi access point.
type AP struct {
	Path      dbus.ObjectPath
	SSID      string
	BSSID     string
	Strength  uint8
	Frequency uint32
	Flags     uint32
	WpaFlags  uint32
	RsnFlags  uint32
}

// Active is an active connection.
type Active struct {
	Path       dbus.ObjectPath
	Connection dbus.ObjectPath
	ID         string
	UUID       string
	Type       string
	Devices    []dbus.ObjectPath
	State      uint32
	Default    bool
	VPN        bool
	VPNState   uint32
	IP4        dbus.ObjectPath
}

// IP4 is an IPv4 configuration.
type IP4 struct {
	Addresses []string // "10.99.0.51/24"
	Gateway   string
	// DefaultMetric is the lowest metric of the default routes
	// NetworkManager has on the device, -1 when it has none: what the
	// kernel ranks the link by (a restarted NetworkManager may add its
	// profile's route beside one fieldlink moved).
	DefaultMetric int64
	DNS           []string
	Routes        []netstate.Route
}

// Objects is everything decoded from NetworkManager's objects.
type Objects struct {
	// Loaded: this is NetworkManager's full picture, not one still being
	// read after it (re)appeared on the bus.
	Loaded   bool
	Manager  Manager
	Devices  []Device // in path order
	APs      map[dbus.ObjectPath]AP
	Actives  map[dbus.ObjectPath]Active
	IP4      map[dbus.ObjectPath]IP4
	Problems []error
}

// Device returns the device at path, or nil.
func (o *Objects) Device(p dbus.ObjectPath) *Device {
	for i := range o.Devices {
		if o.Devices[i].Path == p {
			return &o.Devices[i]
		}
	}
	return nil
}

// Decode turns mirrored objects into typed values. It never panics: a
// property of the wrong type becomes a Problem naming object and property,
// and the value is left at its zero.
func Decode(objs bus.Objects) Objects {
	out := Objects{APs: map[dbus.ObjectPath]AP{}, Actives: map[dbus.ObjectPath]Active{}, IP4: map[dbus.ObjectPath]IP4{}}
	var problems []error
	reader := func(p dbus.ObjectPath, iface string) (*bus.Reader, bool) {
		m, ok := objs[p][iface]
		if !ok {
			return nil, false
		}
		return bus.NewReader(bus.Props{Path: p, Iface: iface, M: m}), true
	}
	keep := func(r *bus.Reader) { problems = append(problems, r.Errs...) }

	if r, ok := reader(Path, ifaceManager); ok {
		out.Manager.Version = r.String("Version")
		out.Manager.State, _ = r.Uint32("State")
		out.Manager.Connectivity, _ = r.Uint32("Connectivity")
		out.Manager.Primary = r.Path("PrimaryConnection")
		out.Manager.Actives, _ = r.Paths("ActiveConnections")
		out.Manager.WirelessEnabled, _ = r.Bool("WirelessEnabled")
		out.Manager.WwanEnabled, _ = r.Bool("WwanEnabled")
		out.Manager.Startup, _ = r.Bool("Startup")
		avail, okA := r.Bool("ConnectivityCheckAvailable")
		enabled, okE := r.Bool("ConnectivityCheckEnabled")
		// A NetworkManager older than both properties (1.10) checked
		// whenever it was configured to.
		out.Manager.Checks = (avail || !okA) && (enabled || !okE)
		keep(r)
	}
	paths := make([]dbus.ObjectPath, 0, len(objs))
	for p := range objs {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return paths[i] < paths[j] })
	for _, p := range paths {
		if r, ok := reader(p, ifaceDevice); ok {
			out.Devices = append(out.Devices, decodeDevice(objs, p, r, &problems))
			keep(r)
		}
		if r, ok := reader(p, ifaceAP); ok {
			out.APs[p] = decodeAP(p, r)
			keep(r)
		}
		if r, ok := reader(p, ifaceActive); ok {
			a := Active{Path: p, Connection: r.Path("Connection"), ID: r.String("Id"), UUID: r.String("Uuid"),
				Type: r.String("Type"), IP4: r.Path("Ip4Config")}
			a.Devices, _ = r.Paths("Devices")
			a.State, _ = r.Uint32("State")
			a.Default, _ = r.Bool("Default")
			a.VPN, _ = r.Bool("Vpn")
			keep(r)
			if v, ok := reader(p, ifaceVPN); ok {
				a.VPNState, _ = v.Uint32("VpnState")
				keep(v)
			}
			out.Actives[p] = a
		}
		if r, ok := reader(p, ifaceIP4); ok {
			out.IP4[p] = decodeIP4(r)
			keep(r)
		}
	}
	out.Problems = problems
	return out
}

func decodeDevice(objs bus.Objects, p dbus.ObjectPath, r *bus.Reader, problems *[]error) Device {
	d := Device{Path: p, Interface: r.String("Interface"), IPInterface: r.String("IpInterface"),
		Driver: r.String("Driver"), Udi: r.String("Udi"), Active: r.Path("ActiveConnection"), IP4: r.Path("Ip4Config")}
	d.Type, _ = r.Uint32("DeviceType")
	d.State, _ = r.Uint32("State")
	d.Managed, _ = r.Bool("Managed")
	d.Metered, _ = r.Uint32("Metered")
	d.IP4Connectivity, _ = r.Uint32("Ip4Connectivity")
	d.Available, _ = r.Paths("AvailableConnections")
	if f := r.Struct("StateReason", 2); f != nil {
		if v, ok := f[1].(uint32); ok {
			d.Reason = v
		} else {
			*problems = append(*problems, fmt.Errorf("%s %s.StateReason: want (uu), got a reason of type %T", p, ifaceDevice, f[1]))
		}
	}
	if m, ok := objs[p][ifaceWired]; ok {
		w := bus.NewReader(bus.Props{Path: p, Iface: ifaceWired, M: m})
		if c, ok := w.Bool("Carrier"); ok {
			d.Carrier = &c
		}
		*problems = append(*problems, w.Errs...)
	}
	if m, ok := objs[p][ifaceWireless]; ok {
		w := bus.NewReader(bus.Props{Path: p, Iface: ifaceWireless, M: m})
		d.ActiveAP = w.Path("ActiveAccessPoint")
		d.APs, _ = w.Paths("AccessPoints")
		*problems = append(*problems, w.Errs...)
	}
	if m, ok := objs[p][ifaceModem]; ok {
		w := bus.NewReader(bus.Props{Path: p, Iface: ifaceModem, M: m})
		d.OperatorCode = w.String("OperatorCode")
		d.APN = w.String("Apn")
		*problems = append(*problems, w.Errs...)
	}
	return d
}

func decodeAP(p dbus.ObjectPath, r *bus.Reader) AP {
	a := AP{Path: p, SSID: ssidString(r.Bytes("Ssid")), BSSID: r.String("HwAddress")}
	a.Strength, _ = r.Byte("Strength")
	a.Frequency, _ = r.Uint32("Frequency")
	a.Flags, _ = r.Uint32("Flags")
	a.WpaFlags, _ = r.Uint32("WpaFlags")
	a.RsnFlags, _ = r.Uint32("RsnFlags")
	return a
}

// ssidString shows an SSID safely: SSIDs are raw bytes and may hold
// anything, including terminal escape sequences.
func ssidString(b []byte) string {
	out := make([]rune, 0, len(b))
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\uFFFD' {
			r = '?'
		}
		out = append(out, r)
	}
	return string(out)
}

func decodeIP4(r *bus.Reader) IP4 {
	ip := IP4{DefaultMetric: -1}
	for _, d := range r.Dicts("AddressData") {
		dr := bus.NewReader(d)
		addr := dr.String("address")
		prefix, ok := dr.Uint32("prefix")
		if a, err := netip.ParseAddr(addr); err == nil && ok && prefix <= 32 {
			ip.Addresses = append(ip.Addresses, netip.PrefixFrom(a, int(prefix)).String())
		}
		r.Errs = append(r.Errs, dr.Errs...)
	}
	if g := r.String("Gateway"); g != "" {
		if _, err := netip.ParseAddr(g); err == nil {
			ip.Gateway = g
		}
	}
	for _, d := range r.Dicts("RouteData") {
		dr := bus.NewReader(d)
		dest := dr.String("dest")
		prefix, _ := dr.Uint32("prefix")
		metric, ok := dr.Uint32("metric")
		if dest == "0.0.0.0" && prefix == 0 && ok && (ip.DefaultMetric < 0 || int64(metric) < ip.DefaultMetric) {
			ip.DefaultMetric = int64(metric)
		}
		if a, err := netip.ParseAddr(dest); err == nil && prefix <= 32 {
			rt := netstate.Route{Dest: netip.PrefixFrom(a, int(prefix)).String(), Metric: metric}
			if nh, err := netip.ParseAddr(dr.String("next-hop")); err == nil {
				rt.NextHop = nh.String()
			}
			ip.Routes = append(ip.Routes, rt)
		}
		r.Errs = append(r.Errs, dr.Errs...)
	}
	ip.DNS = nameservers(r)
	return ip
}

// nameservers reads NameserverData (NetworkManager 1.14 on), else the
// older Nameservers (addresses as network-order integers).
func nameservers(r *bus.Reader) []string {
	var out []string
	for _, d := range r.Dicts("NameserverData") {
		dr := bus.NewReader(d)
		if a, err := netip.ParseAddr(dr.String("address")); err == nil {
			out = append(out, a.String())
		}
		r.Errs = append(r.Errs, dr.Errs...)
	}
	if len(out) > 0 {
		return out
	}
	if v, ok := r.P.M["Nameservers"]; ok {
		if ns, ok := v.Value().([]uint32); ok {
			for _, n := range ns {
				out = append(out, netip.AddrFrom4([4]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}).String())
			}
		}
	}
	return out
}

// Security names an access point's protection from its flags.
func (a AP) Security() string {
	f := a.WpaFlags | a.RsnFlags
	switch {
	case f&0x200 != 0:
		return "802.1x"
	case f&0x400 != 0:
		return "wpa3-sae"
	case f&0x100 != 0:
		if a.RsnFlags != 0 {
			return "wpa2-psk"
		}
		return "wpa-psk"
	case f&0x800 != 0:
		return "owe"
	case a.Flags&0x1 != 0:
		return "wep"
	}
	return "open"
}
