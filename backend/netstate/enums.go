// Package netstate holds fieldlink's picture of the network: links, their
// signal figures, their level (green / amber / red) and snapshots of all of
// it. It does no I/O; sources translate D-Bus or scenario files into these
// types at the edge.
package netstate

import (
	"fmt"
	"strings"
)

// Kind is what a link is made of.
type Kind int

// Link kinds, in no particular order; preference order lives in the config.
const (
	KindOther Kind = iota
	KindEthernet
	KindWiFi
	KindCellular
	KindVPN
)

var kindNames = []string{"other", "ethernet", "wifi", "cellular", "vpn"}
var kindLabels = []string{"Other", "Wired", "Wi-Fi", "Cellular", "VPN"}

// String is the stable machine name used in JSON, config and the journal.
func (k Kind) String() string { return enumName(kindNames, int(k)) }

// Label is the name a clinician reads on screen.
func (k Kind) Label() string { return enumName(kindLabels, int(k)) }

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	s := strings.ToLower(string(b))
	switch s {
	case "wired", "ethernet":
		*k = KindEthernet
		return nil
	case "wi-fi", "wifi", "wlan":
		*k = KindWiFi
		return nil
	case "cellular", "mobile", "gsm", "wwan":
		*k = KindCellular
		return nil
	}
	return parseEnum(kindNames, "link kind", b, (*int)(k))
}

// ParseKind parses a kind name as written in config and scenario files.
func ParseKind(s string) (Kind, error) {
	var k Kind
	err := k.UnmarshalText([]byte(s))
	return k, err
}

// Level is how usable something is, ordered so that a larger value is
// better; the zero value means "not known yet".
type Level int

// Levels, worst known first.
const (
	LevelUnknown Level = iota
	LevelRed
	LevelAmber
	LevelGreen
)

var levelNames = []string{"unknown", "red", "amber", "green"}
var levelWords = []string{"NO DATA", "DO NOT PROCEED", "MARGINAL", "GO"}

// String is the stable machine name (unknown, red, amber, green).
func (l Level) String() string { return enumName(levelNames, int(l)) }

// Word is what the traffic light says, so the level never rests on color.
func (l Level) Word() string { return enumName(levelWords, int(l)) }

// MarshalText implements encoding.TextMarshaler.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *Level) UnmarshalText(b []byte) error { return parseEnum(levelNames, "level", b, (*int)(l)) }

// Worse returns the worse of two known levels; an unknown level never hides
// a known one.
func Worse(a, b Level) Level {
	switch {
	case a == LevelUnknown:
		return b
	case b == LevelUnknown:
		return a
	case a < b:
		return a
	}
	return b
}

// State is the life-cycle of a link, folded from NetworkManager's device and
// active-connection states into what a user needs to know.
type State int

// Link states.
const (
	StateUnknown State = iota
	StateUnmanaged
	StateUnavailable
	StateDisconnected
	StateConnecting
	StateConnected
	StateDisconnecting
	StateFailed
)

var stateNames = []string{"unknown", "unmanaged", "unavailable", "disconnected", "connecting", "connected", "disconnecting", "failed"}

// String is the stable machine name.
func (s State) String() string { return enumName(stateNames, int(s)) }

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *State) UnmarshalText(b []byte) error {
	return parseEnum(stateNames, "link state", b, (*int)(s))
}

// Tech is a cellular radio access technology, ordered from oldest to newest.
type Tech int

// Access technologies.
const (
	TechUnknown Tech = iota
	TechGSM
	TechGPRS
	TechEDGE
	TechUMTS
	TechHSPA
	TechHSPAPlus
	TechLTE
	Tech5GNR
)

var techNames = []string{"unknown", "gsm", "gprs", "edge", "umts", "hspa", "hspa+", "lte", "5gnr"}
var techLabels = []string{"?", "GSM", "GPRS", "EDGE", "UMTS", "HSPA", "HSPA+", "LTE", "5G NR"}
var techGenerations = []string{"", "2G", "2G", "2G", "3G", "3G", "3G", "4G", "5G"}

