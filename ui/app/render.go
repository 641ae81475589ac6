package app

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/components/banner"
	"github.com/fieldlink/fieldlink/ui/components/detail"
	"github.com/fieldlink/fieldlink/ui/components/events"
	"github.com/fieldlink/fieldlink/ui/components/light"
	"github.com/fieldlink/fieldlink/ui/components/links"
	"github.com/fieldlink/fieldlink/ui/components/reports"
	"github.com/fieldlink/fieldlink/ui/components/work"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// View draws the screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "fieldlink"
	if m.have {
		v.WindowTitle = "fieldlink: " + m.state.Snapshot.Level.Word()
	}
	return v
}

// Render returns the screen as text; View wraps it, tests and benchmarks
// call it directly.
func (m *Model) Render() string {
	t := m.opt.Theme
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		return ""
	}
	if w < MinWidth || h < MinHeight {
		return m.tooSmall()
	}
	if !m.have {
		return clip(t.Bold.Render(" fieldlink")+"\n\n"+" Waiting for the network picture...", w, h)
	}
	compact := w < fullWidth || h < fullHeight
	s := &m.state.Snapshot

	var top []string
	top = append(top, banner.Lines(t, m.bannerInfo(), w, compact)...)
	top = append(top, light.View(t, s, w, compact))
	if wl := m.workLines(w); len(wl) > 0 && (!compact || h >= 16) {
		if !compact {
			top = append(top, "")
		}
		top = append(top, wl...)
	}
	if a := m.state.Work.Ahead; a != "" && !compact {
		// What the fleet found in the area the device is in, from the
		// summary the last sync brought: offline, before the visit.
		top = append(top, fleetHere(t, a, w))
	}
	footer := m.footer(w)
	used := countLines(top) + 1
	rest := h - used
	if !compact {
		rest-- // blank line under the light
	}

	var body string
	switch {
	case m.prompt != nil:
		body = m.prompt.View(t, m.opt.Now(), w, rest)
	case m.screen == screenHelp:
		body = m.helpView(w, rest)
	case m.screen == screenDetail:
		body = m.detailView(w, rest, compact)
	case m.screen == screenNetworks:
		body = m.nets.View(t, m.opt.Thresholds, m.networkRows(), m.opt.JoinRefusal, m.joinNews(), w, rest)
	case m.screen == screenReports:
		body = reports.View(t, m.rep, m.repErr, m.state.Work.Sync, m.state.Work.Visit, m.opt.Location, w, rest)
	case w >= wideWidth && h >= wideHeight:
		body = m.wideBody(w, rest)
	default:
		body = m.mainBody(w, rest, compact)
	}
	parts := top
	if !compact {
		parts = append(parts, "")
	}
	parts = append(parts, fitHeight(body, rest), footer)
	return clip(strings.Join(parts, "\n"), w, h)
}

// fleetHere is the fleet's line for the area the device is in, fitted to
// w: the operators after the first give way, last first, before anything
// is cut.
func fleetHere(t *theme.Theme, text string, w int) string {
	line := func(s string) string { return " " + t.Dim.Render("Fleet here:") + " " + s }
	parts := strings.Split(text, ", ")
	for n := len(parts); n > 1 && ansi.StringWidth(line(strings.Join(parts[:n], ", "))) > w; n-- {
		text = strings.Join(parts[:n-1], ", ")
	}
	return ansi.Truncate(line(text), w, t.G.Ellipsis)
}

// workLines draws the VPN and the app, when configured.
func (m *Model) workLines(w int) []string {
	s := &m.state.Snapshot
	via := func(id string) string {
		l := s.Link(id)
		if l == nil {
			return id
		}
		name := l.Profile
		switch {
		case l.Kind == netstate.KindWiFi && l.WiFi.SSID != "":
			name = l.WiFi.SSID
		case l.Kind == netstate.KindCellular && l.Cell.Operator != "":
			name = l.Cell.Operator
		}
		if name == "" {
			name = l.ID
		}
		return l.Kind.Label() + " " + name
	}
	return work.Lines(m.opt.Theme, m.state.Work, via, s.TunnelPath(m.state.Work.VPN), m.opt.Now(), w, m.state.Role == engine.Observer, w < fullWidth || m.height < fullHeight)
}

// tunnel is the VPN and the level of the path it runs over (the link it
// goes via, else the light), so its line and its row say one word.
func (m *Model) tunnel() *links.Tunnel {
	s := &m.state.Snapshot
	v := m.state.Work.VPN
	if v.Profile == "" {
		return nil
	}
	return &links.Tunnel{VPN: v, Path: s.TunnelPath(v)}
}

