package fakebus

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// NetworkManager names, from ../shared/dbus-api/networkmanager.
const (
	NMName         = "org.freedesktop.NetworkManager"
	NMPath         = dbus.ObjectPath("/org/freedesktop/NetworkManager")
	NMRoot         = dbus.ObjectPath("/org/freedesktop")
	NMSettingsPath = dbus.ObjectPath("/org/freedesktop/NetworkManager/Settings")
	nmIface        = "org.freedesktop.NetworkManager"
	NMDevice       = nmIface + ".Device"
	NMWired        = nmIface + ".Device.Wired"
	NMWireless     = nmIface + ".Device.Wireless"
	NMModem        = nmIface + ".Device.Modem"
	NMAP           = nmIface + ".AccessPoint"
	NMActive       = nmIface + ".Connection.Active"
	NMIP4          = nmIface + ".IP4Config"
	NMSettings     = nmIface + ".Settings"
	NMConnection   = nmIface + ".Settings.Connection"
)

// NM device types and states used by the fake.
const (
	DevEthernet = 1
	DevWiFi     = 2
	DevModem    = 8
	DevVeth     = 20

	StateUnavailable  = 20
	StateDisconnected = 30
	StatePrepare      = 40
	StateActivated    = 100
	StateDeactivating = 110
)

// DeviceSpec describes a fake device.
type DeviceSpec struct {
	Interface string
	Type      uint32
	State     uint32
	Carrier   bool   // wired
	Udi       string // modem: the ModemManager object path
	Driver    string
}

// Profile is a saved connection of the fake.
type Profile struct {
	Path     dbus.ObjectPath
	Settings map[string]map[string]dbus.Variant
	// poisoned: an agent gave it a secret key it does not have.
	poisoned bool
}

// ID returns connection.id.
func (p *Profile) ID() string { s, _ := p.Settings["connection"]["id"].Value().(string); return s }

func (p *Profile) str(section, key string) string {
	s, _ := p.Settings[section][key].Value().(string)
	return s
}

type fakeDevice struct {
	path    dbus.ObjectPath
	spec    DeviceSpec
	active  dbus.ObjectPath
	metric  int64 // route metric override from Reapply, 0 for the type default
	applied uint64
	aps     []dbus.ObjectPath
}

type fakeActive struct {
	path    dbus.ObjectPath
	profile *Profile
	device  *fakeDevice
	state   uint32
	vpn     bool
	base    dbus.ObjectPath // a VPN's base active connection
}

// NM is a fake NetworkManager.
type NM struct {
	*Service
	// ActivationDelay is how long an activation takes (default 50 ms).
	ActivationDelay time.Duration

	// VPNFail, when set, is the NMActiveConnectionStateReason every VPN
	// activation fails with; VPNPassword, when set, is the only password
	// the VPN server accepts (others fail with login-failed).
	VPNFail     uint32
	VPNPassword string
	// VPNChallenge, when set, is the server's dynamic challenge after the
	// right password (OpenVPN's CRV1, "Enter the 6-digit code"), and
	// VPNCode the code it accepts, answered as the password key.
	VPNChallenge, VPNCode string
	// VPNAccept, when set, is every secret the server (or the plugin, for
	// a key's passphrase) accepts, by key: VPNPassword is "password".
	VPNAccept map[string]string
	// SecretTimeout is how long the fake waits for an agent (default 2 min).
	SecretTimeout time.Duration
	// WiFiKeys, by SSID, are the only keys (or 802.1X passwords) those
	// networks accept: another fails the activation as a real supplicant
	// does (device failed, reason 8). A key accepted for a system-owned
	// secret (flags 0) is saved in the profile, as NetworkManager saves it.
	WiFiKeys map[string]string

	mu       sync.Mutex
	n        int
	devices  []*fakeDevice
	profiles []*Profile
	actives  []*fakeActive
	agents   []agentReg
	given    []SecretsGiven
	scans    int
	aaa      []AddAndActivate
	saved    map[dbus.ObjectPath]map[string]string
}

// AddAndActivate is one AddAndActivateConnection call as NetworkManager
// got it.
type AddAndActivate struct {
	Settings       map[string]map[string]dbus.Variant
	Device, Object dbus.ObjectPath
}

// AddAndActivates are the AddAndActivateConnection calls so far.
func (n *NM) AddAndActivates() []AddAndActivate {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]AddAndActivate(nil), n.aaa...)
}

func copySettings(s map[string]map[string]dbus.Variant) map[string]map[string]dbus.Variant {
	out := make(map[string]map[string]dbus.Variant, len(s))
	for k, m := range s {
		out[k] = make(map[string]dbus.Variant, len(m))
		for kk, v := range m {
			out[k][kk] = v
		}
	}
	return out
}

