// Package sim is the simulated network source behind --demo and the tests:
// scenario files describe links and a timeline of changes, and a player
// turns them into snapshots, as the real NetworkManager source does.
package sim

import (
	"errors"
	"fmt"
	"github.com/fieldlink/fieldlink/backend/areas"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Scenario is a parsed scenario file.
type Scenario struct {
	// Name is the file's base name without extension ("home-visit").
	Name  string
	File  string
	Title string
	About string
	// Links hold the initial state. The default route is not scripted: as
	// with NetworkManager, it goes to the connected link with the lowest
	// route metric (wired, then Wi-Fi, then cellular; demoted links last).
	Links    []netstate.Link
	Services []netstate.Service
	// Activation is how long a profile takes to come up when fieldlink
	// activates it, per link ID (default DefaultActivation).
	Activation map[string]time.Duration
	Steps      []Step
	// Loop restarts the timeline from the initial state after this long;
	// zero plays once and then holds the last state.
	Loop time.Duration
}

// DefaultActivation is how long a simulated profile takes to activate.
const DefaultActivation = 1500 * time.Millisecond

// Op is what a timeline step does.
type Op int

// Timeline operations.
const (
	OpSet     Op = iota // change settings of a link
	OpNote              // an event for the events pane
	OpService           // a service stops or starts
	OpAdd               // a link appears (modem plugged in)
	OpRemove            // a link disappears
)

// Step is one "at" line of the timeline.
type Step struct {
	At       time.Duration
	Line     int
	Op       Op
	Target   string // link ID or service name
	Kind     netstate.Kind
	Settings []Setting
	Text     string
	Running  bool
}

// Setting is one "key args..." pair.
type Setting struct {
	Key  string
	Args []string
	Line int
}

// ParseError is a problem at a line of a scenario file.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// LoadFile parses a scenario from disk.
func LoadFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	defer f.Close()
	return Parse(path, f)
}

// maxScenarioBytes keeps a mistaken --scenario /dev/zero from eating memory.
const maxScenarioBytes = 1 << 20

// Parse reads a scenario; name is used in errors and for the scenario name.
func Parse(name string, r io.Reader) (*Scenario, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxScenarioBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxScenarioBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes; is this a scenario file?", name, maxScenarioBytes)
	}
	p := parser{sc: &Scenario{File: name, Name: strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)),
		Activation: map[string]time.Duration{}}}
	for i, line := range strings.Split(string(b), "\n") {
		p.line = i + 1
		toks, err := tokenize(line)
		if err != nil {
			p.fail("%v", err)
			continue
		}
		if len(toks) > 0 {
			p.directive(toks)
		}
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	if len(p.sc.Links) == 0 {
		return nil, &ParseError{name, 1, "no links declared (add a line like: link wlan0 wifi)"}
	}
	if p.sc.Loop > 0 && len(p.sc.Steps) > 0 && p.sc.Loop < p.sc.Steps[len(p.sc.Steps)-1].At {
		return nil, &ParseError{name, p.loopLine, "loop time is before the last step"}
	}
	return p.sc, nil
}

type parser struct {
	sc       *Scenario
	line     int
	current  *netstate.Link // link block being filled
	lastAt   time.Duration
	loopLine int
	errs     []error
}

func (p *parser) fail(format string, a ...any) {
	if len(p.errs) < 20 {
		msg := fmt.Sprintf(format, a...)
		if r := []rune(msg); len(r) > 200 {
			// A runaway token (a binary file passed as a scenario) must not
			// turn into a megabyte of error message.
			msg = string(r[:200]) + "…"
		}
		p.errs = append(p.errs, &ParseError{p.sc.File, p.line, msg})
	}
}

