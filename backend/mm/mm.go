// Package mm is fieldlink's ModemManager client, read-only but for
// switching on signal and location reporting: modems found through the
// ObjectManager (whatever their object paths), their operator,
// registration, technology, signal figures (Modem.Signal) and serving cell
// (Modem.Location), decoded into netstate types at the edge.
package mm

import (
	"context"
	"errors"
	"fmt"
	"github.com/fieldlink/fieldlink/backend/areas"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// D-Bus names, from ../shared/dbus-api/modemmanager.
const (
	Name          = "org.freedesktop.ModemManager1"
	Root          = dbus.ObjectPath("/org/freedesktop/ModemManager1")
	ifaceModem    = "org.freedesktop.ModemManager1.Modem"
	iface3gpp     = ifaceModem + ".Modem3gpp"
	ifaceSignal   = ifaceModem + ".Signal"
	ifaceLocation = ifaceModem + ".Location"
	ifaceSim      = "org.freedesktop.ModemManager1.Sim"
)

// Location sources (MMModemLocationSource).
const (
	Location3GPP   = 1
	LocationGPSRaw = 2
)

// Modem is one modem as ModemManager reports it.
type Modem struct {
	Path         dbus.ObjectPath
	PrimaryPort  string
	Ports        []string
	Manufacturer string
	Model        string
	// EquipmentID is the IMEI (or ESN/MEID): what names a modem that
	// reports no port.
	EquipmentID  string
	State        int32
	FailedReason uint32
	TechBits     uint32
	Quality      uint32
	QualityOK    bool
	Operator     string
	OperatorCode string
	Registration uint32
	Has3GPP      bool
	SimOperator  string
	SimCode      string
	Signal       netstate.Signal
	SignalRate   uint32
	LocationCaps uint32
	// Serving cell from Modem.Location (3GPP LAC/CI), hex as given.
	MCC, MNC, LAC, CellID, TAC string
	Latitude, Longitude        netstate.Figure
	// QualityRecent is ModemManager's own word on SignalQuality.
	QualityRecent bool
	// Lock is UnlockRequired (MMModemLock), Retries UnlockRetries by
	// lock, SimPath the SIM object.
	Lock    uint32
	Retries map[uint32]uint32
	SimPath dbus.ObjectPath
}

// MMModemLock values fieldlink words.
const (
	LockNone   = 1
	LockSIMPIN = 2
	LockSIMPUK = 4
)

// Name is how the screen and the log name a modem: its primary port, else
// its make and model, else its equipment identifier, else ModemManager's
// number for it ("modem 8").
func (m Modem) Name() string {
	if m.PrimaryPort != "" {
		return m.PrimaryPort
	}
	if mm := strings.TrimSpace(m.Manufacturer + " " + m.Model); mm != "" {
		return mm
	}
	if m.EquipmentID != "" {
		return "modem " + m.EquipmentID
	}
	p := string(m.Path)
	return "modem " + p[strings.LastIndexByte(p, '/')+1:]
}

// CallFailed words a failed call to ModemManager on one line: the
// service, the modem, the operation and the first line of its error; the
// full reply stays in Error's Detail.
type CallFailed struct {
	Modem, Op string
	Err       error
}

func (e *CallFailed) Error() string {
	msg := bus.OneLine(e.Err.Error())
	var ce *bus.CallError
	if errors.As(e.Err, &ce) && ce.Message != "" {
		msg = bus.OneLine(ce.Message)
		if n := shortErrorName(ce.Name); n != "" && !strings.HasPrefix(msg, n) {
			msg = n + ": " + msg
		}
	}
	return fmt.Sprintf("ModemManager: %s: %s failed: %s", e.Modem, e.Op, msg)
}

// Detail is the whole error as ModemManager gave it.
func (e *CallFailed) Detail() string { return e.Err.Error() }

func (e *CallFailed) Unwrap() error { return e.Err }

// shortErrorName keeps the last part of a D-Bus error name:
// "org.freedesktop.ModemManager1.Error.Core.Unsupported" -> "Unsupported".
func shortErrorName(n string) string { return n[strings.LastIndexByte(n, '.')+1:] }

// Objects is what Decode makes of ModemManager's objects.
type Objects struct {
	Modems   []Modem
	Problems []error
}

// Decode turns mirrored objects into modems. It never panics; values of
// the wrong type become Problems naming object and property.
func Decode(objs bus.Objects) Objects {
	var out Objects
	paths := make([]dbus.ObjectPath, 0, len(objs))
	for p, ifaces := range objs {
		if _, ok := ifaces[ifaceModem]; ok {
			paths = append(paths, p)
		}
	}
	sort.Slice(paths, func(i, j int) bool { return paths[i] < paths[j] })
	for _, p := range paths {
		m, errs := decodeModem(objs, p)
		out.Modems = append(out.Modems, m)
		out.Problems = append(out.Problems, errs...)
	}
	return out
}

func decodeModem(objs bus.Objects, p dbus.ObjectPath) (Modem, []error) {
	var errs []error
	r := bus.NewReader(bus.Props{Path: p, Iface: ifaceModem, M: objs[p][ifaceModem]})
	m := Modem{Path: p, PrimaryPort: r.String("PrimaryPort"), Manufacturer: r.String("Manufacturer"), Model: r.String("Model"),
		EquipmentID: r.String("EquipmentIdentifier")}
	m.State, _ = r.Int32("State")
	m.FailedReason, _ = r.Uint32("StateFailedReason")
	m.TechBits, _ = r.Uint32("AccessTechnologies")
	if f := r.Struct("SignalQuality", 2); f != nil {
		q, ok1 := f[0].(uint32)
		recent, ok2 := f[1].(bool)
		if ok1 && ok2 && q <= 100 {
			m.Quality, m.QualityOK, m.QualityRecent = q, true, recent
		} else {
			errs = append(errs, fmt.Errorf("%s %s.SignalQuality: want (ub) with a percentage, got %v", p, ifaceModem, f))
		}
	}
	if v, ok := objs[p][ifaceModem]["Ports"]; ok {
		if rv := reflect.ValueOf(v.Value()); rv.Kind() == reflect.Slice {
			for i := 0; i < rv.Len(); i++ {
				if f := bus.StructFields(rv.Index(i).Interface()); len(f) == 2 {
					if name, ok := f[0].(string); ok {
						m.Ports = append(m.Ports, name)
					}
				}
			}
		}
	}
	sim := r.Path("Sim")
	m.SimPath = sim
	m.Lock, _ = r.Uint32("UnlockRequired")
	if v, ok := objs[p][ifaceModem]["UnlockRetries"]; ok {
		if r, ok := v.Value().(map[uint32]uint32); ok {
			m.Retries = r
		} else {
			errs = append(errs, fmt.Errorf("%s %s.UnlockRetries: want a{uu}, got %s", p, ifaceModem, v.Signature()))
		}
	}
	errs = append(errs, r.Errs...)

	if g, ok := objs[p][iface3gpp]; ok {
		m.Has3GPP = true
		gr := bus.NewReader(bus.Props{Path: p, Iface: iface3gpp, M: g})
		m.Operator = printable(gr.String("OperatorName"))
		m.OperatorCode = gr.String("OperatorCode")
		m.Registration, _ = gr.Uint32("RegistrationState")
		errs = append(errs, gr.Errs...)
	}
	if sim != "" {
		if s, ok := objs[sim][ifaceSim]; ok {
			sr := bus.NewReader(bus.Props{Path: sim, Iface: ifaceSim, M: s})
			m.SimOperator = printable(sr.String("OperatorName"))
			m.SimCode = sr.String("OperatorIdentifier")
			errs = append(errs, sr.Errs...)
		}
	}
	if s, ok := objs[p][ifaceSignal]; ok {
		sr := bus.NewReader(bus.Props{Path: p, Iface: ifaceSignal, M: s})
		m.SignalRate, _ = sr.Uint32("Rate")
		m.Signal = decodeSignal(sr, m.Tech())
		errs = append(errs, sr.Errs...)
	}
	if m.QualityOK {
		m.Signal.Quality = netstate.Some(float64(m.Quality))
	}
	if l, ok := objs[p][ifaceLocation]; ok {
		lr := bus.NewReader(bus.Props{Path: p, Iface: ifaceLocation, M: l})
		m.LocationCaps, _ = lr.Uint32("Capabilities")
		errs = append(errs, lr.Errs...)
		if v, ok := l["Location"]; ok {
			if loc, ok := v.Value().(map[uint32]dbus.Variant); ok {
				m.applyLocation(loc)
			} else {
				errs = append(errs, fmt.Errorf("%s %s.Location: want a{uv}, got %s", p, ifaceLocation, v.Signature()))
			}
		}
	}
	return m, errs
}

// decodeSignal picks the dictionary for the technology in use; 5G NSA
// reports both, and NR wins when it has figures.
func decodeSignal(r *bus.Reader, tech netstate.Tech) netstate.Signal {
	var s netstate.Signal
	fig := func(d bus.Props, key string, lo, hi float64) netstate.Figure {
		dr := bus.NewReader(d)
		v, ok := dr.Float64(key)
		r.Errs = append(r.Errs, dr.Errs...)
		if !ok || v < lo || v > hi {
			return netstate.Figure{}
		}
		return netstate.Some(v)
	}
	lte, nr, umts, gsm := r.Dict("Lte"), r.Dict("Nr5g"), r.Dict("Umts"), r.Dict("Gsm")
	useLTE := func(d bus.Props) {
		s.RSRP = fig(d, "rsrp", -160, -30)
		s.RSRQ = fig(d, "rsrq", -40, 20)
		s.SINR = fig(d, "snr", -30, 60)
		s.RSSI = fig(d, "rssi", -150, 0)
	}
	switch {
	case tech == netstate.Tech5GNR && len(nr.M) > 0:
		useLTE(nr)
		if !s.RSSI.OK {
			s.RSSI = fig(lte, "rssi", -150, 0)
		}
	case (tech == netstate.TechLTE || tech == netstate.Tech5GNR) && len(lte.M) > 0:
		useLTE(lte)
	case tech >= netstate.TechUMTS && tech <= netstate.TechHSPAPlus && len(umts.M) > 0:
		s.RSCP = fig(umts, "rscp", -150, -20)
		s.EcIo = fig(umts, "ecio", -40, 0)
		s.RSSI = fig(umts, "rssi", -150, 0)
	case tech >= netstate.TechGSM && tech <= netstate.TechEDGE && len(gsm.M) > 0:
		s.RSSI = fig(gsm, "rssi", -150, 0)
	case len(nr.M) > 0:
		useLTE(nr)
	case len(lte.M) > 0:
		useLTE(lte)
	case len(umts.M) > 0:
		s.RSCP = fig(umts, "rscp", -150, -20)
		s.EcIo = fig(umts, "ecio", -40, 0)
		s.RSSI = fig(umts, "rssi", -150, 0)
	case len(gsm.M) > 0:
		s.RSSI = fig(gsm, "rssi", -150, 0)
	}
	return s
}

func (m *Modem) applyLocation(loc map[uint32]dbus.Variant) {
	if v, ok := loc[Location3GPP].Value().(string); ok {
		// "MCC,MNC,LAC,CI,TAC", LAC/CI/TAC in hex.
		f := strings.Split(v, ",")
		if len(f) >= 4 {
			m.MCC, m.MNC, m.LAC, m.CellID = f[0], f[1], hexOrEmpty(f[2]), hexOrEmpty(f[3])
			if len(f) >= 5 {
				m.TAC = hexOrEmpty(f[4])
			}
		}
	}
	if gps, ok := loc[LocationGPSRaw].Value().(map[string]dbus.Variant); ok {
		lat, ok1 := gps["latitude"].Value().(float64)
		lon, ok2 := gps["longitude"].Value().(float64)
		if ok1 && ok2 && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 {
			// Rounded here, before anything can store it: 0.01° is about
			// a kilometre, an area, never a patient's front door.
			m.Latitude, m.Longitude = netstate.Some(areas.Round(lat)), netstate.Some(areas.Round(lon))
		}
	}
}

func hexOrEmpty(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" || strings.Trim(s, "0") == "" {
		return ""
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789ABCDEF", r) {
			return ""
		}
	}
	return s
}

