// Package reports draws the TUI's reports view: this device's headline
// and, per operator or Wi-Fi network, a bar of the time it was green,
// amber and red, so a clinician or technician can see which networks
// work here without leaving the screen.
package reports

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// View renders r in width x height cells. err, if set, is shown instead.
// sync is how the journal stands with the fleet server, if one is set.
func View(t *theme.Theme, r *report.Report, err error, sync netstate.SyncStatus, visit netstate.VisitStatus, loc *time.Location, width, height int) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	var lines []string
	add := func(s string) { lines = append(lines, ansi.Truncate(s, width, t.G.Ellipsis)) }
	switch {
	case err != nil:
		add(t.Warning.Render(" Report unavailable: " + err.Error()))
		return strings.Join(lines, "\n")
	case r == nil:
		add(t.Dim.Render(" Reading the journal..."))
		return strings.Join(lines, "\n")
	}
	add(t.Title.Render(" This device, " + r.Period.Text))
	if sync.Server != "" {
		line := " Journal not yet sent to the fleet server"
		if !sync.LastOK.IsZero() {
			line = " Journal last reached the fleet server at " + sync.LastOK.In(loc).Format("Mon 15:04")
		}
		if sync.Error != "" {
			add(t.Warning.Render(line + "; last try failed: " + sync.Error))
		} else {
			add(t.Dim.Render(line))
		}
	}
	if r.Demo {
		add(t.Warning.Render(" DEMO: simulated data"))
	}
	h := r.Headline
	if h.Visits > 0 {
		add(fmt.Sprintf(" Visits with workable signal: %d of %d (%.0f%%)", h.Workable, h.Visits, 100*float64(h.Workable)/float64(h.Visits)))
		// Per network and area, as the fleet report answers it, while
		// there is room for the bars too.
		for i, o := range r.Operators {
			if i == 3 || len(lines) > height/3 {
				break
			}
			add(" " + o.Text)
		}
		if len(r.DeadZones) > 0 && len(lines) < height/3+1 {
			add(t.Warning.Render(" Dead zones: " + strings.Join(r.DeadZones, ", ")))
		}
	} else if visit.Open {
		// The screen shows VISIT 0m: the report must not say there is none.
		add(t.Dim.Render(" Visit in progress since " + visit.Since.In(loc).Format("15:04") + ": it counts once you press v to leave."))
	} else if p := r.Periods; p != nil && p.Count > 0 {
		add(" " + p.Text)
		for i, a := range p.ByArea {
			if i == 2 || len(lines) > height/3 {
				break
			}
			add(fmt.Sprintf("   %s: workable in %s%% of %d", a.Area, strconv.FormatFloat(a.Pct, 'f', -1, 64), a.Count))
		}
		add(t.Dim.Render(" Press v on arrival and on leaving to count visits."))
	} else {
		add(t.Dim.Render(" No visits marked yet: press v on arrival and again on leaving."))
	}
	if len(r.Networks) == 0 {
		add(t.Dim.Render(" No connection sessions recorded yet."))
		add(t.Dim.Render(" A session counts here once it ends; the ones in progress are listed below."))
		recent(t, r.Recent, loc, width, height, add, func() int { return len(lines) })
		return strings.Join(lines, "\n")
	}
	add("")
	nameW := 0
	for _, n := range r.Networks {
		nameW = max(nameW, ansi.StringWidth(n.Key))
	}
	nameW = min(nameW, max(10, width/3))
	// name, bar, then the shares after the light's own marks and the hours
	figs := make([]string, len(r.Networks))
	tail := 0
	for i, n := range r.Networks {
		figs[i] = fmt.Sprintf(" %s%3.0f%% %s%3.0f%% %s%3.0f%% %5.1fh", t.Symbol(netstate.LevelGreen), n.GreenPct,
			t.Symbol(netstate.LevelAmber), n.AmberPct, t.Symbol(netstate.LevelRed), n.RedPct, n.ConnectedHours)
		tail = max(tail, ansi.StringWidth(figs[i]))
	}
	barW := width - nameW - tail - 2
	if barW < 6 {
		barW = 6
	}
	for i, n := range r.Networks {
		if len(lines) >= height-1 {
			break
		}
		name := ansi.Truncate(n.Key, nameW, t.G.Ellipsis)
		name += strings.Repeat(" ", nameW-ansi.StringWidth(name))
		add(" " + name + " " + bar(t, n, barW) + figs[i])
	}
	if len(lines) < height {
		// The marks are the light's own shapes, so the row needs no
		// abbreviation of its words.
		add(t.Dim.Render(fmt.Sprintf(" Share of connected time: %s %s, %s %s, %s %s",
			t.Symbol(netstate.LevelGreen), netstate.WordGo, t.Symbol(netstate.LevelAmber), netstate.WordMarginal,
			t.Symbol(netstate.LevelRed), netstate.WordDoNotProceed)))
	}
	recent(t, r.Recent, loc, width, height, add, func() int { return len(lines) })
	return strings.Join(lines, "\n")
}

