// Package theme holds fieldlink's look: the glyphs (Unicode or ASCII), the
// high-contrast styles, and the rules that pick them from the terminal.
// Every component draws through a Theme, so the traffic light reads the
// same everywhere and never rests on color alone.
package theme

import (
	"image/color"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Options choose a theme.
type Options struct {
	// ASCII swaps every glyph for plain ASCII: the Linux console font and
	// non-UTF-8 locales lack block and shape characters.
	ASCII bool
	// NoColor draws with attributes only (bold, reverse), for NO_COLOR and
	// monochrome terminals; the words and shapes still carry the meaning.
	NoColor bool
}

// Glyphs are the characters a theme draws with.
type Glyphs struct {
	Level    map[netstate.Level]string // shape beside the level word
	Bars     []string                  // filled bar for signal levels 1..4
	BarEmpty string
	Wired    string // drawn in place of bars for a cable with carrier
	NoWire   string // ...and without
	Cursor   string
	Ellipsis string
	Sep      string
	Arrow    string
	Rule     string
	VRule    string
	Standby  string
	Down     string
	Busy     string
	Absent   string // a figure the hardware does not report
	Mask     string // one typed character of a secret
}

var unicodeGlyphs = Glyphs{
	Level: map[netstate.Level]string{
		netstate.LevelGreen: "●", netstate.LevelAmber: "▲", netstate.LevelRed: "■", netstate.LevelUnknown: "?",
	},
	Bars:     []string{"▂", "▄", "▆", "█"},
	BarEmpty: "·",
	Wired:    "━━━━",
	NoWire:   "╌╌╌╌",
	Cursor:   "▸",
	Ellipsis: "…",
	Sep:      " · ",
	Arrow:    "→",
	Rule:     "─",
	VRule:    "│",
	Standby:  "○",
	Down:     "✕",
	Busy:     "◌",
	Absent:   "—",
	Mask:     "•",
}

var asciiGlyphs = Glyphs{
	Level: map[netstate.Level]string{
		netstate.LevelGreen: "(O)", netstate.LevelAmber: "/!\\", netstate.LevelRed: "[X]", netstate.LevelUnknown: "(?)",
	},
	Bars:     []string{"#", "#", "#", "#"},
	BarEmpty: ".",
	Wired:    "====",
	NoWire:   "-  -",
	Cursor:   ">",
	Ellipsis: "~",
	Sep:      " | ",
	Arrow:    "->",
	Rule:     "-",
	VRule:    "|",
	Standby:  "o",
	Down:     "x",
	Busy:     "~",
	Absent:   "-",
	Mask:     "*",
}

// Theme is a set of glyphs and styles.
type Theme struct {
	ASCII   bool
	NoColor bool
	G       Glyphs

	// Light styles the traffic-light header per level.
	Light map[netstate.Level]lipgloss.Style
	// Fg colors text (bars, symbols) by level.
	Fg      map[netstate.Level]lipgloss.Style
	Banner  lipgloss.Style // DEMO / OBSERVER
	Warning lipgloss.Style
	Title   lipgloss.Style
	Dim     lipgloss.Style
	Bold    lipgloss.Style
	Select  lipgloss.Style
	// Mark flags what must not be missed (the visit in progress).
	Mark  lipgloss.Style
	Key   lipgloss.Style
	Desc  lipgloss.Style
	Plain lipgloss.Style
}

// The palette is the 8 basic ANSI colors: they are what the Linux console
// on tty1 has, and they stay legible in sunlight at full contrast.
var (
	green  color.Color = lipgloss.Green
	yellow color.Color = lipgloss.Yellow
	red    color.Color = lipgloss.Red
	black  color.Color = lipgloss.Black
	white  color.Color = lipgloss.BrightWhite
	blue   color.Color = lipgloss.Blue
)

// New builds a theme.
func New(o Options) *Theme {
	t := &Theme{ASCII: o.ASCII, NoColor: o.NoColor, G: unicodeGlyphs}
	if o.ASCII {
		t.G = asciiGlyphs
	}
	s := lipgloss.NewStyle
	t.Plain = s()
	t.Bold = s().Bold(true)
	t.Dim = s().Faint(true)
	t.Title = s().Bold(true)
	t.Select = s().Reverse(true)
	t.Mark = s().Reverse(true).Bold(true)
	t.Key = s().Bold(true)
	t.Desc = s()
	if o.NoColor {
		// Reverse video makes the light stand out without color; the
		// level word and shape say which light it is.
		t.Light = map[netstate.Level]lipgloss.Style{
			netstate.LevelGreen:   s().Reverse(true).Bold(true),
			netstate.LevelAmber:   s().Reverse(true).Bold(true),
			netstate.LevelRed:     s().Reverse(true).Bold(true).Blink(false),
			netstate.LevelUnknown: s().Reverse(true),
		}
		t.Fg = map[netstate.Level]lipgloss.Style{
			netstate.LevelGreen: s().Bold(true), netstate.LevelAmber: s().Bold(true),
			netstate.LevelRed: s().Bold(true), netstate.LevelUnknown: s(),
		}
		t.Banner = s().Reverse(true).Bold(true)
		t.Warning = s().Bold(true).Underline(true)
		return t
	}
	t.Light = map[netstate.Level]lipgloss.Style{
		netstate.LevelGreen:   s().Background(green).Foreground(black).Bold(true),
		netstate.LevelAmber:   s().Background(yellow).Foreground(black).Bold(true),
		netstate.LevelRed:     s().Background(red).Foreground(white).Bold(true),
		netstate.LevelUnknown: s().Reverse(true),
	}
	t.Fg = map[netstate.Level]lipgloss.Style{
		netstate.LevelGreen:   s().Foreground(green).Bold(true),
		netstate.LevelAmber:   s().Foreground(yellow).Bold(true),
		netstate.LevelRed:     s().Foreground(red).Bold(true),
		netstate.LevelUnknown: s(),
	}
	t.Banner = s().Background(blue).Foreground(white).Bold(true)
	t.Warning = s().Foreground(yellow).Bold(true)
	return t
}

// Symbol returns the shape for a level.
func (t *Theme) Symbol(l netstate.Level) string { return t.G.Level[l] }

// WordMark returns the shape for one of netstate's words at level lv, so a word
// has the same shape wherever it is drawn: a verdict its level's shape,
// work under way the busy one, a failure the cross, a rest the circle.
func (t *Theme) WordMark(word string, lv netstate.Level) string {
	switch word {
	case netstate.WordConnecting, netstate.WordStopping:
		return t.G.Busy
	case netstate.WordDown, netstate.WordFailed, netstate.WordStopped:
		return t.G.Down
	case netstate.WordStandby, netstate.WordUnmanaged, netstate.WordClosed, netstate.WordNotStarted:
		return t.G.Standby
	}
	return t.Symbol(lv)
}

// Env is the part of the environment that picks a theme.
type Env struct {
	Term    string
	LCAll   string
	LCCtype string
	Lang    string
	NoColor string
}

// FromEnviron reads an Env from "KEY=value" pairs.
func FromEnviron(environ []string) Env {
	var e Env
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "TERM":
			e.Term = v
		case "LC_ALL":
			e.LCAll = v
		case "LC_CTYPE":
			e.LCCtype = v
		case "LANG":
			e.Lang = v
		case "NO_COLOR":
			e.NoColor = v
		}
	}
	return e
}

// Detect picks options from the environment: ASCII on the Linux console or
// a locale that is not UTF-8 (as nmcli does), no color when NO_COLOR is set
// to anything (no-color.org).
func Detect(e Env) Options {
	return Options{ASCII: e.Term == "linux" || !utf8Locale(e), NoColor: e.NoColor != ""}
}

// utf8Locale applies POSIX precedence: LC_ALL, then LC_CTYPE, then LANG.
func utf8Locale(e Env) bool {
	loc := e.LCAll
	if loc == "" {
		loc = e.LCCtype
	}
	if loc == "" {
		loc = e.Lang
	}
	l := strings.ToLower(loc)
	return strings.Contains(l, "utf-8") || strings.Contains(l, "utf8")
}