func (m *Model) bannerInfo() banner.Info {
	st := &m.state
	in := banner.Info{Demo: st.Snapshot.Simulated, Source: st.Source, Observer: st.Role == engine.Observer, Holder: st.Holder,
		Warnings: append([]string(nil), st.Warnings...), ReadOnly: st.Role == engine.Observer && m.opt.ReadOnly}
	if v := st.Work.Visit; v.Open {
		in.VisitOpen, in.Visit = true, max(m.opt.Now().Sub(v.Since), 0)
	}
	for _, svc := range st.Snapshot.Services {
		if !svc.Running && svc.Name != "NetworkManager" {
			in.Warnings = append(in.Warnings, svc.Name+" is not running: its figures may be stale")
		}
	}
	return in
}

func (m *Model) mainBody(w, rows int, compact bool) string {
	t := m.opt.Theme
	s := &m.state.Snapshot
	n := len(s.Links)
	if n == 0 {
		n = 1
	}
	var out []string
	if compact {
		// Links first (at most what leaves two event rows), then events.
		lr := max(1, min(n, rows-2))
		out = append(out, m.links.View(t, s, m.tunnel(), w, lr, true, true))
		if er := rows - lr; er > 0 {
			out = append(out, events.View(t, m.state.Events, m.opt.Location, w, er, true))
		}
		return strings.Join(out, "\n")
	}
	lr := max(1, min(n, rows-4))
	out = append(out, section(t, "LINKS", w), m.links.View(t, s, m.tunnel(), w, lr, false, true))
	if er := rows - lr - 3; er > 0 {
		out = append(out, "", section(t, "EVENTS", w), events.View(t, m.state.Events, m.opt.Location, w, er, false))
	}
	return strings.Join(out, "\n")
}

// wideBody puts the selected link's detail beside the list and events.
// listWidth is what a link row needs to say its reason whole: the list
// gets it first, the side pane the rest.
const listWidth = 96

func (m *Model) wideBody(w, rows int) string {
	left := max(listWidth, w*11/20)
	right := w - left - 1
	l := strings.Split(fitHeight(m.mainBody(left, rows, false), rows), "\n")
	r := strings.Split(fitHeight(m.detailLines(right, rows), rows), "\n")
	t := m.opt.Theme
	var b strings.Builder
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(padRight(l[i], left))
		b.WriteString(t.Dim.Render(t.G.VRule))
		b.WriteString(r[i])
	}
	return b.String()
}

func (m *Model) detailLines(w, rows int) string {
	s := &m.state.Snapshot
	l := m.links.Selected(s)
	if l == nil {
		return m.opt.Theme.Dim.Render(" no link selected")
	}
	lines := detail.Lines(m.opt.Theme, m.opt.Thresholds, l, s.Primary == l.ID, m.opt.Location, s.Time, w)
	lines = append(lines, m.reported(l.ID, w)...)
	return detail.View(lines, m.scroll, rows)
}

// reported is the full text of what the daemons last reported about a
// link (an error reply the events pane shows on one line).
func (m *Model) reported(id string, w int) []string {
	t := m.opt.Theme
	var out []string
	n := 0
	for i := len(m.state.Events) - 1; i >= 0 && n < 3; i-- {
		ev := m.state.Events[i]
		if ev.Link != id || ev.Detail == "" {
			continue
		}
		if n == 0 {
			out = append(out, "", section(t, "REPORTED", w))
		}
		n++
		out = append(out, " "+t.Dim.Render(ev.Time.In(m.opt.Location).Format("15:04:05"))+" "+ev.Text)
		for _, l := range strings.Split(ansi.Wrap(strings.TrimSpace(ev.Detail), max(w-4, 10), ""), "\n") {
			out = append(out, "   "+t.Dim.Render(l))
		}
	}
	return out
}

func (m *Model) detailView(w, rows int, compact bool) string {
	return m.detailLines(w, rows)
}

