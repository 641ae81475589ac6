// Package detail draws every raw figure fieldlink has for one link: what a
// field technician reads over SSH to tell a bad cell from a bad laptop.
package detail

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/components/bars"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// Lines returns the detail of a link as rows (without a height limit), so
// the caller can scroll them. From 76 columns the radio figures and the
// probe go in a left column beside the link's plumbing, so a technician at
// 80x24 sees RSRP and SINR without scrolling.
// now is the picture's time: the probe's age is told from it.
func Lines(t *theme.Theme, th netstate.Thresholds, l *netstate.Link, primary bool, loc *time.Location, now time.Time, width int) []string {
	head := t.Fg[l.Level].Render(t.Symbol(l.Level)+" "+l.Kind.Label()+" "+l.ID) + t.G.Sep + l.Reason
	// The reason under the light is what a technician reads first: it
	// wraps rather than loses its end.
	out := strings.Split(ansi.Wrap(head, max(width, 1), " ,"), "\n")
	if width >= 76 {
		colW := (width - 1) / 2
		left := append(radio(t, th, l, colW), probe(t, l, loc, now, colW)...)
		right := plumbing(t, l, primary, loc, colW)
		for i := 0; i < max(len(left), len(right)); i++ {
			var a, b string
			if i < len(left) {
				a = left[i]
			}
			if i < len(right) {
				b = right[i]
			}
			out = append(out, pad(a, colW)+" "+b)
		}
		return out
	}
	out = append(out, radio(t, th, l, width)...)
	out = append(out, probe(t, l, loc, now, width)...)
	return append(out, plumbing(t, l, primary, loc, width)...)
}

func pad(s string, w int) string {
	n := ansi.StringWidth(s)
	if n >= w {
		return ansi.Truncate(s, w, "")
	}
	return s + strings.Repeat(" ", w-n)
}

// rows collects "key value" rows of one section.
type rows struct {
	t     *theme.Theme
	width int
	out   []string
}

// kv is one row. A value too long for the column wraps onto lines of its
// own under the values, at spaces where it can: the detail view scrolls,
// so nothing a technician reads is cut.
func (r *rows) kv(k, v string) {
	if v == "" {
		return
	}
	const indent = 16 // "  " + a 13-cell key + " "
	line := fmt.Sprintf("  %-13s %s", k, v)
	if ansi.StringWidth(line) <= r.width || r.width < indent+8 {
		r.out = append(r.out, ansi.Truncate(line, r.width, r.t.G.Ellipsis))
		return
	}
	parts := strings.Split(ansi.Wrap(v, r.width-indent, " ,"), "\n")
	for i, p := range parts {
		lead := strings.Repeat(" ", indent)
		if i == 0 {
			lead = fmt.Sprintf("  %-13s ", k)
		}
		r.out = append(r.out, lead+strings.TrimLeft(p, " "))
	}
}

func (r *rows) fig(k string, f netstate.Figure, unit string) {
	if f.OK {
		r.kv(k, f.String()+unit)
	} else {
		r.kv(k, r.t.Dim.Render(r.t.G.Absent))
	}
}

func (r *rows) head(s string) { r.out = append(r.out, "", r.t.Title.Render(s)) }

func plumbing(t *theme.Theme, l *netstate.Link, primary bool, loc *time.Location, width int) []string {
	r := &rows{t: t, width: width}
	r.head("Link")
	r.kv("Kind", l.Kind.String())
	r.kv("Interface", l.Interface)
	r.kv("Model", l.Model)
	r.kv("Area", l.Area)
	state := l.State.String()
	if l.StateReason != "" {
		state += " (" + l.StateReason + ")"
	}
	if !l.Since.IsZero() {
		state += ", since " + l.Since.In(loc).Format("15:04:05")
	}
	r.kv("State", state)
	r.kv("Carrier", l.Carrier.String())
	r.kv("Profile", l.Profile)
	if len(l.Profiles) > 0 {
		r.kv("Saved", strings.Join(l.Profiles, ", "))
	}
	addrs, routes := "Addresses", "Routes"
	if l.Kind == netstate.KindVPN {
		addrs, routes = "Tunnel", "Pushed routes"
	}
	r.kv("Server", l.Server)
	r.kv(addrs, strings.Join(l.Addresses, ", "))
	r.kv("Gateway", l.Gateway)
	r.kv("DNS", strings.Join(l.DNS, ", "))
	for i, rt := range l.Routes {
		label := ""
		if i == 0 {
			label = routes
		}
		r.kv(label, rt.String())
	}
	route := "no"
	if primary {
		route = "yes (default route)"
	}
	if l.Demoted {
		route += ", demoted by fieldlink"
	}
	r.kv("In use", route)
	r.kv("Metered", l.Metered.String())
	r.kv("Connectivity", l.Connectivity.String())
	word, _ := netstate.LinkWord(l, netstate.LevelUnknown)
	r.kv("Verdict", word+": "+l.Reason)
	if l.Radio != netstate.LevelUnknown {
		r.kv("Signal alone", l.Radio.Word())
	}
	return r.out
}

