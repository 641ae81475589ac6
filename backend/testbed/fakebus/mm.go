package fakebus

import (
	"fmt"
	"sync"

	"github.com/godbus/dbus/v5"
)

// ModemManager names, from ../shared/dbus-api/modemmanager.
const (
	MMName     = "org.freedesktop.ModemManager1"
	MMRoot     = dbus.ObjectPath("/org/freedesktop/ModemManager1")
	MMModem    = "org.freedesktop.ModemManager1.Modem"
	MM3gpp     = "org.freedesktop.ModemManager1.Modem.Modem3gpp"
	MMSignal   = "org.freedesktop.ModemManager1.Modem.Signal"
	MMLocation = "org.freedesktop.ModemManager1.Modem.Location"
	MMSimple   = "org.freedesktop.ModemManager1.Modem.Simple"
	MMSim      = "org.freedesktop.ModemManager1.Sim"
)

// Access technology bits (MMModemAccessTechnology).
const (
	TechGSM  = 1 << 1
	TechEDGE = 1 << 4
	TechUMTS = 1 << 5
	TechHSPA = 1 << 8
	TechLTE  = 1 << 14
	Tech5GNR = 1 << 15
)

// ModemSpec describes a fake modem.
type ModemSpec struct {
	// PathPrefix replaces /org/freedesktop/ModemManager1/Modem/ (clients
	// must not assume it).
	PathPrefix   string
	PrimaryPort  string
	Manufacturer string
	Model        string
	State        int32  // MMModemState, 8 = registered
	Tech         uint32 // MMModemAccessTechnology bits
	Quality      uint32
	Operator     string
	OperatorCode string // "23430"
	Registration uint32 // 1 home, 5 roaming, 3 denied
	SimOperator  string
	SimCode      string
	// Signal figures per technology ("lte": {"rsrp": -95, ...}); published
	// only after a client calls Signal.Setup with a rate, as ModemManager
	// does.
	Signal map[string]map[string]float64
	// Location3GPP is "MCC,MNC,LAC,CI,TAC"; empty means no location
	// capability.
	Location3GPP string
	// GPS is the raw fix (latitude, longitude) for a modem with a GPS
	// receiver; nil means no GPS capability.
	GPS *[2]float64
}

// MM is a fake ModemManager.
type MM struct {
	*Service
	mu     sync.Mutex
	n      int
	modems map[dbus.ObjectPath]*ModemSpec
}

// NewMM starts a fake ModemManager with no modems.
func NewMM(addr string) (*MM, error) {
	s, err := NewService(addr, MMName, MMRoot)
	if err != nil {
		return nil, err
	}
	m := &MM{Service: s, modems: map[dbus.ObjectPath]*ModemSpec{}}
	s.Handle("org.freedesktop.ModemManager1.ScanDevices", func(Call) ([]any, error) { return nil, nil })
	s.Handle(MMSignal+".Setup", func(c Call) ([]any, error) {
		rate, _ := arg[uint32](c, 0)
		m.Set(c.Path, MMSignal, map[string]any{"Rate": rate})
		if rate > 0 {
			m.publishSignal(c.Path)
		}
		return nil, nil
	})
	s.Handle(MMLocation+".Setup", func(c Call) ([]any, error) {
		sources, _ := arg[uint32](c, 0)
		signal, _ := arg[bool](c, 1)
		m.Set(c.Path, MMLocation, map[string]any{"Enabled": sources, "SignalsLocation": signal})
		if signal {
			m.Set(c.Path, MMLocation, map[string]any{"Location": m.location(c.Path)})
		}
		return nil, nil
	})
	s.Handle(MMLocation+".GetLocation", func(c Call) ([]any, error) { return []any{m.location(c.Path)}, nil })
	return m, nil
}

type su struct {
	Name string
	Type uint32
}

type ub struct {
	Q      uint32
	Recent bool
}

// AddModem plugs a modem in.
func (m *MM) AddModem(spec ModemSpec) dbus.ObjectPath {
	m.mu.Lock()
	m.n++
	prefix := spec.PathPrefix
	if prefix == "" {
		prefix = string(MMRoot) + "/Modem/"
	}
	path := dbus.ObjectPath(fmt.Sprintf("%s%d", prefix, m.n-1))
	sim := dbus.ObjectPath(fmt.Sprintf("%s/SIM/%d", MMRoot, m.n-1))
	sp := spec
	m.modems[path] = &sp
	m.mu.Unlock()
	if spec.SimCode != "" {
		m.Add(sim, map[string]map[string]any{MMSim: {"Active": true, "OperatorIdentifier": spec.SimCode,
			"OperatorName": spec.SimOperator, "SimIdentifier": "8944000000000000000", "Imsi": "234300000000000"}})
	} else {
		sim = "/"
	}
	locCaps := uint32(0)
	if spec.Location3GPP != "" {
		locCaps |= 1
	}
	if spec.GPS != nil {
		locCaps |= 2
	}
	m.Add(path, map[string]map[string]any{
		MMModem: {"Sim": sim, "SimSlots": []dbus.ObjectPath{}, "PrimarySimSlot": uint32(0), "Bearers": []dbus.ObjectPath{},
			"Manufacturer": spec.Manufacturer, "Model": spec.Model, "Revision": "1", "DeviceIdentifier": "abc",
			"Device": "/sys/devices/usb1", "Drivers": []string{"qmi_wwan"}, "Plugin": "generic", "PrimaryPort": spec.PrimaryPort,
			"Ports": []su{{spec.PrimaryPort, 6}, {"wwan0", 2}}, "EquipmentIdentifier": "350000000000000",
			"UnlockRequired": uint32(1), "State": spec.State, "StateFailedReason": uint32(0),
			"AccessTechnologies": spec.Tech, "SignalQuality": ub{spec.Quality, true}, "OwnNumbers": []string{"+447700900000"},
			"PowerState": uint32(3), "CurrentCapabilities": uint32(4)},
		MM3gpp: {"Imei": "350000000000000", "RegistrationState": spec.Registration, "OperatorCode": spec.OperatorCode,
			"OperatorName": spec.Operator, "EnabledFacilityLocks": uint32(0)},
		MMSignal: {"Rate": uint32(0), "Lte": map[string]dbus.Variant{}, "Nr5g": map[string]dbus.Variant{},
			"Umts": map[string]dbus.Variant{}, "Gsm": map[string]dbus.Variant{}},
		MMLocation: {"Capabilities": locCaps, "Enabled": uint32(0), "SignalsLocation": false,
			"Location": map[uint32]dbus.Variant{}},
		MMSimple: {},
	})
	return path
}