func (m *Model) helpView(w, rows int) string {
	t := m.opt.Theme
	lines := []string{section(t, "KEYS", w)}
	for _, group := range m.keys.FullHelp() {
		for _, b := range group {
			if !b.Enabled() {
				continue
			}
			h := b.Help()
			lines = append(lines, " "+t.Key.Render(padRight(h.Key, 8))+" "+h.Desc)
		}
	}
	lines = append(lines, "", section(t, "WHAT THE LIGHT MEANS", w))
	for _, m := range []struct {
		l    netstate.Level
		says string
	}{
		{netstate.LevelGreen, "the link is good enough for the VPN and your work"},
		{netstate.LevelAmber, "it may work, but slowly or with drop-outs"},
		{netstate.LevelRed, "work will not get through: see the reason under it"},
	} {
		word := t.Fg[m.l].Render(padRight(t.Symbol(m.l)+" "+m.l.Word(), 19))
		if 1+ansi.StringWidth(word)+1+len(m.says) <= w {
			lines = append(lines, " "+word+" "+m.says)
			continue
		}
		// Narrow: the meaning under its word, wrapped, never cut.
		lines = append(lines, " "+word)
		for _, l := range strings.Split(ansi.Wordwrap(m.says, max(10, w-3), ""), "\n") {
			lines = append(lines, "   "+l)
		}
	}
	out, off := scrolled(t, lines, m.scroll, w, rows)
	m.scroll = off // down past the end does not pile up
	return out
}

// scrolled shows rows of lines from offset; when they do not all fit, the
// last row says which way the rest is (words, not arrows: the console's
// ASCII mode has none).
func scrolled(t *theme.Theme, lines []string, offset, w, rows int) (string, int) {
	if len(lines) <= rows || rows < 2 {
		return clip(strings.Join(lines, "\n"), w, rows), 0
	}
	page := rows - 1
	offset = max(0, min(offset, len(lines)-page))
	vis := append([]string{}, lines[offset:offset+page]...)
	hint := " more below: down or j"
	if offset+page >= len(lines) {
		hint = " top: up or k"
	}
	vis = append(vis, t.Dim.Render(hint))
	return clip(strings.Join(vis, "\n"), w, rows), offset
}

func (m *Model) footer(w int) string {
	m.help.SetWidth(w - 1)
	k := m.keys
	bindings := k.ShortHelp()
	if w < fullWidth {
		// What a narrow screen must never lose: how to get help and out.
		bindings = []key.Binding{k.Help, k.Quit, k.Details, k.Down}
	}
	switch m.screen {
	case screenDetail:
		bindings = []key.Binding{k.Scroll, k.Back, k.Help, k.Quit}
	case screenHelp:
		bindings = []key.Binding{k.Back, k.Quit}
	case screenReports:
		bindings = []key.Binding{k.Back, k.Reports, k.Quit}
	case screenNetworks:
		bindings = []key.Binding{k.Choose, k.Back}
	}
	if m.flash != "" {
		return " " + m.opt.Theme.Bold.Render(m.flash)
	}
	if m.prompt != nil {
		return " " + m.opt.Theme.Bold.Render("NetworkManager is waiting for an answer")
	}
	return " " + m.help.ShortHelpView(bindings)
}

func (m *Model) tooSmall() string {
	t := m.opt.Theme
	w, h := m.width, m.height
	var lines []string
	if m.have {
		lv := m.state.Snapshot.Level
		word := t.Light[lv].Render(t.Symbol(lv) + " " + lv.Word())
		if m.state.Snapshot.Simulated {
			// Simulated data is marked at every size, first.
			word = t.Bold.Render("DEMO") + " " + word
		}
		// What to do comes before the complaint about the size.
		lines = append(lines, word, m.state.Snapshot.Advice().Short)
	}
	lines = append(lines, "Terminal too small", fmt.Sprintf("%dx%d, need %dx%d", w, h, MinWidth, MinHeight))
	return clip(strings.Join(lines, "\n"), w, h)
}

func section(t *theme.Theme, title string, w int) string {
	line := " " + t.Title.Render(title) + " "
	fill := w - ansi.StringWidth(line)
	if fill > 0 {
		line += t.Dim.Render(strings.Repeat(t.G.Rule, fill))
	}
	return line
}

func countLines(parts []string) int {
	n := 0
	for _, p := range parts {
		n += strings.Count(p, "\n") + 1
	}
	return n
}

// fitHeight pads or cuts s to exactly rows lines.
func fitHeight(s string, rows int) string {
	if rows <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > rows {
		lines = lines[:rows]
	}
	for len(lines) < rows {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

func padRight(s string, w int) string {
	n := ansi.StringWidth(s)
	if n >= w {
		return ansi.Truncate(s, w, "")
	}
	return s + strings.Repeat(" ", w-n)
}

// clip guarantees the screen never exceeds the terminal: no line wider than
// w, no more than h lines.
func clip(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			lines[i] = ansi.Truncate(l, w, "")
		}
	}
	return strings.Join(lines, "\n")
}

// joinNews is the latest event about joining a network, if any.
func (m *Model) joinNews() *netstate.Event {
	evs := m.state.Events
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == netstate.EventJoin {
			return &evs[i]
		}
	}
	return nil
}
