package mm

import (
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
)

func modemObjects(props map[string]dbus.Variant) bus.Objects {
	return bus.Objects{"/org/freedesktop/ModemManager1/Modem/3": {ifaceModem: props}}
}

// TestDecodeUnlockRetries: the tries left come through; a property of the
// wrong type is a problem naming the object, not a silent "no tries known"
// (the PIN prompt's stop before the last try depends on it).
func TestDecodeUnlockRetries(t *testing.T) {
	good := Decode(modemObjects(map[string]dbus.Variant{
		"State": dbus.MakeVariant(int32(2)), "UnlockRequired": dbus.MakeVariant(uint32(2)),
		"UnlockRetries": dbus.MakeVariant(map[uint32]uint32{2: 3, 4: 10}),
	}))
	if len(good.Problems) != 0 || len(good.Modems) != 1 || good.Modems[0].Retries[2] != 3 {
		t.Fatalf("good retries: %+v problems %v", good.Modems, good.Problems)
	}
	bad := Decode(modemObjects(map[string]dbus.Variant{
		"State": dbus.MakeVariant(int32(2)), "UnlockRetries": dbus.MakeVariant(map[string]int32{"sim-pin": 3}),
	}))
	if len(bad.Problems) != 1 {
		t.Fatalf("wrong type: problems %v, want one", bad.Problems)
	}
	msg := bad.Problems[0].Error()
	for _, want := range []string{"/org/freedesktop/ModemManager1/Modem/3", "UnlockRetries", "a{uu}", "a{si}"} {
		if !strings.Contains(msg, want) {
			t.Errorf("problem %q lacks %q", msg, want)
		}
	}
	if bad.Modems[0].Retries != nil {
		t.Errorf("retries from a wrong type: %v", bad.Modems[0].Retries)
	}
}

// TestCachedWhileRegistered: only a registered modem's cached figure is
// worth asking again about; an unregistered modem has nothing fresher.
func TestCachedWhileRegistered(t *testing.T) {
	for _, c := range []struct {
		reg            uint32
		ok, recent, is bool
	}{
		{1, true, false, true}, {5, true, false, true}, {1, true, true, false}, {2, true, false, false}, {0, true, false, false}, {1, false, false, false},
	} {
		m := Modem{Has3GPP: true, Registration: c.reg, QualityOK: c.ok, QualityRecent: c.recent}
		if got := m.cachedWhileRegistered(); got != c.is {
			t.Errorf("registration %d ok %v recent %v: cached-while-registered %v, want %v", c.reg, c.ok, c.recent, got, c.is)
		}
	}
}
