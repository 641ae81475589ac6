package sim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// arity is how many arguments each setting takes; -1 means it depends on
// the arguments (see variableArity).
var arity = map[string]int{
	"state": 1, "carrier": 1, "profile": 1, "saved": 1, "model": 1, "reason": 1,
	"ssid": 1, "bssid": 1, "strength": 1, "frequency": 1, "security": 1, "ap": -1,
	"operator": 1, "plmn": 1, "sim": 1, "tech": 1, "registration": 1, "modem-failed": 1,
	"rssi": 1, "rsrp": 1, "rsrq": 1, "sinr": 1, "rscp": 1, "ecio": 1, "quality": 1,
	"lac": 1, "tac": 1, "cell": 1, "gps": 2,
	"address": 1, "gateway": 1, "metered": 1, "connectivity": 1,
	"probe": -1, "loss": 1, "activate-after": 1,
}

// splitSettings groups a line's tokens into settings by their arity.
func splitSettings(toks []string, line int) ([]Setting, error) {
	var out []Setting
	for i := 0; i < len(toks); {
		key := toks[i]
		n, ok := arity[key]
		if !ok {
			return nil, fmt.Errorf("unknown setting %q%s", key, suggest(key))
		}
		if n < 0 {
			n = variableArity(key, toks[i+1:])
		}
		if i+n >= len(toks) {
			return nil, fmt.Errorf("%s needs %d value(s)", key, n)
		}
		out = append(out, Setting{Key: key, Args: toks[i+1 : i+1+n], Line: line})
		i += 1 + n
	}
	return out, nil
}

// variableArity sizes "probe" (ok RTT | fail REASON | portal | none) and
// "ap" (SSID STRENGTH [FREQUENCY] [SECURITY] | SSID gone), which may be
// followed by further settings on the same line.
func variableArity(key string, rest []string) int {
	if key == "probe" {
		if len(rest) > 0 && (rest[0] == "ok" || rest[0] == "fail") {
			return 2
		}
		return 1
	}
	n := 0
	for n < len(rest) && n < 4 {
		if _, isKey := arity[rest[n]]; isKey && n >= 2 {
			break
		}
		n++
	}
	return n
}

