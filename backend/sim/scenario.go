// Package sim is the simulated network source behind --demo and the tests:
// scenario files describe links and a timeline of changes, and a player
// turns them into snapshots, as the real NetworkManager source does.
package sim

import (
	"errors"
	"fmt"
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