func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

// Tech returns the newest technology in use.
func (m *Modem) Tech() netstate.Tech {
	b := m.TechBits
	switch {
	case b&(1<<15) != 0:
		return netstate.Tech5GNR
	case b&(1<<14|1<<16|1<<17) != 0:
		return netstate.TechLTE
	case b&(1<<9) != 0:
		return netstate.TechHSPAPlus
	case b&(1<<6|1<<7|1<<8) != 0:
		return netstate.TechHSPA
	case b&(1<<5) != 0:
		return netstate.TechUMTS
	case b&(1<<4) != 0:
		return netstate.TechEDGE
	case b&(1<<3) != 0:
		return netstate.TechGPRS
	case b&(1<<1|1<<2) != 0:
		return netstate.TechGSM
	}
	return netstate.TechUnknown
}

// RegistrationState maps MMModem3gppRegistrationState.
func (m *Modem) RegistrationState() netstate.Registration {
	switch m.Registration {
	case 0:
		return netstate.RegIdle
	case 1, 6, 9:
		return netstate.RegHome
	case 2:
		return netstate.RegSearching
	case 3:
		return netstate.RegDenied
	case 5, 7, 10:
		return netstate.RegRoaming
	case 8, 11:
		return netstate.RegEmergency
	}
	return netstate.RegUnknown
}

