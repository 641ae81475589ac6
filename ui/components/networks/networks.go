// Package networks is the screen for joining a Wi-Fi network: the networks
// the radios see, strongest first, with signal bars, security and whether
// a profile is saved, and the few questions a new 802.1X profile needs
// (the method, the user name, the server's domain). The key is never asked
// here: NetworkManager asks fieldlink's secret agent for it, and the
// prompt masks it.
package networks

import (
	"fmt"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/components/bars"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// Row is one network in the list.
type Row struct {
	// Link is the radio that sees it.
	Link string
	AP   netstate.AccessPoint
	// Allowed: IT's list lets it be joined.
	Allowed bool
}

// Rows are the networks every Wi-Fi radio sees, strongest first (the one
// in use at the top), one row per name.
func Rows(s *netstate.Snapshot, p join.Policy) []Row {
	var out []Row
	seen := map[string]bool{}
	for _, l := range s.Links {
		if l.Kind != netstate.KindWiFi {
			continue
		}
		for _, ap := range l.WiFi.AccessPoints {
			if seen[ap.SSID] {
				continue
			}
			seen[ap.SSID] = true
			if l.State == netstate.StateConnected && ap.SSID == l.WiFi.SSID {
				ap.Active = true
			}
			out = append(out, Row{Link: l.ID, AP: ap, Allowed: p.Allows(ap.SSID)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].AP, out[j].AP
		if a.Active != b.Active {
			return a.Active
		}
		return a.Strength > b.Strength
	})
	return out
}

// Action is what a key press decided.
type Action int

// Actions.
const (
	None  Action = iota
	Join         // join the request Key returned
	Scan         // look for networks again
	Close        // back to the main screen
)

// Model is the list's cursor and, while one is filled in, the 802.1X form.
type Model struct {
	cursor int
	form   *form
}

// form asks what a new 802.1X profile needs.
type form struct {
	row    Row
	eap    string
	fields [2][]rune // user name, server domain
	focus  int       // 0 method, 1 user, 2 domain
}

// Key handles a key press on the list of rows; for Join it returns the
// request to send.
func (m *Model) Key(msg tea.KeyPressMsg, rows []Row) (Action, join.Request) {
	if m.form != nil {
		return m.formKey(msg)
	}
	m.cursor = min(max(m.cursor, 0), max(len(rows)-1, 0))
	switch msg.String() {
	case "esc", "backspace", "w", "q":
		return Close, join.Request{}
	case "up", "k":
		m.cursor = max(0, m.cursor-1)
	case "down", "j":
		m.cursor = min(len(rows)-1, m.cursor+1)
	case "s":
		return Scan, join.Request{}
	case "enter":
		if len(rows) == 0 {
			return None, join.Request{}
		}
		r := rows[m.cursor]
		if r.AP.Security == join.Enterprise && !r.AP.Saved {
			m.form = &form{row: r, eap: join.PEAP, focus: 1}
			return None, join.Request{}
		}
		return Join, join.Request{SSID: r.AP.SSID, Interface: r.Link}
	}
	return None, join.Request{}
}

func (m *Model) formKey(msg tea.KeyPressMsg) (Action, join.Request) {
	f := m.form
	switch msg.String() {
	case "esc":
		m.form = nil
	case "tab", "down":
		f.focus = (f.focus + 1) % 3
	case "shift+tab", "up":
		f.focus = (f.focus + 2) % 3
	case "enter":
		if f.focus < 2 {
			f.focus++
			return None, join.Request{}
		}
		m.form = nil
		return Join, join.Request{SSID: f.row.AP.SSID, Interface: f.row.Link, EAP: f.eap,
			Identity: strings.TrimSpace(string(f.fields[0])), Domain: strings.TrimSpace(string(f.fields[1]))}
	case "left", "right", "space":
		if f.focus == 0 {
			f.eap = map[string]string{join.PEAP: join.TTLS, join.TTLS: join.PEAP}[f.eap]
			return None, join.Request{}
		}
		if msg.String() == "space" {
			f.fields[f.focus-1] = append(f.fields[f.focus-1], ' ')
		}
	case "backspace":
		if f.focus > 0 {
			if v := f.fields[f.focus-1]; len(v) > 0 {
				f.fields[f.focus-1] = v[:len(v)-1]
			}
		}
	default:
		if msg.Text != "" && f.focus > 0 {
			f.fields[f.focus-1] = append(f.fields[f.focus-1], []rune(msg.Text)...)
		}
	}
	return None, join.Request{}
}

// Paste takes pasted text into the form's focused field.
func (m *Model) Paste(s string) {
	if f := m.form; f != nil && f.focus > 0 {
		f.fields[f.focus-1] = append(f.fields[f.focus-1], []rune(strings.TrimRight(s, "\r\n"))...)
	}
}

// Selected is the network under the cursor, if any.
func (m *Model) Selected(rows []Row) (Row, bool) {
	if len(rows) == 0 {
		return Row{}, false
	}
	return rows[min(max(m.cursor, 0), len(rows)-1)], true
}

// View draws the list (or the form) in w x h. refusal, when not "", is
// why this screen may not join (IT's policy): the list still shows. news
// is the latest word on a join, shown under the title.
func (m *Model) View(t *theme.Theme, th netstate.Thresholds, rows []Row, refusal string, news *netstate.Event, w, h int) string {
	if m.form != nil {
		return m.formView(t, w, h)
	}
	out := []string{section(t, fmt.Sprintf("NETWORKS IN RANGE (%d)", len(rows)), w)}
	if refusal != "" {
		out = append(out, " "+t.Fg[netstate.LevelAmber].Render(t.Symbol(netstate.LevelAmber)+" "+refusal))
	}
	if news != nil {
		mark := t.Fg[news.Level].Render(t.Symbol(news.Level))
		if news.Level == netstate.LevelUnknown {
			mark = t.G.Busy // asked, not yet answered
		}
		out = append(out, " "+mark+" "+news.Text)
	}
	if len(rows) == 0 {
		out = append(out, " No Wi-Fi networks seen. Press s to look again.")
	}
	compact := w < 64
	nameW := 4
	for _, r := range rows {
		nameW = max(nameW, ansi.StringWidth(r.AP.SSID))
	}
	fixed := 38 // cursor, bars, strength, security, the longest note
	if compact {
		fixed = 26
	}
	nameW = min(nameW, max(6, w-fixed))
	cur := min(max(m.cursor, 0), max(len(rows)-1, 0))
	listRows := max(1, h-len(out)-2)
	first := max(0, cur-listRows+1)
	for i := first; i < len(rows) && i < first+listRows; i++ {
		out = append(out, rowLine(t, th, rows[i], i == cur, nameW, compact))
	}
	keys := " " + t.Key.Render("enter") + " join" + t.G.Sep + t.Key.Render("s") + " scan" + t.G.Sep + t.Key.Render("esc") + " back"
	out = append(out, "", keys)
	if len(out) > h {
		// The keys line stays: drop list rows from the end instead.
		out = append(out[:max(1, h-1)], keys)
	}
	for i := range out {
		out[i] = ansi.Truncate(out[i], w, t.G.Ellipsis)
	}
	return strings.Join(out, "\n")
}

// rowLine is one network: cursor, bars, strength, name, security, state.
// A compact row drops the figure before any word, and says the security
// and the state in their short words.
func rowLine(t *theme.Theme, th netstate.Thresholds, r Row, selected bool, nameW int, compact bool) string {
	cur := "  "
	if selected {
		cur = t.G.Cursor + " "
	}
	lv := th.WiFiLevel(float64(r.AP.Strength))
	b := bars.Draw(t, barCount(r.AP.Strength), lv)
	name := ansi.Truncate(r.AP.SSID, nameW, t.G.Ellipsis)
	name += strings.Repeat(" ", nameW-ansi.StringWidth(name))
	var notes []string
	switch {
	case r.AP.Active:
		notes = append(notes, "in use")
	case r.AP.Saved:
		notes = append(notes, "saved")
	}
	offList := "not on IT's list"
	if compact {
		offList = "not allowed"
	}
	if !r.Allowed {
		notes = append(notes, offList)
	}
	var line string
	if compact {
		line = fmt.Sprintf(" %s%s %s %-7s%s", cur, b, name, ShortLabel(r.AP.Security), strings.Join(notes, ", "))
	} else {
		line = fmt.Sprintf(" %s%s %3d%%  %s  %-13s %s", cur, b, r.AP.Strength, name, join.Label(r.AP.Security), strings.Join(notes, ", "))
	}
	if !r.Allowed {
		return t.Dim.Render(ansi.Strip(line))
	}
	if selected {
		return t.Bold.Render(line)
	}
	return line
}

// ShortLabel is a security in one short word, for narrow screens.
func ShortLabel(security string) string {
	switch security {
	case join.Enterprise:
		return "802.1X"
	case join.OWE:
		return "open"
	case join.WEP:
		return "WEP"
	}
	return join.Label(security)
}

// barCount follows nmcli's bounds (>80, >55, >30, >5 %), as the links list.
func barCount(pct uint8) int {
	n := 0
	for _, b := range []uint8{5, 30, 55, 80} {
		if pct > b {
			n++
		}
	}
	return n
}

func (m *Model) formView(t *theme.Theme, w, h int) string {
	f := m.form
	out := []string{section(t, "JOIN "+f.row.AP.SSID, w),
		" " + t.Bold.Render(f.row.AP.SSID+" asks for a network log-in (802.1X)."),
		""}
	method := map[string]string{join.PEAP: "PEAP (eduroam, most NHS)", join.TTLS: "TTLS"}[f.eap]
	labels := []string{"Method", "User name", "Server domain"}
	vals := []string{method + "  (" + t.G.Arrow + " to change)", string(f.fields[0]), string(f.fields[1])}
	for i, l := range labels {
		c := "  "
		v := vals[i]
		if i == f.focus {
			c = t.G.Cursor + " "
			if i > 0 {
				v += "_"
			}
		}
		out = append(out, " "+c+t.Key.Render(fmt.Sprintf("%-13s", l))+" "+v)
	}
	note := " The server's certificate must be for this domain."
	if strings.TrimSpace(string(f.fields[1])) == "" {
		note = " No domain: any server is believed. Ask IT for it."
	}
	out = append(out, "", t.Dim.Render(note),
		t.Dim.Render(" The password is asked next, by NetworkManager, masked."),
		" "+t.Key.Render("enter")+" next/join"+t.G.Sep+t.Key.Render("esc")+" back")
	if len(out) > h {
		out = append(out[:max(1, h-1)], out[len(out)-1])
	}
	for i := range out {
		out[i] = ansi.Truncate(out[i], w, t.G.Ellipsis)
	}
	return strings.Join(out, "\n")
}

func section(t *theme.Theme, title string, w int) string {
	line := " " + t.Title.Render(title) + " "
	if fill := w - ansi.StringWidth(line); fill > 0 {
		line += t.Dim.Render(strings.Repeat(t.G.Rule, fill))
	}
	return line
}
