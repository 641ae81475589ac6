// Package prompt is the masked form in which NetworkManager's requests for
// secrets (a Wi-Fi key, a VPN password or one-time code) are answered. What
// is typed is drawn as mask characters only, goes to NetworkManager on
// enter and is dropped on cancel; it is never drawn, logged or copied.
package prompt

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/agent"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// Action is what a key press decided.
type Action int

// Actions.
const (
	None Action = iota
	Submit
	Cancel
)

// Model is one open prompt.
type Model struct {
	Req   agent.Request
	vals  [][]rune
	focus int
}

// New opens a prompt for a request; non-secret fields start with the
// value the profile has.
func New(r agent.Request) *Model {
	m := &Model{Req: r, vals: make([][]rune, len(r.Fields))}
	for i, f := range r.Fields {
		if !f.Secret {
			m.vals[i] = []rune(f.Value)
		}
	}
	for i := range m.vals {
		if len(m.vals[i]) == 0 {
			m.focus = i // the first thing still to type
			break
		}
	}
	return m
}

// Key handles a key press.
func (m *Model) Key(msg tea.KeyPressMsg) Action {
	n := len(m.vals)
	if n == 0 {
		return Cancel
	}
	switch msg.String() {
	case "esc", "ctrl+c":
		m.Clear()
		return Cancel
	case "enter":
		if m.focus < n-1 {
			m.focus++
			return None
		}
		return Submit
	case "tab", "down":
		m.focus = (m.focus + 1) % n
	case "shift+tab", "up":
		m.focus = (m.focus + n - 1) % n
	case "backspace":
		if v := m.vals[m.focus]; len(v) > 0 {
			m.vals[m.focus] = v[:len(v)-1]
		}
	case "ctrl+u":
		m.vals[m.focus] = m.vals[m.focus][:0]
	default:
		if msg.Text != "" {
			m.vals[m.focus] = append(m.vals[m.focus], []rune(msg.Text)...)
		}
	}
	return None
}

// Paste takes pasted text into the focused field (a long Wi-Fi key from a
// password manager on a desktop).
func (m *Model) Paste(s string) {
	if len(m.vals) == 0 {
		return
	}
	s = strings.TrimRight(s, "\r\n")
	m.vals[m.focus] = append(m.vals[m.focus], []rune(s)...)
}

// Values returns the answer for NetworkManager.
func (m *Model) Values() map[string]string {
	out := map[string]string{}
	for i, f := range m.Req.Fields {
		out[f.Key] = string(m.vals[i])
	}
	return out
}

// Clear overwrites what was typed.
func (m *Model) Clear() {
	for i := range m.vals {
		for j := range m.vals[i] {
			m.vals[i][j] = 0
		}
		m.vals[i] = m.vals[i][:0]
	}
}

// View draws the prompt in rows lines.
func (m *Model) View(t *theme.Theme, now time.Time, width, rows int) string {
	r := m.Req
	line := " " + t.Title.Render("NETWORKMANAGER ASKS") + " "
	if fill := width - ansi.StringWidth(line); fill > 0 {
		line += t.Dim.Render(strings.Repeat(t.G.Rule, fill))
	}
	out := []string{line, " " + t.Bold.Render(r.Title)}
	if r.Detail != "" {
		out = append(out, " "+r.Detail)
	}
	out = append(out, "")
	lw := 0
	for _, f := range r.Fields {
		lw = max(lw, ansi.StringWidth(f.Label))
	}
	for i, f := range r.Fields {
		cur := "  "
		if i == m.focus {
			cur = t.G.Cursor + " "
		}
		val := string(m.vals[i])
		if f.Secret {
			val = strings.Repeat(t.G.Mask, len(m.vals[i]))
		}
		if i == m.focus {
			val += "_"
		}
		out = append(out, " "+cur+t.Key.Render(f.Label)+strings.Repeat(" ", lw-ansi.StringWidth(f.Label)+2)+val)
	}
	left := r.Deadline.Sub(now)
	out = append(out, "",
		" "+t.Key.Render("enter")+" give it to NetworkManager"+t.G.Sep+t.Key.Render("esc")+" cancel"+t.G.Sep+countdown(left)+" left",
		t.Dim.Render(keptNote(r.Kept)))
	for i := range out {
		out[i] = ansi.Truncate(out[i], width, t.G.Ellipsis)
	}
	if len(out) > rows {
		out = out[:rows]
	}
	return strings.Join(out, "\n")
}

// keptNote says where the answer goes and what fieldlink keeps of it.
func keptNote(kept string) string {
	if kept == "" {
		return " It goes to NetworkManager only: fieldlink does not keep it."
	}
	return " It goes to NetworkManager; fieldlink keeps it " + kept + ", never on disk."
}

// countdown is the time left to answer, to the second.
func countdown(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Seconds())
	if s < 60 {
		return fmt.Sprintf("%ds", s)
	}
	return fmt.Sprintf("%dm%02ds", s/60, s%60)
}
