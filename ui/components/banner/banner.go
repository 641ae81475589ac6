// Package banner draws the lines above the traffic light that say whose
// data this is: DEMO for simulated data (never shown without it), OBSERVER
// when another instance is in charge, the visit in progress, and any
// standing warnings (a service down, the journal, a config mistake).
package banner

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/ui/theme"
)

// Info is what the banner needs to know.
type Info struct {
	Demo     bool
	Source   string // scenario title or "system"
	Observer bool
	// ReadOnly: this account may only watch.
	ReadOnly bool
	Holder   string
	Warnings []string
	// Visit is how long the visit in progress has run; VisitOpen says
	// there is one.
	VisitOpen bool
	Visit     time.Duration
}

// warningRows is how many rows one warning may take before it is cut: a
// config mistake must show its file and line.
const warningRows = 3

// Lines renders the banner rows: one for who and what, then one per
// warning. Simulated data always gets its own marked row.
func Lines(t *theme.Theme, in Info, width int, compact bool) []string {
	if width <= 0 {
		return nil
	}
	row := func(st string) string { return ansi.Truncate(st, width, t.G.Ellipsis) }
	// The visit in progress sits at the right of the first row, where it
	// stays whatever scrolls past in the events.
	mark := ""
	if in.VisitOpen {
		mark = t.Mark.Render(" VISIT " + minutes(in.Visit) + " ")
	}
	first := func(left string, band bool) string {
		room := width - ansi.StringWidth(mark)
		left = ansi.Truncate(left, max(room, 0), t.G.Ellipsis)
		if band {
			left = t.Banner.Width(max(room, 0)).Render(left)
		} else if pad := room - ansi.StringWidth(left); pad > 0 {
			left += strings.Repeat(" ", pad)
		}
		return row(left + mark)
	}
	var out []string
	switch {
	case in.Demo && compact:
		out = append(out, first(" DEMO"+t.G.Sep+in.Source, true))
	case in.Demo:
		out = append(out, first(" DEMO"+t.G.Sep+"simulated data"+t.G.Sep+in.Source, true))
	default:
		out = append(out, first(t.Bold.Render(" fieldlink")+t.Dim.Render(t.G.Sep+in.Source), false))
	}
	if in.Observer {
		text := " OBSERVER"
		if in.ReadOnly {
			text += t.G.Sep + "read-only"
		}
		if in.Holder != "" {
			text += t.G.Sep + "in charge: " + in.Holder
		}
		out = append(out, t.Banner.Width(width).Render(row(text)))
	}
	rows := warningRows
	if compact {
		rows = 1
	}
	for _, w := range in.Warnings {
		wrapped := wrapWarning(w, width)
		if len(wrapped) > rows {
			wrapped = wrapped[:rows]
			wrapped[rows-1] = ansi.Truncate(wrapped[rows-1]+t.G.Ellipsis, width, t.G.Ellipsis)
		}
		for _, l := range wrapped {
			out = append(out, row(t.Warning.Render(l)))
		}
	}
	return out
}

// minutes words a visit's length: "0m", "12m", "1h05m".
func minutes(d time.Duration) string {
	d = d.Truncate(time.Minute)
	if d < time.Hour {
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// wrapWarning wraps a warning to width: " ! " and the first line, then
// lines indented under it, wrapped 3 columns narrower so that no word is
// cut off at the edge.
func wrapWarning(w string, width int) []string {
	first, rest, _ := strings.Cut(ansi.Wrap(" ! "+strings.TrimSpace(w), width, " /"), "\n")
	lines := []string{first}
	if rest = strings.TrimSpace(unwrap(rest)); rest != "" {
		for _, l := range strings.Split(ansi.Wrap(rest, max(width-3, 1), " /"), "\n") {
			lines = append(lines, "   "+strings.TrimLeft(l, " "))
		}
	}
	return lines
}

// unwrap joins wrapped lines again: with a space where the wrap took one,
// with nothing after a path's "/".
func unwrap(s string) string {
	var b strings.Builder
	for i, l := range strings.Split(s, "\n") {
		if i > 0 && !strings.HasSuffix(b.String(), "/") {
			b.WriteByte(' ')
		}
		b.WriteString(l)
	}
	return b.String()
}
