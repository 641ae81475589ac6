// Package work draws what rides on the network: the VPN, with its state,
// uptime and the path it runs over, and the clinical application. Each
// state is a word and a shape as well as a color.
package work

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// Lines renders one row per configured item (none when nothing is
// configured). via names a link for the screen; path is the level of the
// path the VPN runs over: a tunnel is no better than its path, so a VPN
// that is up over a DO NOT PROCEED path says DO NOT PROCEED, as its row in
// the links list does.
func Lines(t *theme.Theme, w netstate.Work, via func(id string) string, path netstate.Level, now time.Time, width int, observer, compact bool) []string {
	var out []string
	row := func(kind, name string, level netstate.Level, sym, word, rest string) {
		head := " " + padRight(kind, 4) + " " + padRight(ansi.Truncate(name, 18, t.G.Ellipsis), 18) + " "
		if compact {
			head = " " + kind + " " // the name is in the links list
		}
		s := head + t.Fg[level].Render(sym+" "+word)
		if rest != "" {
			s += " " + rest
		}
		out = append(out, ansi.Truncate(s, width, t.G.Ellipsis))
	}
	if v := w.VPN; v.Profile != "" {
		over := ""
		if v.Via != "" {
			over = "over " + via(v.Via)
		}
		hint := "c to connect"
		if observer {
			hint = ""
		}
		word, lv := netstate.VPNWord(v, path)
		sym := t.WordMark(word, lv)
		switch v.Phase {
		case netstate.VPNUp:
			up := "up " + Duration(now.Sub(v.Since))
			if over != "" {
				up += " " + over
			}
			row("VPN", v.Profile, lv, sym, word, strings.TrimLeft(t.G.Sep, " ")+up)
		case netstate.VPNConnecting:
			row("VPN", v.Profile, lv, sym, word, over)
		case netstate.VPNRetrying:
			row("VPN", v.Profile, lv, sym, word, fmt.Sprintf("%s; again in %s", v.Reason, Duration(v.Retry.Sub(now))))
		case netstate.VPNHeld:
			row("VPN", v.Profile, lv, sym, word, join(v.Reason, hint))
		default:
			why := v.Reason
			if why == "" {
				why = "waiting for a workable path"
			}
			if why == "press c to connect" {
				why = hint
			}
			row("VPN", v.Profile, lv, sym, word, why)
		}
	}
	if a := w.App; a.Name != "" {
		hint := "a to start"
		if observer {
			hint = ""
		}
		switch a.Phase {
		case netstate.AppRunning:
			row("App", a.Name, netstate.LevelGreen, t.Symbol(netstate.LevelGreen), netstate.WordRunning, strings.TrimLeft(t.G.Sep, " ")+"for "+Duration(now.Sub(a.Since)))
		case netstate.AppFailed:
			row("App", a.Name, netstate.LevelRed, t.G.Down, netstate.WordStopped, join(a.Reason, hint))
		case netstate.AppExited:
			row("App", a.Name, netstate.LevelUnknown, t.G.Standby, netstate.WordClosed, hint)
		default:
			when := hint
			if a.Launch == "on-vpn-up" {
				when = join("starts when the VPN is up", hint)
			}
			row("App", a.Name, netstate.LevelUnknown, t.G.Standby, netstate.WordNotStarted, when)
		}
	}
	return out
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " · " + b
}

// Duration is an uptime as people read it: 42s, 12m, 1h02m, 2d03h.
func Duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// NextChange is how long until Duration(d) reads otherwise, d growing:
// seconds tick only in the first minute, minutes after, so an uptime on a
// screen left open wakes it once a minute, not once a second.
func NextChange(d time.Duration) time.Duration {
	g := grain(d)
	return g - max(d, 0)%g
}

// NextChangeDown is the same for a countdown: how long until
// Duration(left) reads otherwise, left shrinking.
func NextChangeDown(left time.Duration) time.Duration {
	if left <= 0 {
		return time.Hour // it reads 0s, and stays so
	}
	return left%grain(left) + 1 // the words change just below the boundary
}

// grain is the unit Duration shows d in.
func grain(d time.Duration) time.Duration {
	switch {
	case d < time.Minute:
		return time.Second
	case d < 48*time.Hour:
		return time.Minute
	}
	return time.Hour
}

func padRight(s string, w int) string {
	n := ansi.StringWidth(s)
	if n >= w {
		return s
	}
	return s + strings.Repeat(" ", w-n)
}
