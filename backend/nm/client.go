package nm

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
)

// Profile is a saved connection, read with GetSettings (never GetSecrets).
type Profile struct {
	Path        dbus.ObjectPath
	ID          string
	UUID        string
	Type        string // 802-3-ethernet, 802-11-wireless, gsm, vpn, wireguard
	Interface   string
	Autoconnect bool
	SSID        string
	APN         string
	RouteMetric int64
	// VPNService and VPNData are a VPN profile's plugin and its settings
	// (secrets are never in them: GetSettings leaves them out).
	VPNService string
	VPNData    map[string]string
	// Secondaries are the UUIDs of the connections it starts with it.
	Secondaries []string
}

// Client follows NetworkManager.
type Client struct {
	m *bus.Mirror

	mu       sync.Mutex
	profiles map[dbus.ObjectPath]Profile
	ended    map[string]Ended
	// failures and signalled follow devices' StateChanged signals: a
	// device can fail and be disconnected again within a millisecond
	// (PPP that cannot start), faster than a picture is read, so the
	// failure is kept here until it has been told.
	failures  []Failure
	signalled map[dbus.ObjectPath]uint32
}

// Failure is an activation a device gave up on (NM_DEVICE_STATE_FAILED),
// with NetworkManager's NMDeviceStateReason.
type Failure struct {
	Device dbus.ObjectPath
	Reason uint32
}

// maxFailures bounds the failures kept between two reads.
const maxFailures = 64

// Ended is how a VPN connection last ended. NetworkManager says why only in
// the StateChanged signal of an active connection it then removes, so the
// client keeps it for the screen and the VPN keeper.
type Ended struct {
	ID     string
	UUID   string
	Reason uint32
}

// New returns a client on conn; Run starts following.
func New(conn *bus.Conn) *Client {
	c := &Client{profiles: map[dbus.ObjectPath]Profile{}, ended: map[string]Ended{}, signalled: map[dbus.ObjectPath]uint32{}}
	m := bus.NewMirror(conn, Name, Root)
	m.Namespace = Path
	m.Extra = []bus.Match{
		{Interface: ifaceManager, Path: Path},
		{Interface: ifaceWireless},
		{Interface: ifaceSettings, Path: SettingsPath},
		{Interface: ifaceConnection, Member: "Updated"},
		{Interface: ifaceActive, Member: "StateChanged"},
		{Interface: ifaceDevice, Member: "StateChanged"},
	}
	m.OnSignal = c.onSignal
	m.Loaded = c.loadProfiles
	m.Fallback = c.walk
	c.m = m
	return c
}

// Mirror exposes the underlying mirror (for tests and leak checks).
func (c *Client) Mirror() *bus.Mirror { return c.m }

// Run follows NetworkManager until ctx ends, calling changed after each
// batch of changes.
func (c *Client) Run(ctx context.Context, changed func()) error { return c.m.Run(ctx, changed) }

// Running reports whether NetworkManager is on the bus.
func (c *Client) Running() bool { return c.m.Running() }

// Objects decodes the current picture.
func (c *Client) Objects() Objects {
	var o Objects
	c.m.ReadLoaded(func(objs bus.Objects, loaded bool) { o = Decode(objs); o.Loaded = loaded })
	o.Problems = append(o.Problems, c.m.Problems()...)
	return o
}