var stateNames = map[int32]string{-1: "failed", 0: "unknown", 1: "initializing", 2: "locked", 3: "disabled",
	4: "disabling", 5: "enabling", 6: "enabled", 7: "searching", 8: "registered", 9: "disconnecting",
	10: "connecting", 11: "connected"}

// StateName words MMModemState.
func (m *Modem) StateName() string {
	if s, ok := stateNames[m.State]; ok {
		return s
	}
	return fmt.Sprintf("state %d", m.State)
}

var failedReasons = map[uint32]string{1: "unknown failure", 2: "no SIM", 3: "SIM error", 4: "unknown capabilities",
	5: "eSIM without profiles"}

// FailedText words MMModemStateFailedReason when the modem failed.
func (m *Modem) FailedText() string {
	if m.State == 2 {
		return "SIM locked (PIN needed)"
	}
	if m.State != -1 {
		return ""
	}
	if s, ok := failedReasons[m.FailedReason]; ok {
		return s
	}
	return "failed"
}

// LinkState is what the modem alone says of the link (used when
// NetworkManager has no device for it).
func (m *Modem) LinkState() netstate.State {
	switch m.State {
	case -1:
		return netstate.StateFailed
	case 2, 3, 4:
		return netstate.StateUnavailable
	case 10:
		return netstate.StateConnecting
	case 11:
		return netstate.StateConnected
	case 9:
		return netstate.StateDisconnecting
	case 0, 1:
		return netstate.StateUnknown
	}
	return netstate.StateDisconnected
}