// Scans counts RequestScan calls.
func (n *NM) Scans() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.scans
}

// acceptWiFi checks an agent's Wi-Fi secret against WiFiKeys and, when
// right and system-owned, saves it in the profile.
func (n *NM) acceptWiFi(p *Profile, setting string, got map[string]map[string]dbus.Variant) bool {
	ssid, _ := p.Settings["802-11-wireless"]["ssid"].Value().([]byte)
	key := "psk"
	if setting == "802-1x" {
		key = "password"
	}
	typed, _ := got[setting][key].Value().(string)
	n.mu.Lock()
	defer n.mu.Unlock()
	want, ok := n.WiFiKeys[string(ssid)]
	if ok && typed != want {
		return false
	}
	if flags, _ := p.Settings[setting][key+"-flags"].Value().(uint32); flags == 0 && p.Settings[setting] != nil {
		// Kept apart from the settings, which GetSettings hands out
		// as they are (and never holds a secret).
		if n.saved == nil {
			n.saved = map[dbus.ObjectPath]map[string]string{}
		}
		if n.saved[p.Path] == nil {
			n.saved[p.Path] = map[string]string{}
		}
		n.saved[p.Path][setting] = typed
	}
	return true
}

// SavedSecret is the secret NetworkManager keeps for a profile's setting
// (what an agent gave for a system-owned secret), or "".
func (n *NM) SavedSecret(profile dbus.ObjectPath, setting string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.saved[profile][setting]
}

// DeleteProfile removes a saved profile, as Settings.Connection.Delete.
func (n *NM) DeleteProfile(path dbus.ObjectPath) bool {
	n.mu.Lock()
	found := false
	var all []dbus.ObjectPath
	for i := 0; i < len(n.profiles); i++ {
		if n.profiles[i].Path == path {
			n.profiles = append(n.profiles[:i:i], n.profiles[i+1:]...)
			found = true
			i--
			continue
		}
		all = append(all, n.profiles[i].Path)
	}
	n.mu.Unlock()
	if !found {
		return false
	}
	if all == nil {
		all = []dbus.ObjectPath{}
	}
	n.Set(NMSettingsPath, NMSettings, map[string]any{"Connections": all})
	n.Emit(path, NMConnection+".Removed")
	n.Emit(NMSettingsPath, NMSettings+".ConnectionRemoved", path)
	n.Remove(path)
	n.refreshAvailable()
	return true
}

// NewNM starts a fake NetworkManager on the bus at addr, connected and
// with no devices.
func NewNM(addr string) (*NM, error) {
	n, err := NewNMOffBus(addr)
	if err != nil {
		return nil, err
	}
	return n, n.Own()
}

// NewNMOffBus is a NetworkManager connected but not yet on its name, to
// be set up (devices, a hung call) before Own puts it on the bus: a
// restarted daemon whose objects are not yet readable when it appears.
func NewNMOffBus(addr string) (*NM, error) {
	s, err := newServiceOffBus(addr, NMName, NMRoot)
	if err != nil {
		return nil, err
	}
	n := &NM{Service: s, ActivationDelay: 50 * time.Millisecond, SecretTimeout: 2 * time.Minute}
	s.Add(NMPath, map[string]map[string]any{nmIface: {
		"Devices": []dbus.ObjectPath{}, "AllDevices": []dbus.ObjectPath{}, "Checkpoints": []dbus.ObjectPath{},
		"NetworkingEnabled": true, "WirelessEnabled": true, "WirelessHardwareEnabled": true,
		"WwanEnabled": true, "WwanHardwareEnabled": true, "ActiveConnections": []dbus.ObjectPath{},
		"PrimaryConnection": dbus.ObjectPath("/"), "PrimaryConnectionType": "", "Metered": uint32(0),
		"ActivatingConnection": dbus.ObjectPath("/"), "Startup": false, "Version": "1.42.4",
		"Capabilities": []uint32{}, "State": uint32(20), "Connectivity": uint32(1),
		"ConnectivityCheckAvailable": true, "ConnectivityCheckEnabled": true, "ConnectivityCheckUri": "",
	}})
	s.Add(NMSettingsPath, map[string]map[string]any{NMSettings: {
		"Connections": []dbus.ObjectPath{}, "Hostname": "toughbook", "CanModify": true, "VersionId": uint64(1),
	}})
	n.handlers()
	n.agentHandlers()
	return n, nil
}