// Profiles returns the saved profiles, sorted by ID.
func (c *Client) Profiles() []Profile {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Profile, 0, len(c.profiles))
	for _, p := range c.profiles {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Profile returns a profile by path.
func (c *Client) Profile(p dbus.ObjectPath) (Profile, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pr, ok := c.profiles[p]
	return pr, ok
}

func (c *Client) onSignal(ctx context.Context, s *dbus.Signal) {
	switch s.Name {
	case ifaceManager + ".DeviceAdded":
		if p, err := bus.PathArg(s); err == nil && !c.m.Known(p) {
			c.fetchDevice(ctx, p)
		}
	case ifaceManager + ".DeviceRemoved":
		if p, err := bus.PathArg(s); err == nil {
			c.m.Forget(p)
			c.mu.Lock()
			delete(c.signalled, p)
			c.mu.Unlock()
		}
	case ifaceWireless + ".AccessPointAdded":
		if p, err := bus.PathArg(s); err == nil && !c.m.Known(p) {
			c.m.Fetch(ctx, p, ifaceAP)
		}
	case ifaceWireless + ".AccessPointRemoved":
		if p, err := bus.PathArg(s); err == nil {
			c.m.Forget(p)
		}
	case ifaceSettings + ".NewConnection":
		if p, err := bus.PathArg(s); err == nil {
			c.loadProfile(ctx, p)
		}
	case ifaceSettings + ".ConnectionRemoved":
		if p, err := bus.PathArg(s); err == nil {
			c.mu.Lock()
			delete(c.profiles, p)
			c.mu.Unlock()
		}
	case ifaceConnection + ".Updated":
		c.loadProfile(ctx, s.Path)
	case ifaceActive + ".StateChanged":
		c.activeStateChanged(s)
	case ifaceDevice + ".StateChanged":
		c.deviceStateChanged(s)
	}
}

// deviceStateChanged keeps the state a device last signalled, and each
// failure with its reason.
func (c *Client) deviceStateChanged(s *dbus.Signal) {
	if len(s.Body) < 3 {
		return
	}
	state, ok1 := s.Body[0].(uint32)
	reason, ok2 := s.Body[2].(uint32)
	if !ok1 || !ok2 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.signalled[s.Path] = state
	if state == StateFailed && len(c.failures) < maxFailures {
		c.failures = append(c.failures, Failure{Device: s.Path, Reason: reason})
	}
}

// TakeFailures returns the failures signalled since the last call.
func (c *Client) TakeFailures() []Failure {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.failures
	c.failures = nil
	return out
}

// SignalledState is the state a device's last StateChanged signal gave:
// when the copy's State property differs, its PropertiesChanged is still
// on its way.
func (c *Client) SignalledState(device dbus.ObjectPath) (uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.signalled[device]
	return st, ok
}

// activeStateChanged keeps why a VPN ended, and forgets it when the VPN
// starts again.
func (c *Client) activeStateChanged(s *dbus.Signal) {
	if len(s.Body) < 2 {
		return
	}
	state, ok1 := s.Body[0].(uint32)
	reason, ok2 := s.Body[1].(uint32)
	if !ok1 || !ok2 {
		return
	}
	var a Active
	var found bool
	c.m.Read(func(objs bus.Objects) {
		o := Decode(objs)
		a, found = o.Actives[s.Path]
	})
	if !found || (!a.VPN && a.Type != "wireguard") {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case 1:
		delete(c.ended, a.ID)
	case 4:
		c.ended[a.ID] = Ended{ID: a.ID, UUID: a.UUID, Reason: reason}
	}
}

// EndedVPNs returns how VPN connections that are not active now last
// ended, by profile ID.
func (c *Client) EndedVPNs() map[string]Ended {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Ended, len(c.ended))
	for k, v := range c.ended {
		out[k] = v
	}
	return out
}

func (c *Client) fetchDevice(ctx context.Context, p dbus.ObjectPath) {
	if err := c.m.Fetch(ctx, p, ifaceDevice); err != nil {
		return
	}
	var typ uint32
	c.m.Read(func(objs bus.Objects) {
		typ, _ = bus.NewReader(bus.Props{Path: p, Iface: ifaceDevice, M: objs[p][ifaceDevice]}).Uint32("DeviceType")
	})
	switch typ {
	case TypeEthernet, TypeVeth:
		c.m.Fetch(ctx, p, ifaceWired)
	case TypeWiFi:
		c.m.Fetch(ctx, p, ifaceWireless)
	case TypeModem:
		c.m.Fetch(ctx, p, ifaceModem)
	}
}

