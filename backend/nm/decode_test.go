package nm

import (
	"slices"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// TestIP4NameServersAndRoutes: what a technician asks first (which name
// servers, which routes at which metric) comes from the IP4Config: the
// dictionaries of NetworkManager 1.14 on, and the older integer
// Nameservers; a route that does not parse is left out, not guessed.
func TestIP4NameServersAndRoutes(t *testing.T) {
	ip := decodeIP4(bus.NewReader(bus.Props{Path: "/ip4/1", Iface: ifaceIP4, M: map[string]dbus.Variant{
		"RouteData": dbus.MakeVariant([]map[string]dbus.Variant{
			{"dest": dbus.MakeVariant("0.0.0.0"), "prefix": dbus.MakeVariant(uint32(0)), "next-hop": dbus.MakeVariant("10.99.0.1"), "metric": dbus.MakeVariant(uint32(100))},
			{"dest": dbus.MakeVariant("10.99.0.0"), "prefix": dbus.MakeVariant(uint32(24)), "metric": dbus.MakeVariant(uint32(100))},
			{"dest": dbus.MakeVariant("not an address"), "prefix": dbus.MakeVariant(uint32(8))},
		}),
		"NameserverData": dbus.MakeVariant([]map[string]dbus.Variant{{"address": dbus.MakeVariant("10.99.0.53")}}),
	}}))
	want := []netstate.Route{{Dest: "0.0.0.0/0", NextHop: "10.99.0.1", Metric: 100}, {Dest: "10.99.0.0/24", Metric: 100}}
	if !slices.Equal(ip.Routes, want) || ip.DefaultMetric != 100 || !slices.Equal(ip.DNS, []string{"10.99.0.53"}) {
		t.Fatalf("routes %+v, metric %d, dns %v", ip.Routes, ip.DefaultMetric, ip.DNS)
	}
	if s := ip.Routes[0].String(); s != "default via 10.99.0.1 metric 100" {
		t.Errorf("route words %q", s)
	}
	old := decodeIP4(bus.NewReader(bus.Props{Path: "/ip4/2", Iface: ifaceIP4, M: map[string]dbus.Variant{
		"Nameservers": dbus.MakeVariant([]uint32{0x3500080a}), // 10.8.0.53 in network order
	}}))
	if !slices.Equal(old.DNS, []string{"10.8.0.53"}) {
		t.Errorf("the older Nameservers: %v", old.DNS)
	}
}
