// Package links draws the list of links: one row each with its kind, name,
// colored signal bars, headline figure, status in words and key figures,
// and a cursor to pick one for the detail view.
package links

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/components/bars"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// Model is the list and its cursor. The cursor follows a link ID, so a link
// appearing or going does not move the selection to another link.
type Model struct {
	selected string
	offset   int
}

// Selected returns the selected link in s; until the user moves the
// cursor (or when the selected link is gone), the link carrying the work,
// else the first one: the details pane opens on what matters now, not on
// a dead dock at row 1.
func (m *Model) Selected(s *netstate.Snapshot) *netstate.Link {
	if l := s.Link(m.selected); l != nil {
		return l
	}
	if l := s.Link(s.Primary); l != nil {
		return l
	}
	if len(s.Links) > 0 {
		return &s.Links[0]
	}
	return nil
}

// Move moves the cursor by delta rows, clamped to the list.
func (m *Model) Move(s *netstate.Snapshot, delta int) {
	if len(s.Links) == 0 {
		return
	}
	i := m.index(s) + delta
	i = max(0, min(i, len(s.Links)-1))
	m.selected = s.Links[i].ID
}

func (m *Model) index(s *netstate.Snapshot) int {
	sel := m.Selected(s)
	for i := range s.Links {
		if sel != nil && s.Links[i].ID == sel.ID {
			return i
		}
	}
	return 0
}

// Status is what a row says about its link: a shape, a word, a level.
func Status(t *theme.Theme, l *netstate.Link) (sym, word string, lv netstate.Level) {
	switch l.State {
	case netstate.StateConnected:
		switch l.Level {
		case netstate.LevelGreen:
			return t.Symbol(l.Level), "GO", l.Level
		case netstate.LevelAmber:
			return t.Symbol(l.Level), "MARGINAL", l.Level
		case netstate.LevelRed:
			return t.Symbol(l.Level), "NO GO", l.Level
		}
		return t.Symbol(l.Level), "UNKNOWN", l.Level
	case netstate.StateConnecting:
		return t.G.Busy, "CONNECTING", netstate.LevelAmber
	case netstate.StateDisconnecting:
		return t.G.Busy, "STOPPING", netstate.LevelAmber
	case netstate.StateDisconnected:
		if l.Level == netstate.LevelRed && l.Reason != "not connected" {
			return t.G.Down, "DOWN", netstate.LevelRed
		}
		return t.G.Standby, "STANDBY", netstate.LevelUnknown
	case netstate.StateUnmanaged, netstate.StateUnknown:
		return t.G.Standby, "UNMANAGED", netstate.LevelUnknown
	}
	return t.G.Down, "DOWN", netstate.LevelRed
}

// Name is the short name of what a link is connected to.
func Name(l *netstate.Link) string {
	switch l.Kind {
	case netstate.KindWiFi:
		if l.WiFi.SSID != "" && l.State != netstate.StateDisconnected && l.State != netstate.StateUnavailable {
			return l.WiFi.SSID
		}
		if n := len(l.WiFi.AccessPoints); n > 0 {
			return fmt.Sprintf("%d network%s seen", n, plural(n))
		}
		return "no network"
	case netstate.KindCellular:
		parts := []string{}
		if l.Cell.Operator != "" {
			parts = append(parts, l.Cell.Operator)
		} else {
			parts = append(parts, "no operator")
		}
		if g := l.Cell.Tech.Generation(); g != "" {
			parts = append(parts, g)
		}
		if l.Cell.Roaming() {
			parts = append(parts, "roaming")
		}
		return strings.Join(parts, " ")
	}
	if l.Profile != "" {
		return l.Profile
	}
	if l.Kind == netstate.KindEthernet {
		if l.Carrier == netstate.No {
			return "no cable"
		}
		return "cable"
	}
	return l.ID
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// KeyFigures are the figures a technician scans a row for.
func KeyFigures(l *netstate.Link) string {
	var f []string
	s := l.Signal
	add := func(name string, v netstate.Figure) {
		if v.OK {
			f = append(f, name+" "+v.String())
		}
	}
	if l.Kind == netstate.KindCellular {
		add("RSRP", s.RSRP)
		add("SINR", s.SINR)
		add("RSCP", s.RSCP)
		add("Ec/Io", s.EcIo)
		if !s.RSRP.OK && !s.RSCP.OK {
			add("RSSI", s.RSSI)
		}
	}
	if l.Probe.OK == netstate.Yes && l.Probe.RTT.OK {
		f = append(f, "probe "+l.Probe.RTT.String()+" ms")
	}
	return strings.Join(f, " ")
}

// View renders up to height rows of the list across width cells.
func (m *Model) View(t *theme.Theme, s *netstate.Snapshot, width, height int, compact, focused bool) string {
	if height <= 0 || width <= 0 {
		return ""
	}
	if len(s.Links) == 0 {
		return ansi.Truncate(t.Dim.Render("  no network devices found"), width, t.G.Ellipsis)
	}
	cur := m.index(s)
	if cur < m.offset {
		m.offset = cur
	}
	if cur >= m.offset+height {
		m.offset = cur - height + 1
	}
	m.offset = max(0, min(m.offset, len(s.Links)-height))
	var rows []string
	for i := m.offset; i < len(s.Links) && len(rows) < height; i++ {
		rows = append(rows, row(t, &s.Links[i], s.Primary == s.Links[i].ID, focused && i == cur, width, compact))
	}
	return strings.Join(rows, "\n")
}

func row(t *theme.Theme, l *netstate.Link, primary, selected bool, width int, compact bool) string {
	cursor := "  "
	if selected {
		cursor = t.G.Cursor + " "
	}
	kind := fit(t, l.Kind.Label(), 9)
	switch {
	case selected:
		kind = t.Select.Render(kind)
	case primary:
		kind = t.Bold.Render(kind)
	}
	sym, word, lv := Status(t, l)
	status := t.Fg[lv].Render(fit(t, sym+" "+word, 13))
	if lv == netstate.LevelUnknown {
		status = t.Dim.Render(fit(t, sym+" "+word, 13))
	}
	fig := fit(t, bars.Figure(l), 9)
	b := bars.Render(t, l)
	var out string
	if compact {
		out = cursor + kind + b + " " + fig + status
	} else {
		// The name gets what is left after the fixed columns and room for
		// about 28 cells of reason and figures, within 10..24.
		nameW := max(10, min(24, width-2-9-5-9-13-28))
		name := fit(t, Name(l), nameW+1)
		rest := KeyFigures(l)
		if word != "STANDBY" && (l.Level != netstate.LevelGreen || l.State != netstate.StateConnected) {
			if rest != "" {
				rest = t.G.Sep + rest
			}
			rest = l.Reason + rest
		}
		if primary {
			rest = "in use" + t.G.Sep + rest
		}
		out = cursor + kind + name + b + " " + fig + status + t.Dim.Render(rest)
	}
	return ansi.Truncate(out, width, t.G.Ellipsis)
}

// fit pads or truncates s to exactly n cells.
func fit(t *theme.Theme, s string, n int) string {
	w := ansi.StringWidth(s)
	if w >= n {
		// Always a space before the next column.
		return ansi.Truncate(s, n-1, t.G.Ellipsis) + " "
	}
	return s + strings.Repeat(" ", n-w)
}