func (p *parser) directive(toks []string) {
	switch toks[0] {
	case "scenario":
		p.current = nil
		if len(toks) != 2 {
			p.fail(`want: scenario "Title"`)
			return
		}
		p.sc.Title = toks[1]
	case "about":
		p.current = nil
		if len(toks) != 2 {
			p.fail(`want: about "one sentence"`)
			return
		}
		p.sc.About = toks[1]
	case "link":
		p.linkDecl(toks)
	case "service":
		p.current = nil
		if len(toks) != 3 {
			p.fail("want: service NAME running|stopped")
			return
		}
		run, err := runningWord(toks[2])
		if err != nil {
			p.fail("%v", err)
			return
		}
		p.sc.Services = setService(p.sc.Services, toks[1], run)
	case "at":
		p.current = nil
		p.step(toks)
	case "loop":
		p.current = nil
		if len(toks) != 2 {
			p.fail("want: loop TIME")
			return
		}
		d, err := parseTime(toks[1])
		if err != nil {
			p.fail("%v", err)
			return
		}
		if d < time.Second {
			// A shorter loop would spin the player without a pause.
			p.fail("loop time %s is shorter than one second", toks[1])
			return
		}
		p.sc.Loop, p.loopLine = d, p.line
	default:
		if p.current == nil {
			p.fail("unknown directive %q (want scenario, about, link, service, at or loop)", toks[0])
			return
		}
		settings, err := splitSettings(toks, p.line)
		if err != nil {
			p.fail("%v", err)
			return
		}
		for _, s := range settings {
			if err := p.applyInitial(s); err != nil {
				p.fail("%v", err)
			}
		}
	}
}

func (p *parser) linkDecl(toks []string) {
	p.current = nil
	if len(toks) != 3 {
		p.fail("want: link ID KIND (for example: link wlan0 wifi)")
		return
	}
	id := toks[1]
	if !validID(id) {
		p.fail("link id %q: use letters, digits, '-', '_' or ':'", id)
		return
	}
	for _, l := range p.sc.Links {
		if l.ID == id {
			p.fail("link %q declared twice", id)
			return
		}
	}
	kind, err := netstate.ParseKind(toks[2])
	if err != nil {
		p.fail("%v", err)
		return
	}
	p.sc.Links = append(p.sc.Links, newLink(id, kind))
	p.current = &p.sc.Links[len(p.sc.Links)-1]
}

func newLink(id string, kind netstate.Kind) netstate.Link {
	return netstate.Link{ID: id, Kind: kind, Interface: id, State: netstate.StateDisconnected}
}

// applyInitial applies a setting inside a link block; "activate-after" is a
// scenario-level fact and handled here.
func (p *parser) applyInitial(s Setting) error {
	l := p.current
	switch s.Key {
	case "activate-after":
		d, err := parseTime(s.Args[0])
		if err != nil {
			return err
		}
		p.sc.Activation[l.ID] = d
		return nil
	}
	return apply(l, s)
}

func (p *parser) step(toks []string) {
	if len(toks) < 3 {
		p.fail("want: at TIME LINK setting... | at TIME note \"text\" | at TIME service NAME running|stopped")
		return
	}
	at, err := parseTime(toks[1])
	if err != nil {
		p.fail("%v", err)
		return
	}
	if at < p.lastAt {
		p.fail("time %s is before the previous step (%s); keep the timeline in order", toks[1], fmtTime(p.lastAt))
		return
	}
	p.lastAt = at
	st := Step{At: at, Line: p.line}
	switch toks[2] {
	case "note":
		if len(toks) != 4 {
			p.fail(`want: at TIME note "text"`)
			return
		}
		st.Op, st.Text = OpNote, toks[3]
	case "service":
		if len(toks) != 5 {
			p.fail("want: at TIME service NAME running|stopped")
			return
		}
		run, err := runningWord(toks[4])
		if err != nil {
			p.fail("%v", err)
			return
		}
		st.Op, st.Target, st.Running = OpService, toks[3], run
	case "remove":
		if len(toks) != 4 {
			p.fail("want: at TIME remove LINK")
			return
		}
		if !p.knownLink(toks[3]) {
			p.fail("unknown link %q", toks[3])
			return
		}
		st.Op, st.Target = OpRemove, toks[3]
	case "add":
		if len(toks) < 5 {
			p.fail("want: at TIME add LINK KIND settings...")
			return
		}
		kind, err := netstate.ParseKind(toks[4])
		if err != nil {
			p.fail("%v", err)
			return
		}
		settings, err := splitSettings(toks[5:], p.line)
		if err != nil {
			p.fail("%v", err)
			return
		}
		scratch := newLink(toks[3], kind)
		for _, s := range settings {
			if err := checkStepSetting(&scratch, s); err != nil {
				p.fail("%v", err)
				return
			}
		}
		st.Op, st.Target, st.Kind, st.Settings = OpAdd, toks[3], kind, settings
	default:
		target := toks[2]
		l := p.findLink(target)
		if l == nil {
			p.fail("unknown link %q (declare it with: link %s KIND)", target, target)
			return
		}
		settings, err := splitSettings(toks[3:], p.line)
		if err != nil {
			p.fail("%v", err)
			return
		}
		if len(settings) == 0 {
			p.fail("nothing to change on %s", target)
			return
		}
		scratch := l.Clone()
		for _, s := range settings {
			if err := checkStepSetting(&scratch, s); err != nil {
				p.fail("%v", err)
				return
			}
		}
		st.Op, st.Target, st.Settings = OpSet, target, settings
	}
	p.sc.Steps = append(p.sc.Steps, st)
}

