// Package light draws the traffic light: the level in words and a shape on
// a full-width band of its color, what to do in plain words, and the
// active path and the reason.
package light

import (
	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// Height is how many rows View takes, in every layout.
const Height = 3

// View renders the light for a snapshot across width cells.
func View(t *theme.Theme, s *netstate.Snapshot, width int, compact bool) string {
	if width <= 0 {
		return ""
	}
	st := t.Light[s.Level].Width(width)
	word := " " + t.Symbol(s.Level) + " " + s.Level.Word()
	line := func(text string) string { return ansi.Truncate(text, width, t.G.Ellipsis) }
	// Under the word, what to do; under that, the figures an engineer
	// reads (the path and the reason).
	adv := s.Advice()
	figures := s.Path
	if s.Reason != "" {
		figures += t.G.Sep + s.Reason
	}
	if compact {
		// One colored row for the word; the advice and the figures as
		// plain text so they stay readable in 40 columns.
		return st.Render(line(word)) + "\n" +
			t.Bold.Render(line(" "+adv.Short)) + "\n" +
			t.Dim.Render(line(" "+figures))
	}
	indent := "   " + pad(len([]rune(t.Symbol(s.Level))))
	return st.Render(line(word)) + "\n" +
		st.Render(line(indent+adv.Long)) + "\n" +
		st.Render(line(indent+figures))
}

func pad(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = ' '
	}
	return string(b)
}
