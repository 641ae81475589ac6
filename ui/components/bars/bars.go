// Package bars draws signal bars (▂▄▆█ or ###.) for a link, colored by the
// link's radio level, and the one figure that goes beside them.
package bars

import (
	"strings"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// Width is how many cells the bars take, in every theme.
const Width = 4

// Count returns how many of four bars a link earns and whether it has a
// radio figure at all. Wi-Fi follows nmcli (>80, >55, >30, >5 %); cellular
// follows Android's signal-level bounds for the technology.
func Count(l *netstate.Link) (int, bool) {
	s := l.Signal
	steps := func(v float64, bounds ...float64) int {
		n := 0
		for _, b := range bounds {
			if v > b {
				n++
			}
		}
		return n
	}
	stepsGE := func(v float64, bounds ...float64) int {
		n := 0
		for _, b := range bounds {
			if v >= b {
				n++
			}
		}
		return n
	}
	switch l.Kind {
	case netstate.KindWiFi:
		if s.Strength.OK {
			return steps(s.Strength.V, 5, 30, 55, 80), true
		}
	case netstate.KindCellular:
		switch {
		case s.RSRP.OK:
			return stepsGE(s.RSRP.V, -128, -118, -108, -98), true
		case s.RSCP.OK:
			return stepsGE(s.RSCP.V, -115, -105, -95, -85), true
		case s.RSSI.OK && l.Cell.Tech >= netstate.TechGSM && l.Cell.Tech <= netstate.TechEDGE:
			return stepsGE(s.RSSI.V, -107, -103, -97, -89), true
		case s.Quality.OK:
			return steps(s.Quality.V, 5, 30, 55, 80), true
		}
	}
	return 0, false
}

// Render draws the bars for a link in exactly Width cells.
func Render(t *theme.Theme, l *netstate.Link) string {
	if l.Kind == netstate.KindEthernet {
		if l.Carrier == netstate.No {
			return t.Fg[netstate.LevelRed].Render(t.G.NoWire)
		}
		if l.Carrier == netstate.Yes {
			return t.Fg[l.Level].Render(t.G.Wired)
		}
		return strings.Repeat(" ", Width)
	}
	n, ok := Count(l)
	if !ok {
		return t.Dim.Render(strings.Repeat(t.G.BarEmpty, Width))
	}
	return Draw(t, n, l.Radio)
}

// Draw renders n of four bars in the color of level.
func Draw(t *theme.Theme, n int, level netstate.Level) string {
	var filled, empty strings.Builder
	for i := 0; i < Width; i++ {
		if i < n {
			filled.WriteString(t.G.Bars[i])
		} else {
			empty.WriteString(t.G.BarEmpty)
		}
	}
	out := t.Fg[level].Render(filled.String())
	if empty.Len() > 0 {
		out += t.Dim.Render(empty.String())
	}
	return out
}

// Figure is the headline number for a link: "72%", "-95 dBm", "3 ms".
func Figure(l *netstate.Link) string {
	s := l.Signal
	switch {
	case l.Kind == netstate.KindWiFi && s.Strength.OK:
		return s.Strength.String() + "%"
	case s.RSRP.OK:
		return s.RSRP.String() + " dBm"
	case s.RSCP.OK:
		return s.RSCP.String() + " dBm"
	case s.RSSI.OK:
		return s.RSSI.String() + " dBm"
	case s.Quality.OK:
		return s.Quality.String() + "%"
	case l.Probe.OK == netstate.Yes && l.Probe.RTT.OK:
		return l.Probe.RTT.String() + " ms"
	}
	return ""
}