// RemoveModem unplugs a modem.
func (m *MM) RemoveModem(path dbus.ObjectPath) {
	m.mu.Lock()
	delete(m.modems, path)
	m.mu.Unlock()
	m.Remove(path)
}

// SetSignal changes a modem's figures for one technology ("lte", "umts",
// "nr5g", "gsm"); they are published if a client has set up a rate.
func (m *MM) SetSignal(path dbus.ObjectPath, tech string, figures map[string]float64) {
	m.mu.Lock()
	spec := m.modems[path]
	spec.Signal = map[string]map[string]float64{tech: figures}
	m.mu.Unlock()
	if rate, _ := m.Prop(path, MMSignal, "Rate"); rate != uint32(0) {
		m.publishSignal(path)
	}
}

var signalProp = map[string]string{"lte": "Lte", "nr5g": "Nr5g", "umts": "Umts", "gsm": "Gsm"}

func (m *MM) publishSignal(path dbus.ObjectPath) {
	m.mu.Lock()
	spec := m.modems[path]
	props := map[string]any{}
	for tech, prop := range signalProp {
		d := map[string]dbus.Variant{}
		for k, v := range spec.Signal[tech] {
			d[k] = dbus.MakeVariant(v)
		}
		props[prop] = d
	}
	m.mu.Unlock()
	m.Set(path, MMSignal, props)
}

func (m *MM) location(path dbus.ObjectPath) map[uint32]dbus.Variant {
	enabled, _ := m.Prop(path, MMLocation, "Enabled")
	on, _ := enabled.(uint32)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[uint32]dbus.Variant{}
	spec := m.modems[path]
	if spec == nil {
		return out
	}
	// ModemManager reports only the sources a client has enabled.
	if spec.Location3GPP != "" && on&1 != 0 {
		out[1] = dbus.MakeVariant(spec.Location3GPP)
	}
	if spec.GPS != nil && on&2 != 0 {
		out[2] = dbus.MakeVariant(map[string]dbus.Variant{
			"utc-time":  dbus.MakeVariant("104512.00"),
			"latitude":  dbus.MakeVariant(spec.GPS[0]),
			"longitude": dbus.MakeVariant(spec.GPS[1]),
			"altitude":  dbus.MakeVariant(112.5),
		})
	}
	return out
}

// SetLocation moves a modem: a new serving cell and, if it has GPS, a new
// fix; published to clients that enabled location signals.
func (m *MM) SetLocation(path dbus.ObjectPath, cell string, gps *[2]float64) {
	m.mu.Lock()
	if spec := m.modems[path]; spec != nil {
		spec.Location3GPP, spec.GPS = cell, gps
	}
	m.mu.Unlock()
	if sig, _ := m.Prop(path, MMLocation, "SignalsLocation"); sig == true {
		m.Set(path, MMLocation, map[string]any{"Location": m.location(path)})
	}
}

// SetRegistration changes operator and registration, as roaming does.
func (m *MM) SetRegistration(path dbus.ObjectPath, operator, code string, reg uint32) {
	m.Set(path, MM3gpp, map[string]any{"OperatorName": operator, "OperatorCode": code, "RegistrationState": reg})
}

// SetTech changes the access technology.
func (m *MM) SetTech(path dbus.ObjectPath, tech uint32) {
	m.Set(path, MMModem, map[string]any{"AccessTechnologies": tech})
}

// SetState changes the modem state.
func (m *MM) SetState(path dbus.ObjectPath, state int32) {
	old, _ := m.Prop(path, MMModem, "State")
	m.Set(path, MMModem, map[string]any{"State": state})
	o, _ := old.(int32)
	m.Emit(path, MMModem+".StateChanged", o, state, uint32(0))
}

// SetQuality changes Modem.SignalQuality; recent false is ModemManager's
// "cached" (its figure is older than a minute).
func (m *MM) SetQuality(path dbus.ObjectPath, q uint32, recent bool) {
	m.Set(path, MMModem, map[string]any{"SignalQuality": ub{q, recent}})
}