func suggest(key string) string {
	if len(key) > 24 {
		return "" // nothing that long is a typo of a setting
	}
	best, bestD := "", 3
	for k := range arity {
		if d := editDistance(key, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// apply changes one field of a link; it is used both at parse time (to
// check) and while playing.
func apply(l *netstate.Link, s Setting) error {
	a := s.Args
	var err error
	switch s.Key {
	case "state":
		err = l.State.UnmarshalText([]byte(a[0]))
	case "carrier":
		l.Carrier, err = tristate(a[0])
	case "profile":
		l.Profile = a[0]
		if a[0] != "" && !contains(l.Profiles, a[0]) {
			l.Profiles = append(l.Profiles, a[0])
		}
	case "saved":
		if !contains(l.Profiles, a[0]) {
			l.Profiles = append(l.Profiles, a[0])
		}
	case "model":
		l.Model = a[0]
	case "reason":
		l.StateReason = a[0]
	case "ssid":
		l.WiFi.SSID = a[0]
	case "bssid":
		l.WiFi.BSSID = a[0]
	case "frequency":
		var f float64
		f, err = number(a[0], 0, 100000)
		l.WiFi.FrequencyMHz = uint32(f)
	case "security":
		l.WiFi.Security = a[0]
	case "strength":
		l.Signal.Strength, err = figure(a[0], 0, 100)
	case "ap":
		err = applyAP(l, a)
	case "operator":
		l.Cell.Operator = a[0]
	case "plmn":
		l.Cell.MCC, l.Cell.MNC, err = plmn(a[0])
	case "sim":
		l.Cell.SIM.MCC, l.Cell.SIM.MNC, err = plmn(a[0])
	case "tech":
		err = l.Cell.Tech.UnmarshalText([]byte(a[0]))
	case "registration":
		err = l.Cell.Registration.UnmarshalText([]byte(a[0]))
	case "modem-failed":
		l.Cell.FailedReason = a[0]
		if a[0] == "none" {
			l.Cell.FailedReason = ""
		}
	case "rssi":
		l.Signal.RSSI, err = figure(a[0], -150, 0)
	case "rsrp":
		l.Signal.RSRP, err = figure(a[0], -160, -30)
	case "rsrq":
		l.Signal.RSRQ, err = figure(a[0], -40, 10)
	case "sinr":
		l.Signal.SINR, err = figure(a[0], -30, 50)
	case "rscp":
		l.Signal.RSCP, err = figure(a[0], -150, -20)
	case "ecio":
		l.Signal.EcIo, err = figure(a[0], -40, 0)
	case "quality":
		l.Signal.Quality, err = figure(a[0], 0, 100)
	case "lac":
		l.Cell.LAC = a[0]
	case "tac":
		l.Cell.TAC = a[0]
	case "cell":
		l.Cell.CellID = a[0]
	case "gps":
		if l.Cell.Latitude, err = figure(a[0], -90, 90); err == nil {
			l.Cell.Longitude, err = figure(a[1], -180, 180)
		}
		// As the modem decoder does: a scenario never holds a finer
		// position than a real device would store.
		l.Cell.Latitude.V, l.Cell.Longitude.V = areas.Round(l.Cell.Latitude.V), areas.Round(l.Cell.Longitude.V)
	case "address":
		l.Addresses = nil
		if a[0] != "none" {
			l.Addresses = []string{a[0]}
		}
	case "gateway":
		l.Gateway = a[0]
	case "metered":
		l.Metered, err = tristate(a[0])
	case "connectivity":
		err = l.Connectivity.UnmarshalText([]byte(a[0]))
	case "probe":
		err = applyProbe(l, a)
	case "loss":
		l.Probe.Loss, err = percent(a[0])
	default:
		err = fmt.Errorf("setting %q cannot be used here", s.Key)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.Key, err)
	}
	return nil
}

// applyAP handles: ap "SSID" STRENGTH [FREQ] [SECURITY] | ap "SSID" gone
func applyAP(l *netstate.Link, a []string) error {
	if len(a) < 2 || len(a) > 4 {
		return errors.New(`want: ap "SSID" STRENGTH [FREQUENCY] [SECURITY] or ap "SSID" gone`)
	}
	ssid := a[0]
	idx := -1
	for i, ap := range l.WiFi.AccessPoints {
		if ap.SSID == ssid {
			idx = i
		}
	}
	if a[1] == "gone" {
		if idx < 0 {
			return fmt.Errorf("no access point %q to remove", ssid)
		}
		l.WiFi.AccessPoints = append(l.WiFi.AccessPoints[:idx:idx], l.WiFi.AccessPoints[idx+1:]...)
		return nil
	}
	st, err := number(a[1], 0, 100)
	if err != nil {
		return err
	}
	ap := netstate.AccessPoint{SSID: ssid, Strength: uint8(st)}
	if idx >= 0 {
		ap = l.WiFi.AccessPoints[idx]
		ap.Strength = uint8(st)
	}
	if len(a) > 2 {
		f, err := number(a[2], 0, 100000)
		if err != nil {
			return err
		}
		ap.FrequencyMHz = uint32(f)
	}
	if len(a) > 3 {
		ap.Security = a[3]
	}
	if idx >= 0 {
		l.WiFi.AccessPoints[idx] = ap
	} else {
		l.WiFi.AccessPoints = append(l.WiFi.AccessPoints, ap)
	}
	return nil
}

// applyProbe handles: probe ok RTT | probe fail REASON | probe portal | probe none
func applyProbe(l *netstate.Link, a []string) error {
	if len(a) == 0 {
		return errors.New("want: probe ok RTT | probe fail REASON | probe portal | probe none")
	}
	switch a[0] {
	case "ok":
		if len(a) != 2 {
			return errors.New("want: probe ok RTT (for example 38ms)")
		}
		d, err := time.ParseDuration(a[1])
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a round-trip time like 38ms", a[1])
		}
		l.Probe.OK, l.Probe.Portal, l.Probe.Reason, l.Probe.Failures = netstate.Yes, false, "", 0
		l.Probe.RTT = netstate.Some(float64(d) / float64(time.Millisecond))
	case "fail":
		if len(a) != 2 {
			return errors.New(`want: probe fail REASON (for example timeout)`)
		}
		l.Probe.OK, l.Probe.Portal, l.Probe.Reason, l.Probe.RTT = netstate.No, false, a[1], netstate.Figure{}
		l.Probe.Failures++
	case "portal":
		if len(a) != 1 {
			return errors.New("want: probe portal")
		}
		l.Probe.OK, l.Probe.Portal, l.Probe.Reason, l.Probe.RTT = netstate.No, true, "sign-in page", netstate.Figure{}
	case "none":
		if len(a) != 1 {
			return errors.New("want: probe none")
		}
		l.Probe = netstate.Probe{}
	default:
		return fmt.Errorf("unknown probe result %q (want ok, fail, portal or none)", a[0])
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func validID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == ':' || r == '.' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

func number(s string, lo, hi float64) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != v {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%s is outside %g…%g", s, lo, hi)
	}
	return v, nil
}

func figure(s string, lo, hi float64) (netstate.Figure, error) {
	if s == "none" {
		return netstate.Figure{}, nil
	}
	v, err := number(strings.TrimSuffix(strings.TrimSuffix(s, "dBm"), "dB"), lo, hi)
	if err != nil {
		return netstate.Figure{}, err
	}
	return netstate.Some(v), nil
}

func percent(s string) (netstate.Figure, error) {
	if s == "none" {
		return netstate.Figure{}, nil
	}
	v, err := number(strings.TrimSuffix(s, "%"), 0, 100)
	if err != nil {
		return netstate.Figure{}, err
	}
	return netstate.Some(v), nil
}

func plmn(s string) (string, string, error) {
	mcc, mnc, ok := strings.Cut(s, "-")
	if !ok || len(mcc) != 3 || len(mnc) < 2 || len(mnc) > 3 || !digits(mcc) || !digits(mnc) {
		return "", "", fmt.Errorf("%q is not MCC-MNC like 234-30", s)
	}
	return mcc, mnc, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func yesNo(s string) (bool, error) {
	switch s {
	case "yes", "on", "true":
		return true, nil
	case "no", "off", "false":
		return false, nil
	}
	return false, fmt.Errorf("want yes or no, got %q", s)
}

func tristate(s string) (netstate.Tristate, error) {
	if s == "unknown" {
		return netstate.Unknown, nil
	}
	b, err := yesNo(s)
	if err != nil {
		return netstate.Unknown, err
	}
	return netstate.Bool(b), nil
}

func runningWord(s string) (bool, error) {
	switch s {
	case "running", "started", "up":
		return true, nil
	case "stopped", "down":
		return false, nil
	}
	return false, fmt.Errorf("want running or stopped, got %q", s)
}

func setService(list []netstate.Service, name string, running bool) []netstate.Service {
	for i := range list {
		if list[i].Name == name {
			list[i].Running = running
			return list
		}
	}
	return append(list, netstate.Service{Name: name, Running: running})
}