// Options tune the client.
type Options struct {
	// SignalRate is the Modem.Signal refresh rate asked of ModemManager
	// (default 5 s).
	SignalRate time.Duration
	// Location3GPP switches on serving-cell reporting (default on: it is
	// the "area" of the reports).
	Location3GPP bool
	// GPS also switches on GPS where the modem has it (default off).
	GPS bool
}

// Client follows ModemManager.
type Client struct {
	m   *bus.Mirror
	opt Options

	mu    sync.Mutex
	setup map[dbus.ObjectPath]*setupMark // modems whose reporting was asked for
}

// setupMark is how switching a modem's reporting on went. A modem that is
// locked or disabled has no Signal interface yet, so a failed Setup is
// tried again each time the modem's state changes (unlocked, enabled),
// and said once.
type setupMark struct {
	state int32 // the modem's state at the last try
	ok    bool
	told  bool
	// asked is when fieldlink last asked for fresh figures because the
	// quality was cached: once a refresh period, not on every change.
	asked time.Time
}

// staleAskEvery bounds how often a cached quality makes fieldlink ask
// ModemManager again: its own "recent" flag lasts 60 s, so once a minute
// is as often as asking can tell anything new.
const staleAskEvery = time.Minute

// New returns a client on conn.
func New(conn *bus.Conn, opt Options) *Client {
	if opt.SignalRate <= 0 {
		opt.SignalRate = 5 * time.Second
	}
	c := &Client{m: bus.NewMirror(conn, Name, Root), opt: opt, setup: map[dbus.ObjectPath]*setupMark{}}
	c.m.Loaded = func(context.Context) {
		c.mu.Lock()
		c.setup = map[dbus.ObjectPath]*setupMark{} // a restarted ModemManager forgot it all
		c.mu.Unlock()
	}
	return c
}

// Mirror exposes the underlying mirror.
func (c *Client) Mirror() *bus.Mirror { return c.m }

// Running reports whether ModemManager is on the bus.
func (c *Client) Running() bool { return c.m.Running() }

// Run follows ModemManager until ctx ends.
func (c *Client) Run(ctx context.Context, changed func()) error {
	return c.m.Run(ctx, func() {
		c.setupNew(ctx)
		changed()
	})
}

