package system

import (
	"sort"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/mm"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/nm"
)

// baseline is a realistic set of NetworkManager and ModemManager objects:
// a Wi-Fi device with an access point, a modem device, and the modem.
func baseline() (bus.Objects, bus.Objects) {
	v := dbus.MakeVariant
	nmObjs := bus.Objects{
		"/org/freedesktop/NetworkManager": {"org.freedesktop.NetworkManager": {
			"State": v(uint32(70)), "Connectivity": v(uint32(4)), "PrimaryConnection": v(dbus.ObjectPath("/a/1")),
			"ActiveConnections": v([]dbus.ObjectPath{"/a/1"}), "WirelessEnabled": v(true), "WwanEnabled": v(true), "Version": v("1.42.4")}},
		"/d/1": {
			"org.freedesktop.NetworkManager.Device": {"Interface": v("wlan0"), "IpInterface": v("wlan0"), "DeviceType": v(uint32(2)),
				"State": v(uint32(100)), "StateReason": v(struct{ A, B uint32 }{100, 0}), "ActiveConnection": v(dbus.ObjectPath("/a/1")),
				"Ip4Config": v(dbus.ObjectPath("/ip/1")), "Managed": v(true), "Metered": v(uint32(4)), "Ip4Connectivity": v(uint32(4)),
				"AvailableConnections": v([]dbus.ObjectPath{"/s/1"}), "Udi": v("/sys/x"), "Driver": v("iwlwifi")},
			"org.freedesktop.NetworkManager.Device.Wireless": {"ActiveAccessPoint": v(dbus.ObjectPath("/ap/1")),
				"AccessPoints": v([]dbus.ObjectPath{"/ap/1"})},
		},
		"/d/2": {
			"org.freedesktop.NetworkManager.Device": {"Interface": v("cdc-wdm0"), "DeviceType": v(uint32(8)), "State": v(uint32(30)),
				"Udi": v("/m/0")},
			"org.freedesktop.NetworkManager.Device.Modem": {"OperatorCode": v("23430"), "Apn": v("everywhere")},
		},
		"/ap/1": {"org.freedesktop.NetworkManager.AccessPoint": {"Ssid": v([]byte("NHS")), "Strength": v(byte(72)),
			"Frequency": v(uint32(5180)), "HwAddress": v("00:11"), "Flags": v(uint32(1)), "WpaFlags": v(uint32(0)), "RsnFlags": v(uint32(0x100))}},
		"/a/1": {"org.freedesktop.NetworkManager.Connection.Active": {"Id": v("NHS"), "Uuid": v("u"), "Type": v("802-11-wireless"),
			"Devices": v([]dbus.ObjectPath{"/d/1"}), "State": v(uint32(2)), "Default": v(true), "Vpn": v(false),
			"Ip4Config": v(dbus.ObjectPath("/ip/1")), "Connection": v(dbus.ObjectPath("/s/1"))}},
		"/ip/1": {"org.freedesktop.NetworkManager.IP4Config": {"AddressData": v([]map[string]dbus.Variant{
			{"address": v("10.0.0.2"), "prefix": v(uint32(24))}}), "Gateway": v("10.0.0.1")}},
	}
	mmObjs := bus.Objects{
		"/m/0": {
			"org.freedesktop.ModemManager1.Modem": {"PrimaryPort": v("cdc-wdm0"), "State": v(int32(8)), "StateFailedReason": v(uint32(0)),
				"AccessTechnologies": v(uint32(1 << 14)), "SignalQuality": v(struct {
					Q uint32
					R bool
				}{70, true}), "Sim": v(dbus.ObjectPath("/sim/0")), "Manufacturer": v("Sierra"), "Model": v("EM7511"),
				"Ports": v([]struct {
					N string
					T uint32
				}{{"cdc-wdm0", 6}})},
			"org.freedesktop.ModemManager1.Modem.Modem3gpp": {"OperatorName": v("EE"), "OperatorCode": v("23430"), "RegistrationState": v(uint32(1))},
			"org.freedesktop.ModemManager1.Modem.Signal": {"Rate": v(uint32(5)), "Lte": v(map[string]dbus.Variant{"rsrp": v(-95.0), "snr": v(14.0)}),
				"Umts": v(map[string]dbus.Variant{}), "Nr5g": v(map[string]dbus.Variant{}), "Gsm": v(map[string]dbus.Variant{})},
			"org.freedesktop.ModemManager1.Modem.Location": {"Capabilities": v(uint32(1)), "Location": v(map[uint32]dbus.Variant{1: v("234,30,FFFE,1A2B3C,1A2B")})},
		},
		"/sim/0": {"org.freedesktop.ModemManager1.Sim": {"OperatorIdentifier": v("23430"), "OperatorName": v("EE")}},
	}
	return nmObjs, mmObjs
}

type slot struct {
	objs        bus.Objects
	path        dbus.ObjectPath
	iface, prop string
}