func checkStepSetting(l *netstate.Link, s Setting) error {
	if s.Key == "activate-after" {
		return errors.New("activate-after belongs in the link block, not the timeline")
	}
	return apply(l, s)
}

func (p *parser) findLink(id string) *netstate.Link {
	for i := range p.sc.Links {
		if p.sc.Links[i].ID == id {
			return &p.sc.Links[i]
		}
	}
	return nil
}

func (p *parser) knownLink(id string) bool {
	if p.findLink(id) != nil {
		return true
	}
	for _, st := range p.sc.Steps {
		if st.Op == OpAdd && st.Target == id {
			return true
		}
	}
	return false
}

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

// parseTime reads "1:30", "0:05.5", "1:02:03", or Go durations ("90s").
func parseTime(s string) (time.Duration, error) {
	if !strings.Contains(s, ":") {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("time %q: want M:SS (0:30) or a duration (30s)", s)
		}
		return d, nil
	}
	parts := strings.Split(s, ":")
	bad := fmt.Errorf("time %q: want M:SS or H:MM:SS", s)
	if len(parts) > 3 {
		return 0, bad
	}
	var whole int64
	for i, p := range parts[:len(parts)-1] {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 || (i > 0 && n >= 60) {
			return 0, bad
		}
		whole = whole*60 + n
	}
	sec, err := strconv.ParseFloat(parts[len(parts)-1], 64)
	if err != nil || sec < 0 || sec >= 60 || sec != sec {
		return 0, bad
	}
	return time.Duration(whole)*time.Minute + time.Duration(sec*float64(time.Second)), nil
}

func fmtTime(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// tokenize splits a line into words and double-quoted strings, dropping
// a trailing # comment.
func tokenize(line string) ([]string, error) {
	var toks []string
	rs := []rune(line)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == '#':
			return toks, nil
		case unicode.IsSpace(r):
			i++
		case r == '"':
			var b strings.Builder
			i++
			closed := false
			for i < len(rs) {
				c := rs[i]
				if c == '\\' && i+1 < len(rs) {
					b.WriteRune(rs[i+1])
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				b.WriteRune(c)
				i++
			}
			if !closed {
				return nil, errors.New("unterminated quoted string")
			}
			toks = append(toks, b.String())
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && rs[j] != '"' && rs[j] != '#' {
				j++
			}
			toks = append(toks, string(rs[i:j]))
			i = j
		}
	}
	return toks, nil
}

// VPNProfile is the profile of the scenario's first VPN link, or "": the
// demo keeps it up as the config's [vpn] profile would be.
func (sc *Scenario) VPNProfile() string {
	for _, l := range sc.Links {
		if l.Kind != netstate.KindVPN {
			continue
		}
		if l.Profile != "" {
			return l.Profile
		}
		if len(l.Profiles) > 0 {
			return l.Profiles[0]
		}
	}
	return ""
}
