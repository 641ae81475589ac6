// Package banner draws the line above the traffic light that says whose
// data this is: DEMO for simulated data (never shown without it), OBSERVER
// when another instance is in charge, and any service or journal warnings.
package banner

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/ui/theme"
)

// Info is what the banner needs to know.
type Info struct {
	Demo     bool
	Source   string // scenario title or "system"
	Observer bool
	Holder   string
	Warnings []string
}

// Lines renders the banner rows: one for who and what, then one per
// warning. Simulated data always gets its own marked row.
func Lines(t *theme.Theme, in Info, width int, compact bool) []string {
	if width <= 0 {
		return nil
	}
	row := func(st string) string { return ansi.Truncate(st, width, t.G.Ellipsis) }
	var out []string
	switch {
	case in.Demo && compact:
		out = append(out, t.Banner.Width(width).Render(row(" DEMO"+t.G.Sep+in.Source)))
	case in.Demo:
		out = append(out, t.Banner.Width(width).Render(row(" DEMO"+t.G.Sep+"simulated data"+t.G.Sep+in.Source)))
	default:
		out = append(out, row(t.Bold.Render(" fieldlink")+t.Dim.Render(t.G.Sep+in.Source)))
	}
	if in.Observer {
		text := " OBSERVER" + t.G.Sep + "read-only"
		if in.Holder != "" {
			text += t.G.Sep + in.Holder + " is in charge"
		}
		out = append(out, t.Banner.Width(width).Render(row(text)))
	}
	for _, w := range in.Warnings {
		out = append(out, row(t.Warning.Render(" ! "+strings.TrimSpace(w))))
	}
	return out
}