func radio(t *theme.Theme, th netstate.Thresholds, l *netstate.Link, width int) []string {
	r := &rows{t: t, width: width}
	switch l.Kind {
	case netstate.KindWiFi:
		r.head("Wi-Fi")
		r.kv("SSID", l.WiFi.SSID)
		r.kv("BSSID", l.WiFi.BSSID)
		if l.WiFi.FrequencyMHz > 0 {
			r.kv("Frequency", fmt.Sprintf("%d MHz (%s)", l.WiFi.FrequencyMHz, band(l.WiFi.FrequencyMHz)))
		}
		r.kv("Security", l.WiFi.Security)
		r.fig("Strength", l.Signal.Strength, "%")
		if len(l.WiFi.AccessPoints) > 0 {
			r.head(fmt.Sprintf("Visible networks (%d)", len(l.WiFi.AccessPoints)))
			for _, ap := range l.WiFi.AccessPoints {
				apLink := netstate.Link{Kind: netstate.KindWiFi, Signal: netstate.Signal{Strength: netstate.Some(float64(ap.Strength))}}
				n, _ := bars.Count(&apLink)
				lv, _ := netstate.Radio(&apLink, th)
				sec := ap.Security
				if sec == "" {
					sec = "open"
				}
				line := fmt.Sprintf("  %s %3d%% %s", bars.Draw(t, n, lv), ap.Strength, ap.SSID)
				// What does not fit goes least-needed first: the band,
				// then the security; the name is cut last.
				full := line + t.Dim.Render(" "+sec)
				if ap.FrequencyMHz > 0 {
					full += t.Dim.Render(" " + band(ap.FrequencyMHz))
				}
				for _, try := range []string{full, line + t.Dim.Render(" "+sec)} {
					if ansi.StringWidth(try) <= width {
						line = try
						break
					}
				}
				r.out = append(r.out, ansi.Truncate(line, width, t.G.Ellipsis))
			}
		}
	case netstate.KindCellular:
		c := l.Cell
		r.head("Cellular")
		r.kv("Operator", c.Operator)
		if c.MCC != "" {
			r.kv("MCC-MNC", c.MCC+"-"+c.MNC)
		}
		if c.SIM.MCC != "" {
			r.kv("SIM home", strings.TrimSpace(c.SIM.Operator+" "+c.SIM.MCC+"-"+c.SIM.MNC))
		}
		tech := c.Tech.Label()
		if g := c.Tech.Generation(); g != "" {
			tech += " (" + g + ")"
		}
		r.kv("Technology", tech)
		r.kv("Registration", c.Registration.String())
		r.kv("Modem state", c.ModemState)
		r.kv("Failure", c.FailedReason)
		r.fig("RSSI", l.Signal.RSSI, " dBm")
		r.fig("RSRP", l.Signal.RSRP, " dBm")
		r.fig("RSRQ", l.Signal.RSRQ, " dB")
		r.fig("SINR", l.Signal.SINR, " dB")
		r.fig("RSCP", l.Signal.RSCP, " dBm")
		r.fig("Ec/Io", l.Signal.EcIo, " dB")
		r.fig("Quality", l.Signal.Quality, "%")
		r.kv("LAC", c.LAC)
		r.kv("TAC", c.TAC)
		r.kv("Cell ID", c.CellID)
		if c.Latitude.OK {
			r.kv("Position", fmt.Sprintf("%.4f, %.4f", c.Latitude.V, c.Longitude.V))
		}
	}
	return r.out
}

func probe(t *theme.Theme, l *netstate.Link, loc *time.Location, now time.Time, width int) []string {
	r := &rows{t: t, width: width}
	r.head("Probe")
	p := l.Probe
	switch p.OK {
	case netstate.Yes:
		r.kv("Result", "ok")
	case netstate.No:
		r.kv("Result", "failed: "+p.Reason)
	default:
		r.kv("Result", t.Dim.Render("not run yet"))
	}
	r.fig("Round trip", p.RTT, " ms")
	if p.Loss.OK {
		r.kv("Loss", p.Loss.String()+"%")
	}
	r.kv("Target", p.Target)
	if p.Target != "" {
		if p.Bound {
			r.kv("Bound", "yes, to "+l.Interface)
		} else {
			r.kv("Bound", "no: may take another route")
		}
	}
	if p.Failures > 0 {
		r.kv("Failures", fmt.Sprintf("%d in a row", p.Failures))
	}
	if p.BytesToday > 0 {
		cost := byteCount(p.BytesToday) + " (probes, both ways)"
		if l.Metered == netstate.Yes {
			cost += ", metered"
		}
		r.kv("Traffic today", cost)
	}
	stamp := func(at time.Time) string {
		when := at.In(loc).Format("15:04:05")
		if age := now.Sub(at); !now.IsZero() && age >= 0 {
			when += " (" + ago(age) + ")"
		}
		return when
	}
	if !p.Checked.IsZero() {
		r.kv("Checked", stamp(p.Checked))
	}
	// The link's own traffic answered is a check that cost nothing.
	if !p.Traffic.IsZero() && p.Traffic.After(p.Checked) {
		r.kv("Traffic OK", stamp(p.Traffic)+": answered, no probe needed")
	}
	return r.out
}

// byteCount is a day's probe traffic in the unit a data plan uses.
func byteCount(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// ago is an age in the grain a technician reads: seconds, then minutes.
func ago(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d s ago", int(d/time.Second))
	}
	return fmt.Sprintf("%d min ago", int(d/time.Minute))
}

func band(mhz uint32) string {
	switch {
	case mhz >= 5925:
		return "6 GHz"
	case mhz >= 4900:
		return "5 GHz"
	}
	return "2.4 GHz"
}

// View renders the lines from offset that fit in height rows.
func View(lines []string, offset, height int) string {
	if height <= 0 {
		return ""
	}
	offset = max(0, min(offset, len(lines)-height))
	end := min(len(lines), offset+height)
	return strings.Join(lines[offset:end], "\n")
}