// walk loads NetworkManager object by object, for daemons without an
// ObjectManager.
func (c *Client) walk(ctx context.Context) (bus.Objects, error) {
	conn := c.m.Conn()
	objs := bus.Objects{}
	mgr, err := conn.GetAll(ctx, Name, Path, ifaceManager)
	if err != nil {
		return nil, err
	}
	objs[Path] = map[string]map[string]dbus.Variant{ifaceManager: mgr.M}
	devices, _ := mgr.ObjectPaths("Devices")
	actives, _ := mgr.ObjectPaths("ActiveConnections")
	get := func(p dbus.ObjectPath, iface string) bus.Props {
		props, err := conn.GetAll(ctx, Name, p, iface)
		if err != nil {
			return bus.Props{}
		}
		if objs[p] == nil {
			objs[p] = map[string]map[string]dbus.Variant{}
		}
		objs[p][iface] = props.M
		return props
	}
	for _, d := range devices {
		dev := get(d, ifaceDevice)
		typ, _ := dev.Uint32("DeviceType")
		if ip, _ := dev.ObjectPath("Ip4Config"); ip != "" && ip != "/" {
			get(ip, ifaceIP4)
		}
		switch typ {
		case TypeEthernet, TypeVeth:
			get(d, ifaceWired)
		case TypeModem:
			get(d, ifaceModem)
		case TypeWiFi:
			w := get(d, ifaceWireless)
			aps, _ := w.ObjectPaths("AccessPoints")
			for _, ap := range aps {
				get(ap, ifaceAP)
			}
		}
	}
	for _, a := range actives {
		get(a, ifaceActive)
	}
	return objs, nil
}