func (n *NM) handlers() {
	h := n.Handle
	h(nmIface+".GetDevices", func(Call) ([]any, error) { return []any{n.devicePaths()}, nil })
	h(nmIface+".GetAllDevices", func(Call) ([]any, error) { return []any{n.devicePaths()}, nil })
	h(nmIface+".CheckConnectivity", func(Call) ([]any, error) {
		v, _ := n.Prop(NMPath, nmIface, "Connectivity")
		return []any{v}, nil
	})
	h(nmIface+".ActivateConnection", func(c Call) ([]any, error) {
		prof, _ := arg[dbus.ObjectPath](c, 0)
		dev, _ := arg[dbus.ObjectPath](c, 1)
		p, err := n.Activate(prof, dev)
		return []any{p}, err
	})
	h(nmIface+".AddAndActivateConnection", func(c Call) ([]any, error) {
		settings, _ := arg[map[string]map[string]dbus.Variant](c, 0)
		dev, _ := arg[dbus.ObjectPath](c, 1)
		obj, _ := arg[dbus.ObjectPath](c, 2)
		n.mu.Lock()
		n.aaa = append(n.aaa, AddAndActivate{Settings: copySettings(settings), Device: dev, Object: obj})
		n.mu.Unlock()
		prof := n.AddProfile(settings)
		act, err := n.Activate(prof, dev)
		return []any{prof, act}, err
	})
	h(nmIface+".DeactivateConnection", func(c Call) ([]any, error) {
		act, _ := arg[dbus.ObjectPath](c, 0)
		return nil, n.Deactivate(act)
	})
	h(NMSettings+".ListConnections", func(Call) ([]any, error) {
		n.mu.Lock()
		defer n.mu.Unlock()
		out := []dbus.ObjectPath{}
		for _, p := range n.profiles {
			out = append(out, p.Path)
		}
		return []any{out}, nil
	})
	h(NMSettings+".AddConnection", func(c Call) ([]any, error) {
		settings, _ := arg[map[string]map[string]dbus.Variant](c, 0)
		return []any{n.AddProfile(settings)}, nil
	})
	h(NMConnection+".GetSettings", func(c Call) ([]any, error) {
		p := n.profile(c.Path)
		if p == nil {
			return nil, dbus.NewError("org.freedesktop.NetworkManager.Settings.Connection.Failed", []any{"no such connection"})
		}
		return []any{p.Settings}, nil
	})
	h(NMConnection+".GetSecrets", func(c Call) ([]any, error) {
		return []any{map[string]map[string]dbus.Variant{}}, nil
	})
	h(NMWireless+".RequestScan", func(c Call) ([]any, error) {
		n.mu.Lock()
		n.scans++
		n.mu.Unlock()
		return nil, nil
	})
	h(NMConnection+".Delete", func(c Call) ([]any, error) {
		if !n.DeleteProfile(c.Path) {
			return nil, dbus.NewError("org.freedesktop.NetworkManager.Settings.Connection.Failed", []any{"no such connection"})
		}
		return nil, nil
	})
	h(NMDevice+".GetAppliedConnection", func(c Call) ([]any, error) {
		d := n.device(c.Path)
		if d == nil || d.active == "" {
			return nil, dbus.NewError("org.freedesktop.NetworkManager.Device.NotActive", []any{"device is not activated"})
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, a := range n.actives {
			if a.path == d.active {
				return []any{a.profile.Settings, d.applied}, nil
			}
		}
		return nil, dbus.NewError("org.freedesktop.NetworkManager.Device.NotActive", []any{"device is not activated"})
	})
	h(NMDevice+".Reapply", func(c Call) ([]any, error) {
		settings, _ := arg[map[string]map[string]dbus.Variant](c, 0)
		d := n.device(c.Path)
		if d == nil {
			return nil, dbus.NewError("org.freedesktop.NetworkManager.Device.NotActive", []any{"no device"})
		}
		n.mu.Lock()
		if m, ok := settings["ipv4"]["route-metric"].Value().(int64); ok {
			d.metric = m
			if m < 0 {
				// As NetworkManager: -1 in the applied settings is the
				// device type's default, whatever the profile said.
				d.metric = defaultMetric[d.spec.Type]
			}
		}
		d.applied++
		n.mu.Unlock()
		n.publishRoutes(d)
		n.recomputePrimary()
		return nil, nil
	})
}

// uu is the D-Bus struct (uu), as Device.StateReason.
type uu struct{ A, B uint32 }

func arg[T any](c Call, i int) (T, bool) {
	var zero T
	if i >= len(c.Args) {
		return zero, false
	}
	v, ok := c.Args[i].(T)
	return v, ok
}

func (n *NM) next() int {
	n.n++
	return n.n
}

func (n *NM) devicePaths() []dbus.ObjectPath {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := []dbus.ObjectPath{}
	for _, d := range n.devices {
		out = append(out, d.path)
	}
	return out
}

func (n *NM) device(p dbus.ObjectPath) *fakeDevice {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range n.devices {
		if d.path == p {
			return d
		}
	}
	return nil
}

func (n *NM) profile(p dbus.ObjectPath) *Profile {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, pr := range n.profiles {
		if pr.Path == p {
			return pr
		}
	}
	return nil
}

// AddDevice adds a device, as when a cable adapter or modem is plugged in.
func (n *NM) AddDevice(spec DeviceSpec) dbus.ObjectPath {
	n.mu.Lock()
	path := dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/NetworkManager/Devices/%d", n.next()))
	d := &fakeDevice{path: path, spec: spec}
	n.devices = append(n.devices, d)
	n.mu.Unlock()
	if spec.State == 0 {
		spec.State = StateDisconnected
	}
	udi := spec.Udi
	if udi == "" {
		udi = "/sys/devices/virtual/net/" + spec.Interface
	}
	ifaces := map[string]map[string]any{NMDevice: {
		"Udi": udi, "Path": "", "Interface": spec.Interface, "IpInterface": "", "Driver": spec.Driver,
		"DriverVersion": "", "FirmwareVersion": "", "Capabilities": uint32(0), "Ip4Address": uint32(0),
		"State": spec.State, "StateReason": uu{spec.State, 0}, "ActiveConnection": dbus.ObjectPath("/"),
		"Ip4Config": dbus.ObjectPath("/"), "Dhcp4Config": dbus.ObjectPath("/"), "Ip6Config": dbus.ObjectPath("/"),
		"Dhcp6Config": dbus.ObjectPath("/"), "Managed": true, "Autoconnect": true, "FirmwareMissing": false,
		"NmPluginMissing": false, "DeviceType": spec.Type, "AvailableConnections": []dbus.ObjectPath{},
		"PhysicalPortId": "", "Mtu": uint32(1500), "Metered": uint32(0), "LldpNeighbors": []map[string]dbus.Variant{},
		"Real": true, "Ip4Connectivity": uint32(0), "Ip6Connectivity": uint32(0), "InterfaceFlags": uint32(0),
		"HwAddress": "02:00:00:00:00:01", "Ports": []dbus.ObjectPath{},
	}}
	switch spec.Type {
	case DevEthernet, DevVeth:
		ifaces[NMWired] = map[string]any{"HwAddress": "02:00:00:00:00:01", "PermHwAddress": "02:00:00:00:00:01",
			"Speed": uint32(1000), "S390Subchannels": []string{}, "Carrier": spec.Carrier}
	case DevWiFi:
		ifaces[NMWireless] = map[string]any{"HwAddress": "02:00:00:00:00:02", "PermHwAddress": "02:00:00:00:00:02",
			"Mode": uint32(2), "Bitrate": uint32(0), "AccessPoints": []dbus.ObjectPath{},
			"ActiveAccessPoint": dbus.ObjectPath("/"), "WirelessCapabilities": uint32(0), "LastScan": int64(-1)}
	case DevModem:
		ifaces[NMModem] = map[string]any{"ModemCapabilities": uint32(4), "CurrentCapabilities": uint32(4),
			"DeviceId": "", "OperatorCode": "", "Apn": ""}
	}
	n.Add(path, ifaces)
	n.Set(NMPath, nmIface, map[string]any{"Devices": n.devicePaths(), "AllDevices": n.devicePaths()})
	n.Emit(NMPath, nmIface+".DeviceAdded", path)
	n.refreshAvailable()
	return path
}

// RemoveDevice removes a device, as when a modem is unplugged.
func (n *NM) RemoveDevice(path dbus.ObjectPath) {
	if d := n.device(path); d != nil && d.active != "" {
		n.Deactivate(d.active)
	}
	n.dropDevice(path)
}

// dropDevice takes a device off the bus as it is.
func (n *NM) dropDevice(path dbus.ObjectPath) {
	n.mu.Lock()
	for i, d := range n.devices {
		if d.path == path {
			n.devices = append(n.devices[:i:i], n.devices[i+1:]...)
			break
		}
	}
	n.mu.Unlock()
	n.Remove(path)
	n.Set(NMPath, nmIface, map[string]any{"Devices": n.devicePaths(), "AllDevices": n.devicePaths()})
	n.Emit(NMPath, nmIface+".DeviceRemoved", path)
}

// SetCarrier changes a wired device's carrier, as a cable pull does (NM
// itself keeps the device activated for a few seconds more).
func (n *NM) SetCarrier(path dbus.ObjectPath, on bool) {
	n.Set(path, NMWired, map[string]any{"Carrier": on})
}

// SetDeviceState moves a device to a state, emitting StateChanged too.
func (n *NM) SetDeviceState(path dbus.ObjectPath, state, reason uint32) {
	old, _ := n.Prop(path, NMDevice, "State")
	n.Set(path, NMDevice, map[string]any{"State": state, "StateReason": uu{state, reason}})
	oldU, _ := old.(uint32)
	n.Emit(path, NMDevice+".StateChanged", state, oldU, reason)
}

// PassDeviceStates moves a device through states within one main-loop
// turn, as NetworkManager does when an activation fails at once: a
// StateChanged signal for each state, then one PropertiesChanged with the
// last (NetworkManager batches property changes; the states between are
// never properties on the bus). Each step is {state, reason}.
func (n *NM) PassDeviceStates(path dbus.ObjectPath, steps ...[2]uint32) {
	if len(steps) == 0 {
		return
	}
	old, _ := n.Prop(path, NMDevice, "State")
	prev, _ := old.(uint32)
	for _, st := range steps {
		n.Emit(path, NMDevice+".StateChanged", st[0], prev, st[1])
		prev = st[0]
	}
	last := steps[len(steps)-1]
	n.Set(path, NMDevice, map[string]any{"State": last[0], "StateReason": uu{last[0], last[1]}})
}

// APSpec describes a fake access point.
type APSpec struct {
	SSID      string
	Strength  byte
	Frequency uint32
	RsnFlags  uint32 // 0x100 = PSK
	BSSID     string
}

// AddAP makes an access point visible to a Wi-Fi device.
func (n *NM) AddAP(dev dbus.ObjectPath, spec APSpec) dbus.ObjectPath {
	n.mu.Lock()
	path := dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/NetworkManager/AccessPoint/%d", n.next()))
	d := n.findDevice(dev)
	n.mu.Unlock()
	if spec.BSSID == "" {
		spec.BSSID = fmt.Sprintf("02:11:22:33:44:%02X", len(path)%256)
	}
	n.Add(path, map[string]map[string]any{NMAP: {
		"Flags": uint32(1), "WpaFlags": uint32(0), "RsnFlags": spec.RsnFlags, "Ssid": []byte(spec.SSID),
		"Frequency": spec.Frequency, "HwAddress": spec.BSSID, "Mode": uint32(2), "MaxBitrate": uint32(540000),
		"Bandwidth": uint32(20), "Strength": spec.Strength, "LastSeen": int32(1),
	}})
	n.mu.Lock()
	d.aps = append(d.aps, path)
	aps := append([]dbus.ObjectPath(nil), d.aps...)
	n.mu.Unlock()
	n.Set(dev, NMWireless, map[string]any{"AccessPoints": aps})
	n.Emit(dev, NMWireless+".AccessPointAdded", path)
	return path
}

// RemoveAP makes an access point vanish.
func (n *NM) RemoveAP(dev, ap dbus.ObjectPath) {
	n.mu.Lock()
	d := n.findDevice(dev)
	for i, p := range d.aps {
		if p == ap {
			d.aps = append(d.aps[:i:i], d.aps[i+1:]...)
			break
		}
	}
	aps := append([]dbus.ObjectPath(nil), d.aps...)
	n.mu.Unlock()
	n.Set(dev, NMWireless, map[string]any{"AccessPoints": aps})
	if cur, _ := n.Prop(dev, NMWireless, "ActiveAccessPoint"); cur == ap {
		n.Set(dev, NMWireless, map[string]any{"ActiveAccessPoint": dbus.ObjectPath("/")})
	}
	n.Emit(dev, NMWireless+".AccessPointRemoved", ap)
	n.Remove(ap)
}

// SetAPStrength changes an access point's strength.
func (n *NM) SetAPStrength(ap dbus.ObjectPath, s byte) {
	n.Set(ap, NMAP, map[string]any{"Strength": s})
}

func (n *NM) findDevice(p dbus.ObjectPath) *fakeDevice {
	for _, d := range n.devices {
		if d.path == p {
			return d
		}
	}
	panic("fakebus: no device " + p)
}

// ProfileSettings builds minimal settings for a profile.
func ProfileSettings(id, typ, ifname string) map[string]map[string]dbus.Variant {
	s := map[string]map[string]dbus.Variant{
		"connection": {"id": dbus.MakeVariant(id), "uuid": dbus.MakeVariant(fmt.Sprintf("00000000-0000-4000-8000-%012x", hash(id))),
			"type": dbus.MakeVariant(typ), "autoconnect": dbus.MakeVariant(true)},
		"ipv4": {"method": dbus.MakeVariant("auto")},
	}
	if ifname != "" {
		s["connection"]["interface-name"] = dbus.MakeVariant(ifname)
	}
	return s
}

func hash(s string) uint64 {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h & 0xffffffffffff
}

// AddProfile saves a connection profile.
func (n *NM) AddProfile(settings map[string]map[string]dbus.Variant) dbus.ObjectPath {
	n.mu.Lock()
	p := &Profile{Path: dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/NetworkManager/Settings/%d", n.next())), Settings: settings}
	n.profiles = append(n.profiles, p)
	var all []dbus.ObjectPath
	for _, pr := range n.profiles {
		all = append(all, pr.Path)
	}
	n.mu.Unlock()
	n.Add(p.Path, map[string]map[string]any{NMConnection: {"Unsaved": false, "Flags": uint32(0), "Filename": ""}})
	n.Set(NMSettingsPath, NMSettings, map[string]any{"Connections": all})
	n.Emit(NMSettingsPath, NMSettings+".NewConnection", p.Path)
	n.refreshAvailable()
	return p.Path
}

// Profiles returns the saved profiles.
func (n *NM) Profiles() []*Profile {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Profile(nil), n.profiles...)
}

var profileTypeForDevice = map[uint32]string{DevEthernet: "802-3-ethernet", DevVeth: "802-3-ethernet", DevWiFi: "802-11-wireless", DevModem: "gsm"}

func (n *NM) fits(p *Profile, d *fakeDevice) bool {
	if ifn := p.str("connection", "interface-name"); ifn != "" && ifn != d.spec.Interface {
		return false
	}
	return profileTypeForDevice[d.spec.Type] == p.str("connection", "type")
}

// refreshAvailable updates each device's AvailableConnections.
func (n *NM) refreshAvailable() {
	n.mu.Lock()
	type upd struct {
		path  dbus.ObjectPath
		avail []dbus.ObjectPath
	}
	var ups []upd
	for _, d := range n.devices {
		avail := []dbus.ObjectPath{}
		for _, p := range n.profiles {
			if n.fits(p, d) {
				avail = append(avail, p.Path)
			}
		}
		ups = append(ups, upd{d.path, avail})
	}
	n.mu.Unlock()
	for _, u := range ups {
		n.Set(u.path, NMDevice, map[string]any{"AvailableConnections": u.avail})
	}
}

// Activate activates a profile on a device ("/" picks one), as
// ActivateConnection does: activating now, activated after
// ActivationDelay.
func (n *NM) Activate(profile, device dbus.ObjectPath) (dbus.ObjectPath, error) {
	p := n.profile(profile)
	if p == nil {
		return "", dbus.NewError("org.freedesktop.NetworkManager.UnknownConnection", []any{"Connection '" + string(profile) + "' is not available"})
	}
	if t := p.str("connection", "type"); t == "vpn" || t == "wireguard" {
		return n.activateVPN(p)
	}
	n.mu.Lock()
	var d *fakeDevice
	for _, dd := range n.devices {
		if (device == "/" || device == "" || dd.path == device) && n.fits(p, dd) {
			d = dd
			break
		}
	}
	n.mu.Unlock()
	if d == nil {
		return "", dbus.NewError("org.freedesktop.NetworkManager.UnknownDevice", []any{"No suitable device found for this connection"})
	}
	if carrier, ok := n.Prop(d.path, NMWired, "Carrier"); ok && carrier == false {
		return "", dbus.NewError("org.freedesktop.NetworkManager.ConnectionNotAvailable",
			[]any{fmt.Sprintf("Connection '%s' is not available on device %s because device has no carrier", p.ID(), d.spec.Interface)})
	}
	if st, _ := n.Prop(d.path, NMDevice, "State"); st == uint32(StateUnavailable) {
		return "", dbus.NewError("org.freedesktop.NetworkManager.ConnectionNotAvailable",
			[]any{fmt.Sprintf("Connection '%s' is not available on device %s at this time", p.ID(), d.spec.Interface)})
	}
	if d.active != "" {
		n.Deactivate(d.active)
	}
	n.mu.Lock()
	a := &fakeActive{path: dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/NetworkManager/ActiveConnection/%d", n.next())),
		profile: p, device: d, state: 1}
	n.actives = append(n.actives, a)
	d.active = a.path
	d.metric = 0
	delay := n.ActivationDelay
	n.mu.Unlock()
	n.Add(a.path, map[string]map[string]any{NMActive: {
		"Connection": p.Path, "SpecificObject": dbus.ObjectPath("/"), "Id": p.ID(), "Uuid": p.str("connection", "uuid"),
		"Type": p.str("connection", "type"), "Devices": []dbus.ObjectPath{d.path}, "State": uint32(1), "StateFlags": uint32(0),
		"Default": false, "Ip4Config": dbus.ObjectPath("/"), "Dhcp4Config": dbus.ObjectPath("/"), "Default6": false,
		"Ip6Config": dbus.ObjectPath("/"), "Dhcp6Config": dbus.ObjectPath("/"), "Vpn": false,
		"Controller": dbus.ObjectPath("/"), "Master": dbus.ObjectPath("/"),
	}})
	n.Set(d.path, NMDevice, map[string]any{"ActiveConnection": a.path})
	n.SetDeviceState(d.path, StatePrepare, 0)
	n.Set(NMPath, nmIface, map[string]any{"ActiveConnections": n.activePaths(), "ActivatingConnection": a.path})
	timeout := n.SecretTimeout
	go func() {
		if setting, hints := needsSecrets(p); setting != "" && n.SavedSecret(p.Path, setting) == "" {
			got, err := n.AskSecrets(p, setting, hints, 1, timeout)
			if err != nil {
				n.failActivation(d, a.path, 7) // no secrets
				return
			}
			if !n.acceptWiFi(p, setting, got) {
				n.failActivation(d, a.path, 8) // supplicant disconnected
				return
			}
		}
		time.Sleep(delay)
		n.finishActivation(a)
	}()
	return a.path, nil
}

// Connect sets a device up as activated with a profile at once, for the
// initial state of a test.
func (n *NM) Connect(profile, device dbus.ObjectPath) dbus.ObjectPath {
	old := n.ActivationDelay
	n.ActivationDelay = 0
	a, err := n.Activate(profile, device)
	n.ActivationDelay = old
	if err != nil {
		panic(err)
	}
	for i := 0; i < 200; i++ {
		if st, _ := n.Prop(a, NMActive, "State"); st == uint32(2) {
			return a
		}
		time.Sleep(5 * time.Millisecond)
	}
	panic("fakebus: activation did not finish")
}

// activated marks an activation done, unless it was given up meanwhile,
// and names its IP4Config object.
func (n *NM) activated(a *fakeActive) (dbus.ObjectPath, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a.state != 1 {
		return "", false
	}
	a.state = 2
	return dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/NetworkManager/IP4Config/%d", n.next())), true
}

func (n *NM) finishActivation(a *fakeActive) {
	ip, ok := n.activated(a)
	if !ok {
		return
	}
	n.mu.Lock()
	octet := len(n.actives) % 250
	d := a.device
	n.mu.Unlock()
	n.Add(ip, map[string]map[string]any{NMIP4: {
		"AddressData":    []map[string]dbus.Variant{{"address": dbus.MakeVariant(fmt.Sprintf("10.%d.0.2", octet)), "prefix": dbus.MakeVariant(uint32(24))}},
		"Gateway":        fmt.Sprintf("10.%d.0.1", octet),
		"RouteData":      routeData(fmt.Sprintf("10.%d.0.1", octet), n.metricOf(a)),
		"NameserverData": []map[string]dbus.Variant{{"address": dbus.MakeVariant(fmt.Sprintf("10.%d.0.1", octet))}},
	}})
	n.Set(d.path, NMDevice, map[string]any{"Ip4Config": ip, "IpInterface": d.spec.Interface, "Ip4Connectivity": uint32(4)})
	n.SetDeviceState(d.path, StateActivated, 0)
	n.Set(a.path, NMActive, map[string]any{"State": uint32(2), "Ip4Config": ip})
	n.Emit(a.path, NMActive+".StateChanged", uint32(2), uint32(0))
	n.Set(NMPath, nmIface, map[string]any{"ActivatingConnection": dbus.ObjectPath("/")})
	n.recomputePrimary()
}

// Deactivate takes an active connection down.
func (n *NM) Deactivate(active dbus.ObjectPath) error { return n.deactivate(active, 39) }

// failActivation ends an activation that failed: the device passes through
// failed and is left disconnected with the failure's reason, as
// NetworkManager leaves it.
func (n *NM) failActivation(d *fakeDevice, active dbus.ObjectPath, reason uint32) {
	n.SetDeviceState(d.path, 120, reason)
	n.deactivate(active, reason)
}

func (n *NM) deactivate(active dbus.ObjectPath, reason uint32) error {
	n.mu.Lock()
	var a *fakeActive
	for i, x := range n.actives {
		if x.path == active {
			a = x
			n.actives = append(n.actives[:i:i], n.actives[i+1:]...)
			break
		}
	}
	if a == nil {
		n.mu.Unlock()
		return dbus.NewError("org.freedesktop.NetworkManager.ConnectionNotActive", []any{"The connection was not active."})
	}
	if a.vpn {
		n.actives = append(n.actives, a) // endVPN takes it out
		n.mu.Unlock()
		n.endVPN(a, ReasonUserDisconnected)
		return nil
	}
	a.state = 4
	d := a.device
	if d.active == active {
		d.active = ""
	}
	n.mu.Unlock()
	for _, v := range n.vpnsOver(a.path) {
		n.endVPN(v, ReasonDeviceDisconnected)
	}
	n.Set(a.path, NMActive, map[string]any{"State": uint32(4)})
	n.Emit(a.path, NMActive+".StateChanged", uint32(4), uint32(2))
	n.Remove(a.path)
	n.Set(d.path, NMDevice, map[string]any{"ActiveConnection": dbus.ObjectPath("/"), "Ip4Config": dbus.ObjectPath("/"),
		"IpInterface": "", "Ip4Connectivity": uint32(0)})
	n.SetDeviceState(d.path, StateDisconnected, reason)
	n.Set(NMPath, nmIface, map[string]any{"ActiveConnections": n.activePaths()})
	n.recomputePrimary()
	return nil
}

func (n *NM) activePaths() []dbus.ObjectPath {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := []dbus.ObjectPath{}
	for _, a := range n.actives {
		out = append(out, a.path)
	}
	return out
}

var defaultMetric = map[uint32]int64{DevEthernet: 100, DevVeth: 100, DevWiFi: 600, DevModem: 700}

// metricOf is the route metric of an active connection: one Reapply set,
// else its profile's ipv4.route-metric, else the device type's default.
func (n *NM) metricOf(a *fakeActive) int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.metricLocked(a)
}

