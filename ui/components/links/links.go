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

// Tunnel is what the list needs to word a VPN's row as the VPN's own line
// does: its status and the level of the path it runs over.
type Tunnel struct {
	VPN  netstate.VPNStatus
	Path netstate.Level
}

// Status is what a row says about its link: a shape, a word, a level. A
// VPN row says what the VPN line says (tun nil: no VPN is configured).
func Status(t *theme.Theme, l *netstate.Link, tun *Tunnel) (sym, word string, lv netstate.Level) {
	word, lv = netstate.LinkWord(l, netstate.LevelUnknown)
	if l.Kind == netstate.KindVPN && tun != nil && (tun.VPN.Phase != "" || tun.VPN.Profile != "") {
		word, lv = netstate.VPNWord(tun.VPN, netstate.Worse(tun.Path, vpnLevel(l)))
	}
	return t.WordMark(word, lv), word, lv
}

// vpnLevel is the tunnel's own level while it is connected.
func vpnLevel(l *netstate.Link) netstate.Level {
	if l.State == netstate.StateConnected {
		return l.Level
	}
	return netstate.LevelUnknown
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

// View renders up to height rows of the list across width cells; tun
// words the VPN's row (nil: no VPN configured).
func (m *Model) View(t *theme.Theme, s *netstate.Snapshot, tun *Tunnel, width, height int, compact, focused bool) string {
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
	// The status column is as wide as the longest word shown, so a long
	// verdict is never cut and the usual list keeps its room for reasons.
	statusW := 13
	for i := range s.Links {
		sym, word, _ := Status(t, &s.Links[i], tun)
		statusW = max(statusW, ansi.StringWidth(sym+" "+word)+1)
	}
	var rows []string
	for i := m.offset; i < len(s.Links) && len(rows) < height; i++ {
		c := cells{primary: s.Primary == s.Links[i].ID, selected: focused && i == cur, width: width, statusW: statusW, compact: compact}
		rows = append(rows, row(t, &s.Links[i], tun, c))
	}
	return strings.Join(rows, "\n")
}

// cells is how one row is laid out.
type cells struct {
	primary, selected bool
	width, statusW    int
	compact           bool
}

func row(t *theme.Theme, l *netstate.Link, tun *Tunnel, c cells) string {
	primary, width := c.primary, c.width
	cursor := "  "
	if c.selected {
		cursor = t.G.Cursor + " "
	}
	kind := fit(t, l.Kind.Label(), 9)
	switch {
	case c.selected:
		kind = t.Select.Render(kind)
	case primary:
		kind = t.Bold.Render(kind)
	}
	sym, word, lv := Status(t, l, tun)
	status := t.Fg[lv].Render(fit(t, sym+" "+word, c.statusW))
	if lv == netstate.LevelUnknown {
		status = t.Dim.Render(fit(t, sym+" "+word, c.statusW))
	}
	fig := fit(t, bars.Figure(l), 9)
	b := bars.Render(t, l)
	var out string
	if c.compact {
		// Short of room the figure goes first: the bars show the signal,
		// and the word is what a row is for.
		if width < 2+9+5+9+c.statusW {
			fig = ""
		}
		out = cursor + kind + b + " " + fig + status
	} else {
		// The name gets what is left after the fixed columns and room for
		// about 28 cells of reason and figures, within 10..24.
		nameW := max(10, min(24, width-2-9-5-9-c.statusW-28))
		name := fit(t, Name(l), nameW+1)
		rest := KeyFigures(l)
		if word != netstate.WordStandby && (l.Level != netstate.LevelGreen || l.State != netstate.StateConnected) {
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