func (c *Client) loadProfiles(ctx context.Context) {
	var paths []dbus.ObjectPath
	if err := c.m.Conn().CallStore(ctx, Name, SettingsPath, ifaceSettings+".ListConnections", nil, &paths); err != nil {
		return
	}
	// Settings are read a few at a time: one round trip each, and a
	// laptop may have dozens of saved Wi-Fi networks.
	fresh := map[dbus.ObjectPath]Profile{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, p := range paths {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if pr, err := c.readProfile(ctx, p); err == nil {
				mu.Lock()
				fresh[p] = pr
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	c.mu.Lock()
	c.profiles = fresh
	c.mu.Unlock()
}

func (c *Client) loadProfile(ctx context.Context, p dbus.ObjectPath) {
	pr, err := c.readProfile(ctx, p)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.profiles[p] = pr
	c.mu.Unlock()
}

// readProfile reads a profile's settings. Only GetSettings: NetworkManager
// leaves secrets out of it, and fieldlink never asks for them.
func (c *Client) readProfile(ctx context.Context, p dbus.ObjectPath) (Profile, error) {
	var s map[string]map[string]dbus.Variant
	if err := c.m.Conn().CallStore(ctx, Name, p, ifaceConnection+".GetSettings", nil, &s); err != nil {
		return Profile{}, err
	}
	return DecodeProfile(p, s), nil
}

// DecodeProfile reads the fields fieldlink uses from connection settings.
func DecodeProfile(p dbus.ObjectPath, s map[string]map[string]dbus.Variant) Profile {
	con := bus.NewReader(bus.Props{Path: p, Iface: "connection", M: s["connection"]})
	pr := Profile{Path: p, ID: con.String("id"), UUID: con.String("uuid"), Type: con.String("type"), Interface: con.String("interface-name"),
		RouteMetric: -1}
	pr.Autoconnect = true
	if a, ok := con.Bool("autoconnect"); ok {
		pr.Autoconnect = a
	}
	if w, ok := s["802-11-wireless"]; ok {
		pr.SSID = ssidString(bus.NewReader(bus.Props{Path: p, Iface: "802-11-wireless", M: w}).Bytes("ssid"))
	}
	if g, ok := s["gsm"]; ok {
		pr.APN = bus.NewReader(bus.Props{Path: p, Iface: "gsm", M: g}).String("apn")
	}
	if v, ok := s["ipv4"]["route-metric"].Value().(int64); ok {
		pr.RouteMetric = v
	}
	pr.Secondaries, _ = s["connection"]["secondaries"].Value().([]string)
	if v, ok := s["vpn"]; ok {
		pr.VPNService, _ = v["service-type"].Value().(string)
		pr.VPNData, _ = v["data"].Value().(map[string]string)
	}
	return pr
}

// VPNServer is where a VPN profile connects to, as its plugin's settings
// name it: OpenVPN's remote (all of them, as written), else the gateway
// most other plugins use. Empty for other profiles.
func (p Profile) VPNServer() string {
	for _, k := range []string{"remote", "gateway", "host"} {
		if v := strings.TrimSpace(p.VPNData[k]); v != "" {
			return v
		}
	}
	return ""
}

// ErrNotRunning is returned by actions while NetworkManager is not on the
// bus.
var ErrNotRunning = errors.New("NetworkManager is not running")

// Error is a NetworkManager action that failed, in words.
type Error struct {
	Op   string // "activate EE Internet"
	Name string // D-Bus error name
	Msg  string // NetworkManager's own message
	Hint string // what to do
	Err  error
}

func (e *Error) Error() string {
	s := e.Op + ": "
	if e.Msg != "" {
		s += e.Msg
	} else {
		s += e.Err.Error()
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrPermission marks errors where NetworkManager (polkit) refused.
var ErrPermission = errors.New("not authorized by NetworkManager")

// PermissionHint says what to do when polkit refuses, typically over SSH.
const PermissionHint = "NetworkManager did not authorize this user: over SSH polkit refuses by default; " +
	"run fieldlink as the kiosk user, or have IT add this user to the 'netdev' group with a polkit rule for org.freedesktop.NetworkManager.network-control"

// IsPermission reports whether err is a refusal by NetworkManager.
func IsPermission(err error) bool { return errors.Is(err, ErrPermission) }

func actionError(op string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Err: err}
	var ce *bus.CallError
	if errors.As(err, &ce) {
		e.Name, e.Msg = ce.Name, ce.Message
		switch {
		case ce.Timeout:
			e.Msg = "NetworkManager did not answer within the timeout"
		case strings.HasSuffix(ce.Name, ".PermissionDenied") || ce.Name == "org.freedesktop.DBus.Error.AccessDenied" ||
			strings.Contains(strings.ToLower(ce.Message), "not authorized"):
			e.Hint = PermissionHint
			e.Err = fmt.Errorf("%w: %w", ErrPermission, err)
		case ce.Name == "org.freedesktop.DBus.Error.ServiceUnknown" || ce.Name == "org.freedesktop.DBus.Error.NameHasNoOwner":
			e.Msg = ErrNotRunning.Error()
			e.Err = fmt.Errorf("%w: %w", ErrNotRunning, err)
		}
	}
	return e
}

func (c *Client) call(ctx context.Context, op string, path dbus.ObjectPath, method string, args []any, out ...any) error {
	if !c.Running() {
		return &Error{Op: op, Msg: ErrNotRunning.Error(), Err: ErrNotRunning}
	}
	return actionError(op, c.m.Conn().CallStore(ctx, Name, path, method, args, out...))
}

// FindProfile finds a saved profile by ID or UUID.
func (c *Client) FindProfile(idOrUUID string) (Profile, bool) {
	for _, p := range c.Profiles() {
		if p.ID == idOrUUID || p.UUID == idOrUUID {
			return p, true
		}
	}
	return Profile{}, false
}

// DeviceByInterface finds a device by interface name.
func (o *Objects) DeviceByInterface(iface string) *Device {
	for i := range o.Devices {
		if o.Devices[i].Interface == iface || (o.Devices[i].IPInterface != "" && o.Devices[i].IPInterface == iface) {
			return &o.Devices[i]
		}
	}
	return nil
}

// Activate activates a saved profile (by ID or UUID), on the device named
// iface or, when iface is "", wherever NetworkManager sees fit.
func (c *Client) Activate(ctx context.Context, profile, iface string) (dbus.ObjectPath, error) {
	op := "activate " + profile
	pr, ok := c.FindProfile(profile)
	if !ok {
		return "", &Error{Op: op, Msg: "no saved profile of that name", Err: errors.New("unknown profile")}
	}
	dev := dbus.ObjectPath("/")
	if iface != "" {
		o := c.Objects()
		d := o.DeviceByInterface(iface)
		if d == nil {
			return "", &Error{Op: op, Msg: "no device " + iface, Err: errors.New("unknown device")}
		}
		dev = d.Path
	}
	var active dbus.ObjectPath
	err := c.call(ctx, op, Path, ifaceManager+".ActivateConnection", []any{pr.Path, dev, dbus.ObjectPath("/")}, &active)
	return active, err
}

// Deactivate takes down the active connection of a profile (ID or UUID).
func (c *Client) Deactivate(ctx context.Context, profile string) error {
	op := "deactivate " + profile
	o := c.Objects()
	for _, a := range o.Actives {
		if a.ID == profile || a.UUID == profile {
			return c.call(ctx, op, Path, ifaceManager+".DeactivateConnection", []any{a.Path})
		}
	}
	return &Error{Op: op, Msg: "the profile is not active", Err: errors.New("not active")}
}

// RequestScan asks a Wi-Fi device to scan now.
func (c *Client) RequestScan(ctx context.Context, iface string) error {
	op := "scan on " + iface
	o := c.Objects()
	d := o.DeviceByInterface(iface)
	if d == nil || d.Type != TypeWiFi {
		return &Error{Op: op, Msg: "no Wi-Fi device " + iface, Err: errors.New("unknown device")}
	}
	return c.call(ctx, op, d.Path, ifaceWireless+".RequestScan", []any{map[string]dbus.Variant{}})
}

// CheckConnectivity asks NetworkManager to re-check connectivity now.
func (c *Client) CheckConnectivity(ctx context.Context) (uint32, error) {
	var v uint32
	err := c.call(ctx, "check connectivity", Path, ifaceManager+".CheckConnectivity", nil, &v)
	return v, err
}

// AddAndActivate saves new settings as a profile and activates it.
func (c *Client) AddAndActivate(ctx context.Context, settings map[string]map[string]dbus.Variant, iface string) (dbus.ObjectPath, error) {
	id, _ := settings["connection"]["id"].Value().(string)
	op := "add and activate " + id
	dev := dbus.ObjectPath("/")
	if iface != "" {
		o := c.Objects()
		if d := o.DeviceByInterface(iface); d != nil {
			dev = d.Path
		}
	}
	var path, active dbus.ObjectPath
	err := c.call(ctx, op, Path, ifaceManager+".AddAndActivateConnection", []any{settings, dev, dbus.ObjectPath("/")}, &path, &active)
	return active, err
}

// AddProfile saves new settings as a profile without activating it.
func (c *Client) AddProfile(ctx context.Context, settings map[string]map[string]dbus.Variant) (dbus.ObjectPath, error) {
	id, _ := settings["connection"]["id"].Value().(string)
	var path dbus.ObjectPath
	err := c.call(ctx, "add profile "+id, SettingsPath, ifaceSettings+".AddConnection", []any{settings}, &path)
	if err == nil {
		c.loadProfile(ctx, path)
	}
	return path, err
}

// SetRouteMetric changes the IPv4 route metric of a device's active
// connection in place (Device.Reapply), so traffic can leave a link that
// is up but dead without tearing it down.
func (c *Client) SetRouteMetric(ctx context.Context, iface string, metric int64) error {
	op := fmt.Sprintf("set route metric of %s to %d", iface, metric)
	o := c.Objects()
	d := o.DeviceByInterface(iface)
	if d == nil {
		return &Error{Op: op, Msg: "no device " + iface, Err: errors.New("unknown device")}
	}
	var applied map[string]map[string]dbus.Variant
	var version uint64
	if err := c.call(ctx, op, d.Path, ifaceDevice+".GetAppliedConnection", []any{uint32(0)}, &applied, &version); err != nil {
		return err
	}
	if applied["ipv4"] == nil {
		applied["ipv4"] = map[string]dbus.Variant{}
	}
	applied["ipv4"]["route-metric"] = dbus.MakeVariant(metric)
	// The deprecated "addresses" and "routes" (a(ayuay), aau) do not
	// survive the trip through godbus with their signatures, and
	// NetworkManager rejects them; "address-data" and "route-data" carry
	// the same settings.
	for _, sec := range []string{"ipv4", "ipv6"} {
		delete(applied[sec], "addresses")
		delete(applied[sec], "routes")
	}
	return c.call(ctx, op, d.Path, ifaceDevice+".Reapply", []any{applied, version, uint32(0)})
}

// ActivateOn activates the saved profile at path on a device, on the
// access point ap ("/" lets NetworkManager pick).
func (c *Client) ActivateOn(ctx context.Context, profile, device, ap dbus.ObjectPath) (dbus.ObjectPath, error) {
	pr, _ := c.Profile(profile)
	var active dbus.ObjectPath
	err := c.call(ctx, "activate "+pr.ID, Path, ifaceManager+".ActivateConnection", []any{profile, device, ap}, &active)
	return active, err
}

// AddAndActivateOn saves settings as a new profile and activates it on a
// device and access point, returning the profile and the activation.
func (c *Client) AddAndActivateOn(ctx context.Context, settings map[string]map[string]dbus.Variant, device, ap dbus.ObjectPath) (profile, active dbus.ObjectPath, err error) {
	id, _ := settings["connection"]["id"].Value().(string)
	err = c.call(ctx, "add and activate "+id, Path, ifaceManager+".AddAndActivateConnection", []any{settings, device, ap}, &profile, &active)
	return profile, active, err
}

// DeleteProfile deletes a saved profile.
func (c *Client) DeleteProfile(ctx context.Context, profile dbus.ObjectPath) error {
	pr, _ := c.Profile(profile)
	return c.call(ctx, "delete profile "+pr.ID, profile, ifaceConnection+".Delete", nil)
}

// WiFiProfile finds a saved Wi-Fi profile for ssid.
func (c *Client) WiFiProfile(ssid string) (Profile, bool) {
	for _, p := range c.Profiles() {
		if p.Type == "802-11-wireless" && p.SSID == ssid {
			return p, true
		}
	}
	return Profile{}, false
}

// ActiveState reads an activation's state from NetworkManager itself, not
// the mirror (which may not have heard of it yet), and whether it still
// exists: NetworkManager removes an activation that failed.
func (c *Client) ActiveState(ctx context.Context, active dbus.ObjectPath) (state uint32, exists bool, err error) {
	v, err := c.m.Conn().Get(ctx, Name, active, ifaceActive, "State")
	if err != nil {
		if bus.IsTimeout(err) || !c.Running() {
			return 0, true, err
		}
		return 0, false, nil
	}
	state, _ = v.Value().(uint32)
	return state, true, nil
}

// DeviceReason reads why a device is in its state now (its StateReason).
func (c *Client) DeviceReason(ctx context.Context, device dbus.ObjectPath) uint32 {
	v, err := c.m.Conn().Get(ctx, Name, device, ifaceDevice, "StateReason")
	if err != nil {
		return 0
	}
	if f, ok := v.Value().([]any); ok && len(f) == 2 {
		r, _ := f[1].(uint32)
		return r
	}
	return 0
}
