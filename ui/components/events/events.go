// Package events draws the events pane: the latest events, newest first,
// each with its time and, where it has one, the level's shape and color.
package events

import (
	"regexp"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// View renders the newest events that fit in height rows.
func View(t *theme.Theme, evs []netstate.Event, loc *time.Location, width, height int, compact bool) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	if len(evs) == 0 {
		return t.Dim.Render(ansi.Truncate("  no events yet", width, t.G.Ellipsis))
	}
	rows := make([]string, 0, height)
	for i := len(evs) - 1; i >= 0 && len(rows) < height; i-- {
		rows = append(rows, Row(t, &evs[i], loc, width, compact))
	}
	return strings.Join(rows, "\n")
}

// Row renders one event in width cells.
func Row(t *theme.Theme, ev *netstate.Event, loc *time.Location, width int, compact bool) string {
	stamp := ev.Time.In(loc).Format("15:04:05")
	if compact {
		stamp = ev.Time.In(loc).Format("15:04")
	}
	mark := t.Dim.Render("-") // every event has a mark
	text := ev.Text
	switch {
	case ev.Kind == netstate.EventNote:
		mark = t.Dim.Render(">")
		text = t.Dim.Render(text)
	case goodNews[ev.Kind] && ev.Level != netstate.LevelGreen:
		// "carrier back" while the internet is not checked yet is news,
		// not a red light: the verdict comes in its own event.
		mark = t.Dim.Render("+")
	case ev.Level != netstate.LevelUnknown:
		mark = t.Fg[ev.Level].Render(firstCell(t.Symbol(ev.Level)))
	}
	head := " " + t.Dim.Render(stamp) + " " + mark + " "
	if ev.Kind != netstate.EventNote {
		text = Shorten(text, width-ansi.StringWidth(head))
	}
	return ansi.Truncate(head+text, width, t.G.Ellipsis)
}

// shortenings are the rules an event's words lose to fit, in order: the
// figures go before the words ("0.2 s ago", "(EE, 4G)", "72%", "-95 dBm").
var shortenings = []*regexp.Regexp{
	regexp.MustCompile(` [0-9.]+ s ago$`),
	regexp.MustCompile(` \([^()]*\)`),
	regexp.MustCompile(`,? (probe )?-?[0-9.]+ ?(%|dBm|dB|ms|s)\b`),
	regexp.MustCompile(` via [a-z0-9]+`),
}

// Shorten drops an event text's figures, rule by rule, until it fits in
// width cells; what still does not fit is cut by the caller.
func Shorten(text string, width int) string {
	for _, re := range shortenings {
		if ansi.StringWidth(text) <= width {
			break
		}
		text = re.ReplaceAllString(text, "")
	}
	return text
}

// goodNews are the kinds of event that say something came back or up:
// never drawn with a red mark.
var goodNews = map[netstate.EventKind]bool{
	netstate.EventLinkUp: true, netstate.EventFailback: true, netstate.EventVPNUp: true,
}

// firstCell keeps the event column one cell wide even for ASCII shapes
// like "(O)": the middle character carries the shape.
func firstCell(sym string) string {
	r := []rune(sym)
	if len(r) == 3 {
		return string(r[1])
	}
	return sym
}