// String is the stable machine name.
func (t Tech) String() string { return enumName(techNames, int(t)) }

// Label is the technology as engineers write it (LTE, HSPA+).
func (t Tech) Label() string { return enumName(techLabels, int(t)) }

// Generation is the marketing generation a clinician recognises (4G).
func (t Tech) Generation() string {
	if int(t) < 0 || int(t) >= len(techGenerations) {
		return ""
	}
	return techGenerations[t]
}

// MarshalText implements encoding.TextMarshaler.
func (t Tech) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Tech) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "5g", "nr", "nr5g":
		*t = Tech5GNR
		return nil
	case "4g":
		*t = TechLTE
		return nil
	case "3g":
		*t = TechUMTS
		return nil
	case "2g":
		*t = TechGSM
		return nil
	case "hspap", "hspa-plus":
		*t = TechHSPAPlus
		return nil
	}
	return parseEnum(techNames, "access technology", b, (*int)(t))
}

// Registration is a modem's 3GPP registration state.
type Registration int

// Registration states.
const (
	RegUnknown Registration = iota
	RegIdle
	RegHome
	RegSearching
	RegDenied
	RegRoaming
	RegEmergency
)

var regNames = []string{"unknown", "idle", "home", "searching", "denied", "roaming", "emergency-only"}

// String is the stable machine name.
func (r Registration) String() string { return enumName(regNames, int(r)) }

// Registered reports whether the modem can carry data on a network.
func (r Registration) Registered() bool { return r == RegHome || r == RegRoaming }

// MarshalText implements encoding.TextMarshaler.
func (r Registration) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Registration) UnmarshalText(b []byte) error {
	return parseEnum(regNames, "registration state", b, (*int)(r))
}

// Connectivity is NetworkManager's connectivity verdict.
type Connectivity int

// Connectivity states, in NetworkManager's order.
const (
	ConnUnknown Connectivity = iota
	ConnNone
	ConnPortal
	ConnLimited
	ConnFull
)

var connNames = []string{"unknown", "none", "portal", "limited", "full"}

// String is the stable machine name.
func (c Connectivity) String() string { return enumName(connNames, int(c)) }

// MarshalText implements encoding.TextMarshaler.
func (c Connectivity) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Connectivity) UnmarshalText(b []byte) error {
	return parseEnum(connNames, "connectivity", b, (*int)(c))
}

// Tristate is a yes/no that may not be known, such as a device's carrier.
type Tristate int8

// Tristate values.
const (
	Unknown Tristate = iota
	No
	Yes
)

// Bool turns a known boolean into a Tristate.
func Bool(b bool) Tristate {
	if b {
		return Yes
	}
	return No
}

// String returns "yes", "no" or "unknown".
func (t Tristate) String() string {
	switch t {
	case Yes:
		return "yes"
	case No:
		return "no"
	}
	return "unknown"
}

// MarshalJSON writes true, false or null.
func (t Tristate) MarshalJSON() ([]byte, error) {
	switch t {
	case Yes:
		return []byte("true"), nil
	case No:
		return []byte("false"), nil
	}
	return []byte("null"), nil
}

// UnmarshalJSON reads true, false or null.
func (t *Tristate) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*t = Yes
	case "false":
		*t = No
	case "null":
		*t = Unknown
	default:
		return fmt.Errorf("tristate: want true, false or null, got %s", b)
	}
	return nil
}

func enumName(names []string, i int) string {
	if i < 0 || i >= len(names) {
		return names[0]
	}
	return names[i]
}

func parseEnum(names []string, what string, b []byte, out *int) error {
	s := strings.ToLower(strings.TrimSpace(string(b)))
	for i, n := range names {
		if n == s {
			*out = i
			return nil
		}
	}
	return fmt.Errorf("unknown %s %q (want one of %s)", what, string(b), strings.Join(names, ", "))
}