// recent lists the newest sessions, one a line, as far as there is room:
// when, which link, how long, the share at each level, and how it ended.
func recent(t *theme.Theme, ss []report.Session, loc *time.Location, width, height int, add func(string), n func() int) {
	if len(ss) == 0 || n()+3 > height {
		return
	}
	add("")
	line := " " + t.Title.Render("RECENT SESSIONS") + " "
	if fill := width - ansi.StringWidth(line); fill > 0 {
		line += t.Dim.Render(strings.Repeat(t.G.Rule, fill))
	}
	add(line)
	for _, s := range ss {
		if n() >= height {
			return
		}
		end, how := s.End, s.EndReason
		if end.IsZero() {
			end, how = time.Now(), ""
		}
		total := end.Sub(s.Start)
		pct := func(d time.Duration) float64 {
			if total <= 0 {
				return 0
			}
			return 100 * float64(d) / float64(total)
		}
		name := s.Network
		if name == "" {
			name = s.Interface
		}
		kind, _ := netstate.ParseKind(s.Kind)
		rtt := ""
		if s.MedRTT > 0 {
			rtt = fmt.Sprintf(" %4.0fms", s.MedRTT)
		}
		shares := fmt.Sprintf("%s%3.0f%% %s%3.0f%% %s%3.0f%%", t.Symbol(netstate.LevelGreen), pct(s.Green),
			t.Symbol(netstate.LevelAmber), pct(s.Amber), t.Symbol(netstate.LevelRed), pct(s.Red))
		if s.End.IsZero() {
			// An open session's time at each level is counted when it ends.
			shares = "in progress" + strings.Repeat(" ", max(0, ansi.StringWidth(shares)-len("in progress")))
		}
		add(fmt.Sprintf(" %s %-8s %-16s %7s %s%s  %s", s.Start.In(loc).Format("01-02 15:04"),
			kind.Label(), ansi.Truncate(name, 16, t.G.Ellipsis), fmtDur(total), shares, rtt, how))
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// bar draws the green/amber/red shares as one bar; each share has its
// own glyph as well as its color, so it reads without color.
func bar(t *theme.Theme, n report.Row, w int) string {
	g := int(n.GreenPct/100*float64(w) + 0.5)
	a := int(n.AmberPct/100*float64(w) + 0.5)
	if g+a > w {
		a = w - g
	}
	r := w - g - a
	if n.GreenPct+n.AmberPct+n.RedPct == 0 {
		return t.Dim.Render(strings.Repeat(t.G.BarEmpty, w))
	}
	glyph := map[netstate.Level]string{netstate.LevelGreen: "█", netstate.LevelAmber: "▒", netstate.LevelRed: "░"}
	if t.ASCII {
		glyph = map[netstate.Level]string{netstate.LevelGreen: "#", netstate.LevelAmber: "=", netstate.LevelRed: "."}
	}
	part := func(l netstate.Level, k int) string {
		if k <= 0 {
			return ""
		}
		return t.Fg[l].Render(strings.Repeat(glyph[l], k))
	}
	return part(netstate.LevelGreen, g) + part(netstate.LevelAmber, a) + part(netstate.LevelRed, r)
}
