package bus

import (
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

func props(m map[string]any) Props {
	v := map[string]dbus.Variant{}
	for k, x := range m {
		v[k] = dbus.MakeVariant(x)
	}
	return Props{Path: "/org/freedesktop/NetworkManager/AccessPoint/7", Iface: "org.freedesktop.NetworkManager.AccessPoint", M: v}
}

func TestTypedReadsNameObjectAndProperty(t *testing.T) {
	p := props(map[string]any{"Strength": "strong", "Frequency": uint32(5180), "Flags": int32(-1), "Ssid": []byte("x"),
		"Mode": uint8(2), "Big": uint64(1 << 40)})
	_, err := p.Byte("Strength")
	want := "/org/freedesktop/NetworkManager/AccessPoint/7 org.freedesktop.NetworkManager.AccessPoint.Strength: want byte (y), got s"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if v, err := p.Uint32("Frequency"); err != nil || v != 5180 {
		t.Fatal(v, err)
	}
	// Integers of another width or sign are accepted when they fit.
	if v, err := p.Uint32("Mode"); err != nil || v != 2 {
		t.Fatal(v, err)
	}
	if _, err := p.Uint32("Flags"); err == nil || !strings.Contains(err.Error(), "out of range (-1)") {
		t.Fatalf("negative into uint32: %v", err)
	}
	if _, err := p.Uint32("Big"); err == nil {
		t.Fatal("2^40 into uint32 accepted")
	}
	_, err = p.String("Missing")
	if pe, ok := err.(*PropError); !ok || !pe.Missing() || !strings.HasSuffix(err.Error(), "Missing: missing") {
		t.Fatalf("missing: %v", err)
	}
	r := NewReader(p)
	if v, ok := r.Byte("Strength"); ok || v != 0 {
		t.Fatal("bad value must read as absent")
	}
	r.String("Missing") // missing is not an error for a Reader
	if len(r.Errs) != 1 {
		t.Fatalf("reader errors %v", r.Errs)
	}
	if r.Path("Nope") != "" {
		t.Fatal("missing path")
	}
	pp := props(map[string]any{"ActiveAccessPoint": dbus.ObjectPath("/")})
	if NewReader(pp).Path("ActiveAccessPoint") != "" {
		t.Fatal(`"/" means none`)
	}
}

func TestMatchRuleRendering(t *testing.T) {
	m := Match{Sender: "org.freedesktop.NetworkManager", Interface: "org.freedesktop.DBus.Properties",
		Member: "PropertiesChanged", PathNamespace: "/org/freedesktop/NetworkManager", Arg0: "it's"}
	want := `type='signal',sender='org.freedesktop.NetworkManager',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path_namespace='/org/freedesktop/NetworkManager',arg0='it'\''s'`
	if m.String() != want {
		t.Fatalf("got  %s\nwant %s", m.String(), want)
	}
}

func TestSignalParsingRejectsOddBodies(t *testing.T) {
	odd := []*dbus.Signal{
		{Name: propsIface + ".PropertiesChanged", Body: []any{uint32(1)}},
		{Name: propsIface + ".PropertiesChanged", Body: []any{"iface", "not a map", []string{}}},
		{Name: objMgrIface + ".InterfacesAdded", Body: []any{"not a path", map[string]map[string]dbus.Variant{}}},
		{Name: objMgrIface + ".InterfacesRemoved", Body: []any{dbus.ObjectPath("/x")}},
	}
	for _, s := range odd {
		var err error
		switch s.Name {
		case propsIface + ".PropertiesChanged":
			_, err = ParsePropertiesChanged(s)
		case objMgrIface + ".InterfacesAdded":
			_, err = ParseInterfacesAdded(s)
		default:
			_, err = ParseInterfacesRemoved(s)
		}
		if err == nil {
			t.Errorf("accepted %+v", s.Body)
		}
	}
	if _, ok := ParseNameOwnerChanged(&dbus.Signal{Name: nameOwnerSig, Body: []any{"a", 1, "c"}}); ok {
		t.Error("odd NameOwnerChanged accepted")
	}
	if _, err := PathArg(&dbus.Signal{Name: "x", Body: []any{"s"}}); err == nil {
		t.Error("odd path arg accepted")
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"no such device":            "no such device",
		"first line\nsecond\nthird": "first line …",
		"Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad":   "ValueError: bad",
		"org.foo.Error: Traceback (most recent call last):\n  File \"x\"\nKeyError: 'k'": "org.foo.Error: KeyError: 'k'",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
