package agent

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/godbus/dbus/v5"
)

func str(conn map[string]map[string]dbus.Variant, section, key string) string {
	switch v := conn[section][key].Value().(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

// describe names a profile for the person at the screen.
func describe(conn map[string]map[string]dbus.Variant) string {
	id := str(conn, "connection", "id")
	switch str(conn, "connection", "type") {
	case "802-11-wireless":
		if ssid := str(conn, "802-11-wireless", "ssid"); ssid != "" {
			return "Wi-Fi network " + ssid
		}
		return "Wi-Fi " + id
	case "vpn", "wireguard":
		return "VPN " + id
	case "gsm":
		return "mobile data " + id
	case "802-3-ethernet":
		return "wired network " + id
	}
	return id
}

// prompt works out what to ask for which setting.
func prompt(conn map[string]map[string]dbus.Variant, setting string, hints []string, name string) (Request, string, bool) {
	r := Request{}
	secret := func(key, label string) { r.Fields = append(r.Fields, Field{Key: key, Label: label, Secret: true}) }
	switch setting {
	case "802-11-wireless-security":
		r.Title = name + " needs its key"
		switch str(conn, setting, "key-mgmt") {
		case "none":
			secret("wep-key0", "WEP key")
		case "wpa-eap", "ieee8021x":
			secret("password", "Password") // handled as 802-1x below by NetworkManager, rarely here
		default:
			secret("psk", "Wi-Fi key")
		}
		return r, setting, false
	case "802-1x":
		r.Title = name + " needs your network log-in"
		if id := str(conn, "802-1x", "identity"); id != "" {
			r.Fields = append(r.Fields, Field{Key: "identity", Label: "User", Value: id})
		} else {
			r.Fields = append(r.Fields, Field{Key: "identity", Label: "User"})
		}
		secret("password", "Password")
		return r, setting, false
	case "vpn":
		r.Title = name + " needs your log-in"
		for _, k := range vpnKeys(conn, hints) {
			secret(k, label(k))
		}
		return r, setting, true
	case "wireguard":
		r.Title = name + " needs its private key"
		secret("private-key", "Private key")
		return r, setting, false
	}
	// Mobile data and anything newer: the keys NetworkManager hints at.
	r.Title = name + " needs a secret"
	if setting != "gsm" {
		r.Title += " (" + setting + ")"
	}
	keys := hints
	if len(keys) == 0 {
		keys = []string{"password"}
	}
	for _, k := range keys {
		secret(k, label(k))
	}
	return r, setting, false
}

func label(key string) string {
	switch strings.ToLower(key) {
	case "password":
		return "Password"
	case "pin":
		return "PIN"
	case "otp", "token", "2fa", "challenge", "code":
		return "One-time code"
	case "cert-pass":
		return "Key passphrase (smartcard PIN)"
	case "psk":
		return "Wi-Fi key"
	}
	k := strings.TrimSpace(strings.NewReplacer("-", " ", "_", " ").Replace(key))
	if k == "" {
		return "Secret"
	}
	r, n := utf8.DecodeRuneInString(k)
	return string(unicode.ToUpper(r)) + k[n:]
}

// secrets builds GetSecrets' reply. A VPN's secrets are a string map under
// vpn.secrets; every other setting's are plain keys.
func secrets(section string, vpn bool, values map[string]string) map[string]map[string]dbus.Variant {
	out := map[string]map[string]dbus.Variant{section: {}}
	if vpn {
		m := map[string]string{}
		for k, v := range values {
			m[k] = v
		}
		out[section]["secrets"] = dbus.MakeVariant(m)
		return out
	}
	for k, v := range values {
		out[section][k] = dbus.MakeVariant(v)
	}
	return out
}

func fieldNames(fs []Field) string {
	var names []string
	for _, f := range fs {
		if f.Secret {
			l := f.Label
			if !strings.HasPrefix(l, "Wi-Fi") && !strings.HasPrefix(l, "PIN") && !strings.HasPrefix(l, "WEP") {
				r, n := utf8.DecodeRuneInString(l)
				l = string(unicode.ToLower(r)) + l[n:]
			}
			names = append(names, l)
		}
	}
	if len(names) == 0 {
		return "details"
	}
	return strings.Join(names, " and ")
}

// vpnKeys are the secrets a VPN request asks for: the plugin's hints when
// it gives them, else the profile's agent-owned secrets (a key "x" whose
// "x-flags" has NM_SETTING_SECRET_FLAG_AGENT_OWNED), else the password.
// Only these ever go back: NetworkManager saves any other key into the
// profile, and every later activation of it fails.
func vpnKeys(conn map[string]map[string]dbus.Variant, hints []string) []string {
	var keys []string
	for _, h := range hints {
		if h != "" && !strings.HasPrefix(h, "x-vpn-message:") {
			keys = append(keys, h)
		}
	}
	if len(keys) == 0 {
		data, _ := conn["vpn"]["data"].Value().(map[string]string)
		for k, v := range data {
			name, ok := strings.CutSuffix(k, "-flags")
			if !ok {
				continue
			}
			flags, err := strconv.ParseUint(v, 10, 32)
			// 0x1 agent-owned, 0x2 not saved (asked each time), 0x4 not
			// required.
			if err == nil && flags&0x3 != 0 && flags&0x4 == 0 {
				keys = append(keys, name)
			}
		}
	}
	if len(keys) == 0 {
		keys = []string{"password"}
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if (keys[i] == "password") != (keys[j] == "password") {
			return keys[i] == "password"
		}
		return keys[i] < keys[j]
	})
	return keys
}

// vpnMessage is the plugin's message among a request's hints.
func vpnMessage(hints []string) string {
	for _, h := range hints {
		if msg, ok := strings.CutPrefix(h, "x-vpn-message:"); ok {
			return msg
		}
	}
	return ""
}

// refusalMessage reports whether a plugin's message is its own "ask
// again" (network-manager-openvpn after AUTH_FAILED) rather than the
// server's challenge.
func refusalMessage(msg string) bool {
	return strings.HasPrefix(msg, "A password is required")
}

// vpnName is a VPN's profile name from its description ("VPN NHS-VPN").
func vpnName(desc string) string { return strings.TrimPrefix(desc, "VPN ") }

func keysOf(fs []Field) []string {
	keys := make([]string, 0, len(fs))
	for _, f := range fs {
		keys = append(keys, f.Key)
	}
	return keys
}