func (n *NM) metricLocked(a *fakeActive) int64 {
	if a.device.metric > 0 {
		return a.device.metric
	}
	if m, ok := a.profile.Settings["ipv4"]["route-metric"].Value().(int64); ok && m >= 0 {
		return m
	}
	return defaultMetric[a.device.spec.Type]
}

// routeData is an IP4Config's RouteData: the subnet and the default
// route, both at the connection's metric.
func routeData(gw string, metric int64) []map[string]dbus.Variant {
	subnet := gw[:strings.LastIndexByte(gw, '.')] + ".0"
	return []map[string]dbus.Variant{
		{"dest": dbus.MakeVariant(subnet), "prefix": dbus.MakeVariant(uint32(24)), "metric": dbus.MakeVariant(uint32(metric))},
		{"dest": dbus.MakeVariant("0.0.0.0"), "prefix": dbus.MakeVariant(uint32(0)), "next-hop": dbus.MakeVariant(gw),
			"metric": dbus.MakeVariant(uint32(metric))},
	}
}

// publishRoutes updates a device's IP4Config after its metric changed.
func (n *NM) publishRoutes(d *fakeDevice) {
	n.mu.Lock()
	var a *fakeActive
	for _, x := range n.actives {
		if x.path == d.active {
			a = x
		}
	}
	n.mu.Unlock()
	if a == nil {
		return
	}
	v, _ := n.Prop(d.path, NMDevice, "Ip4Config")
	ip, ok := v.(dbus.ObjectPath)
	if !ok || ip == "/" {
		return
	}
	gw, _ := n.Prop(ip, NMIP4, "Gateway")
	if g, ok := gw.(string); ok && g != "" {
		n.Set(ip, NMIP4, map[string]any{"RouteData": routeData(g, n.metricOf(a))})
	}
}