// Objects decodes the current modems.
func (c *Client) Objects() Objects {
	var o Objects
	c.m.Read(func(objs bus.Objects) { o = Decode(objs) })
	o.Problems = append(o.Problems, c.m.Problems()...)
	return o
}

// setupNew switches on signal and location reporting for modems seen for
// the first time, and again for those where it failed whose state has
// changed since; ModemManager reports nothing in Modem.Signal until asked.
// A registered modem whose quality has gone cached is asked for fresh
// figures, at most once a minute.
func (c *Client) setupNew(ctx context.Context) {
	todo, marks, stale := c.dueForSetup(time.Now())
	for _, m := range stale {
		c.askFresh(ctx, m)
	}
	conn := c.m.Conn()
	for i, m := range todo {
		_, err := conn.Call(ctx, Name, m.Path, ifaceSignal+".Setup", c.rate())
		c.mu.Lock()
		mk := marks[i]
		mk.ok = err == nil
		tell := err != nil && !mk.told
		mk.told = mk.told || tell
		c.mu.Unlock()
		if tell {
			c.m.Report(&CallFailed{Modem: m.Name(), Op: "Signal.Setup", Err: err})
		}
		var sources uint32
		if c.opt.Location3GPP && m.LocationCaps&Location3GPP != 0 {
			sources |= Location3GPP
		}
		if c.opt.GPS && m.LocationCaps&LocationGPSRaw != 0 {
			sources |= LocationGPSRaw
		}
		if sources == 0 {
			continue
		}
		c.setupLocation(ctx, m, sources)
	}
}

// dueForSetup picks the modems whose reporting must be (re)set up, and the
// registered ones whose quality ModemManager says is cached.
func (c *Client) dueForSetup(now time.Time) (todo []Modem, marks []*setupMark, stale []Modem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.Objects().Modems {
		mk := c.setup[m.Path]
		if mk == nil {
			mk = &setupMark{state: m.State}
			c.setup[m.Path] = mk
		} else if mk.ok || mk.state == m.State {
			if mk.ok && m.cachedWhileRegistered() && now.Sub(mk.asked) >= staleAskEvery {
				mk.asked = now
				stale = append(stale, m)
			}
			continue
		}
		mk.state = m.State
		todo, marks = append(todo, m), append(marks, mk)
	}
	return todo, marks, stale
}

// cachedWhileRegistered: the modem is registered yet ModemManager's quality
// is not recent. ModemManager 1.20 can stop polling after a registration
// flap and keep a 0 % for minutes; a registered modem has a fresher word.
func (m Modem) cachedWhileRegistered() bool {
	r := m.RegistrationState()
	return m.QualityOK && !m.QualityRecent && (r == netstate.RegHome || r == netstate.RegRoaming)
}

// askFresh asks ModemManager for fresh figures: Signal.Setup restarts its
// polling and reads the extended signal at once, whatever the rate was.
func (c *Client) askFresh(ctx context.Context, m Modem) {
	if _, err := c.m.Conn().Call(ctx, Name, m.Path, ifaceSignal+".Setup", c.rate()); err != nil {
		c.m.Report(&CallFailed{Modem: m.Name(), Op: "Signal.Setup (refresh of a cached signal)", Err: err})
	}
}

// rate is the Signal interface's refresh period in whole seconds.
func (c *Client) rate() uint32 {
	return max(1, uint32(c.opt.SignalRate/time.Second))
}

// setupLocation switches on the location sources and reads it once.
func (c *Client) setupLocation(ctx context.Context, m Modem, sources uint32) {
	conn := c.m.Conn()
	if _, err := conn.Call(ctx, Name, m.Path, ifaceLocation+".Setup", sources, true); err != nil {
		c.m.Report(&CallFailed{Modem: m.Name(), Op: "Location.Setup", Err: err})
		return
	}
	// Read it once now; later changes arrive as PropertiesChanged.
	body, err := conn.Call(ctx, Name, m.Path, ifaceLocation+".GetLocation")
	if err == nil && len(body) == 1 {
		if loc, ok := body[0].(map[uint32]dbus.Variant); ok {
			c.m.Update(func(objs bus.Objects) {
				if obj := objs[m.Path]; obj != nil && obj[ifaceLocation] != nil {
					obj[ifaceLocation]["Location"] = dbus.MakeVariant(loc)
				}
			})
		}
	}
}
