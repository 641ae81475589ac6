package agent

import (
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

// FuzzPrompt feeds the agent what NetworkManager could send in
// GetSecrets (any profile type, any setting, odd hints, wrong value
// types): it must always produce a prompt with something to type and
// never panic; a VPN's reply must be a string map under vpn.secrets.
func FuzzPrompt(f *testing.F) {
	f.Add("802-11-wireless", "802-11-wireless-security", "wpa-psk", []byte("NHS-Community"), "psk", true)
	f.Add("vpn", "vpn", "", []byte{}, "password\x00x-vpn-message:Enter the code\x00otp", false)
	f.Add("802-3-ethernet", "802-1x", "", []byte{0xff, 0xfe}, "", false)
	f.Add("gsm", "gsm", "", []byte("x"), "pin", true)
	f.Add("wireguard", "wireguard", "", []byte(nil), "-", false)
	f.Fuzz(func(t *testing.T, typ, setting, keyMgmt string, ssid []byte, hints string, wrongTypes bool) {
		conn := map[string]map[string]dbus.Variant{
			"connection":      {"id": dbus.MakeVariant("p"), "type": dbus.MakeVariant(typ)},
			"802-11-wireless": {"ssid": dbus.MakeVariant(ssid)},
			setting:           {"key-mgmt": dbus.MakeVariant(keyMgmt)},
		}
		if wrongTypes {
			conn["connection"]["id"] = dbus.MakeVariant(uint32(7))
			conn["802-11-wireless"]["ssid"] = dbus.MakeVariant([]string{"x"})
			conn[setting]["identity"] = dbus.MakeVariant(map[string]string{})
		}
		var hs []string
		if hints != "" {
			hs = strings.Split(hints, "\x00")
		}
		name := describe(conn)
		r, section, vpn := prompt(conn, setting, hs, name)
		if len(r.Fields) == 0 || r.Title == "" {
			t.Fatalf("nothing to ask: %+v", r)
		}
		secretField := false
		vals := map[string]string{}
		for _, f := range r.Fields {
			if f.Label == "" {
				t.Fatalf("a field with no label: %+v", r.Fields)
			}
			secretField = secretField || f.Secret
			vals[f.Key] = "v"
		}
		if !secretField {
			t.Fatalf("no secret asked: %+v", r.Fields)
		}
		_ = fieldNames(r.Fields)
		out := secrets(section, vpn, vals)
		if vpn {
			if _, ok := out[section]["secrets"].Value().(map[string]string); !ok {
				t.Fatalf("VPN reply %v", out)
			}
		}
	})
}