// recomputePrimary puts the default route where NetworkManager would: the
// activated connection whose device has the lowest route metric.
func (n *NM) recomputePrimary() {
	n.mu.Lock()
	var cands []*fakeActive
	for _, a := range n.actives {
		if a.state == 2 && !a.vpn {
			cands = append(cands, a)
		}
	}
	metric := n.metricLocked
	sort.SliceStable(cands, func(i, j int) bool { return metric(cands[i]) < metric(cands[j]) })
	all := append([]*fakeActive(nil), n.actives...)
	n.mu.Unlock()
	primary := dbus.ObjectPath("/")
	typ := ""
	state, conn := uint32(20), uint32(1)
	if len(cands) > 0 {
		primary, typ = cands[0].path, cands[0].profile.str("connection", "type")
		state, conn = 70, 4
	}
	for _, a := range all {
		n.Set(a.path, NMActive, map[string]any{"Default": a.path == primary})
	}
	n.Set(NMPath, nmIface, map[string]any{"PrimaryConnection": primary, "PrimaryConnectionType": typ,
		"State": state, "Connectivity": conn})
}

// Quit leaves the bus as NetworkManager does when asked to stop
// (SIGTERM): it removes every device first, then goes; the kernel keeps
// the links and routes. Close is a crash (SIGKILL): it just goes.
func (n *NM) Quit() {
	for _, d := range n.devicePaths() {
		n.dropDevice(d)
	}
	time.Sleep(60 * time.Millisecond)
	n.Close()
}

// Metric returns a device's route metric override (0 for the default).
func (n *NM) Metric(dev dbus.ObjectPath) int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.findDevice(dev).metric
}

// ActiveOn returns the active connection on a device, or "".
func (n *NM) ActiveOn(dev dbus.ObjectPath) dbus.ObjectPath {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.findDevice(dev).active
}
