// Package join holds what joining a Wi-Fi network takes: the request a
// screen sends (which network, and for 802.1X the method, the user name and
// the server's domain), IT's policy of who may join which networks, and the
// NetworkManager settings of a new profile.
//
// No key passes through here. A request has no field for one: the profile
// is made without it, NetworkManager asks fieldlink's secret agent, the
// agent asks the person at the screen (masked), and NetworkManager keeps it
// in its own root-only profile. fieldlink never stores it.
package join

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/godbus/dbus/v5"
	"github.com/google/uuid"
)

// Securities fieldlink can join, as nm.AP.Security names them.
const (
	Open       = "open"
	OWE        = "owe" // "enhanced open": encrypted, no key
	WEP        = "wep"
	WPA        = "wpa-psk"
	WPA2       = "wpa2-psk"
	WPA3       = "wpa3-sae"
	Enterprise = "802.1x"
)

// Label is how a screen names a security: short, in the words printed on
// the router's sticker.
func Label(security string) string {
	switch security {
	case Open:
		return "open"
	case OWE:
		return "open, encrypted"
	case WEP:
		return "WEP (unsafe)"
	case WPA:
		return "WPA"
	case WPA2:
		return "WPA2"
	case WPA3:
		return "WPA3"
	case Enterprise:
		return "802.1X log-in"
	}
	return security
}

// EAP methods offered for 802.1X: the two that eduroam, GovWifi and most
// NHS trusts use with a user name and password.
const (
	PEAP = "peap"
	TTLS = "ttls"
)

// Request asks the instance in charge to join a network. It carries no
// secret (see the package comment).
type Request struct {
	SSID string `json:"ssid"`
	// Interface is the Wi-Fi device; "" for the first one.
	Interface string `json:"interface,omitempty"`
	// EAP, Identity and Domain are for 802.1X networks: the method (peap
	// or ttls), the user name, and the domain the server's certificate
	// must be for (checked against the system's CAs). Without a domain
	// any certificate is accepted, as nmtui does, and the screen says so.
	EAP      string `json:"eap,omitempty"`
	Identity string `json:"identity,omitempty"`
	Domain   string `json:"domain,omitempty"`
}

// Validate says what is wrong with a request, in words for the screen.
func (r Request) Validate() error {
	if r.SSID == "" {
		return errors.New("no network was named")
	}
	if len(r.SSID) > 32 {
		return fmt.Errorf("a network name is at most 32 bytes; %q is %d", r.SSID, len(r.SSID))
	}
	for _, f := range []struct{ name, v string }{{"network name", r.SSID}, {"user name", r.Identity}, {"server domain", r.Domain}, {"interface", r.Interface}} {
		if !utf8.ValidString(f.v) || strings.IndexFunc(f.v, unicode.IsControl) >= 0 {
			return fmt.Errorf("the %s holds characters that cannot be typed", f.name)
		}
	}
	if len(r.Identity) > 253 || len(r.Domain) > 253 || len(r.Interface) > 15 {
		return errors.New("a field of the request is too long")
	}
	switch r.EAP {
	case "", PEAP, TTLS:
	default:
		return fmt.Errorf("802.1X method %q is not one fieldlink offers (peap, ttls)", r.EAP)
	}
	return nil
}

// Settings are a new profile's settings for joining r, a network of the
// given security. The secret is left out and its flags say NetworkManager
// keeps it (0, system-owned): NetworkManager asks the agent for it on the
// first activation and saves what the person typed in its own profile, so
// the network is joined by itself next time.
func Settings(r Request, security string) (map[string]map[string]dbus.Variant, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	s := map[string]map[string]dbus.Variant{
		"connection": {
			"id":          dbus.MakeVariant(r.SSID),
			"uuid":        dbus.MakeVariant(uuid.NewString()),
			"type":        dbus.MakeVariant("802-11-wireless"),
			"autoconnect": dbus.MakeVariant(true),
		},
		"802-11-wireless": {
			"ssid": dbus.MakeVariant([]byte(r.SSID)),
			"mode": dbus.MakeVariant("infrastructure"),
		},
		"ipv4": {"method": dbus.MakeVariant("auto")},
		"ipv6": {"method": dbus.MakeVariant("auto")},
	}
	if r.Interface != "" {
		s["connection"]["interface-name"] = dbus.MakeVariant(r.Interface)
	}
	sec := func(keyMgmt string) map[string]dbus.Variant {
		m := map[string]dbus.Variant{"key-mgmt": dbus.MakeVariant(keyMgmt)}
		s["802-11-wireless"]["security"] = dbus.MakeVariant("802-11-wireless-security")
		s["802-11-wireless-security"] = m
		return m
	}
	switch security {
	case Open:
	case OWE:
		sec("owe")
	case WPA, WPA2:
		sec("wpa-psk")["psk-flags"] = dbus.MakeVariant(uint32(0))
	case WPA3:
		sec("sae")["psk-flags"] = dbus.MakeVariant(uint32(0))
	case Enterprise:
		if r.Identity == "" {
			return nil, errors.New("an 802.1X network needs your user name")
		}
		sec("wpa-eap")
		eap, phase2 := r.EAP, "mschapv2"
		if eap == "" {
			eap = PEAP
		}
		if eap == TTLS {
			phase2 = "pap"
		}
		x := map[string]dbus.Variant{
			"eap":            dbus.MakeVariant([]string{eap}),
			"identity":       dbus.MakeVariant(r.Identity),
			"phase2-auth":    dbus.MakeVariant(phase2),
			"password-flags": dbus.MakeVariant(uint32(0)),
		}
		if r.Domain != "" {
			x["system-ca-certs"] = dbus.MakeVariant(true)
			x["domain-suffix-match"] = dbus.MakeVariant(r.Domain)
		}
		s["802-1x"] = x
	case WEP:
		return nil, errors.New("WEP is broken and fieldlink does not join it; ask IT")
	default:
		return nil, fmt.Errorf("fieldlink cannot join a network secured by %q", security)
	}
	return s, nil
}