func slots(nmObjs, mmObjs bus.Objects) []slot {
	var out []slot
	for _, objs := range []bus.Objects{nmObjs, mmObjs} {
		for p, ifaces := range objs {
			for i, props := range ifaces {
				for k := range props {
					out = append(out, slot{objs, p, i, k})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return string(a.path)+a.iface+a.prop < string(b.path)+b.iface+b.prop
	})
	return out
}

// FuzzDecode puts a value of any D-Bus type in any property and decodes:
// no panic, ever, whatever a daemon sends.
func FuzzDecode(f *testing.F) {
	f.Add(uint16(0), []byte{0, 'h', 'i'})
	f.Add(uint16(5), []byte{5, 7, 0, 0, 0})
	f.Add(uint16(9), []byte{13, 2, 0, 'r', 9, 1})
	f.Add(uint16(12), []byte{16, 1, 2})
	f.Add(uint16(20), []byte{11, 0x1b, '[', '2', 'J'})
	f.Add(uint16(33), []byte{14, 1, 5, 1})
	f.Add(uint16(41), []byte{15, 1, 0, 9, 1})
	f.Fuzz(func(t *testing.T, which uint16, data []byte) {
		g := &gen{data: data}
		val := g.variant(0)
		nmObjs, mmObjs := baseline()
		all := slots(nmObjs, mmObjs)
		sl := all[int(which)%len(all)]
		sl.objs[sl.path][sl.iface][sl.prop] = val
		n := nm.Decode(nmObjs)
		m := mm.Decode(mmObjs)
		snap := Build(Input{NM: n, NMRunning: true, MM: m, MMRunning: true}, time.Unix(0, 0))
		netstate.Apply(&snap, netstate.DefaultThresholds())
		for _, l := range snap.Links {
			for _, r := range l.WiFi.SSID + l.Cell.Operator {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("control character reached the screen: %q", l.WiFi.SSID+l.Cell.Operator)
				}
			}
		}
	})
}

// gen turns fuzzer bytes into a D-Bus value of any type: godbus's text
// parser hangs and panics on some inputs, so it cannot be the generator.
type gen struct {
	data []byte
	i    int
}

func (g *gen) byte() byte {
	if g.i >= len(g.data) {
		return 0
	}
	b := g.data[g.i]
	g.i++
	return b
}

func (g *gen) n(max int) int { return int(g.byte()) % (max + 1) }

func (g *gen) str() string {
	n := g.n(16)
	b := make([]byte, 0, n)
	for i := 0; i < n; i++ {
		b = append(b, g.byte())
	}
	return string(b)
}

func (g *gen) u32() uint32 {
	return uint32(g.byte()) | uint32(g.byte())<<8 | uint32(g.byte())<<16 | uint32(g.byte())<<24
}

func (g *gen) variant(depth int) dbus.Variant { return dbus.MakeVariant(g.value(depth)) }

func (g *gen) value(depth int) any {
	kind := g.n(17)
	if depth > 3 && kind >= 12 {
		kind = 0
	}
	switch kind {
	case 0:
		return g.str()
	case 1:
		return g.byte()&1 == 1
	case 2:
		return g.byte()
	case 3:
		return int16(g.u32())
	case 4:
		return uint16(g.u32())
	case 5:
		return g.u32()
	case 6:
		return int32(g.u32())
	case 7:
		return int64(g.u32()) - 1<<31
	case 8:
		return uint64(g.u32()) << 16
	case 9:
		return float64(int32(g.u32())) / 7
	case 10:
		return dbus.ObjectPath("/" + string(rune('a'+g.n(25))))
	case 11:
		return []byte(g.str())
	case 12:
		out := []string{}
		for i := g.n(3); i > 0; i-- {
			out = append(out, g.str())
		}
		return out
	case 13:
		keys := []string{"rsrp", "snr", "rssi", "rscp", "ecio", "address", "prefix", "latitude", "longitude", ""}
		m := map[string]dbus.Variant{}
		for i := g.n(3); i > 0; i-- {
			k := keys[g.n(9)]
			if k == "" {
				k = g.str()
			}
			m[k] = g.variant(depth + 1)
		}
		return m
	case 14:
		out := []map[string]dbus.Variant{}
		for i := g.n(2); i > 0; i-- {
			out = append(out, map[string]dbus.Variant{"address": g.variant(depth + 1), "prefix": g.variant(depth + 1)})
		}
		return out
	case 15:
		m := map[uint32]dbus.Variant{}
		for i := g.n(2); i > 0; i-- {
			m[uint32(g.n(3))] = g.variant(depth + 1)
		}
		return m
	case 16:
		return []any{g.value(depth + 1), g.value(depth + 1)}
	}
	return g.variant(depth + 1)
}

func TestBaselineBuildsOneWiFiAndOneModem(t *testing.T) {
	nmObjs, mmObjs := baseline()
	n, m := nm.Decode(nmObjs), mm.Decode(mmObjs)
	if len(n.Problems)+len(m.Problems) != 0 {
		t.Fatalf("baseline problems: %v %v", n.Problems, m.Problems)
	}
	snap := Build(Input{NM: n, NMRunning: true, MM: m, MMRunning: true}, time.Unix(0, 0))
	if len(snap.Links) != 2 || snap.Primary != "wlan0" {
		t.Fatalf("links %+v", snap.Links)
	}
	cell := snap.Link("cdc-wdm0")
	if cell == nil || cell.Cell.Operator != "EE" || cell.Signal.RSRP.V != -95 || cell.Cell.TAC != "1A2B" || cell.Cell.CellID != "1A2B3C" || cell.Cell.LAC != "" {
		t.Fatalf("cellular %+v", cell)
	}
}
