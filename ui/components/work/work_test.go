package work

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func via(id string) string { return map[string]string{"wlan0": "Wi-Fi NHS-Community"}[id] }

func lines(w netstate.Work, observer bool) string {
	return ansi.Strip(strings.Join(Lines(theme.New(theme.Options{}), w, via, netstate.LevelGreen, now, 100, observer, false), "\n"))
}

// TestTunnelIsNoBetterThanItsPath is item 6 of "Reports that answer the
// manager's question": under a red DO NOT PROCEED the VPN row still
// showed a green UP.
func TestTunnelIsNoBetterThanItsPath(t *testing.T) {
	th := theme.New(theme.Options{})
	up := netstate.Work{VPN: netstate.VPNStatus{Profile: "NHS-VPN", Phase: netstate.VPNUp, Since: now.Add(-5 * time.Minute), Via: "wlan0"}}
	for _, c := range []struct {
		path netstate.Level
		want string
	}{
		{netstate.LevelGreen, "● GO · up 5m over Wi-Fi NHS-Community"},
		{netstate.LevelAmber, "▲ MARGINAL · up 5m over Wi-Fi NHS-Community"},
		{netstate.LevelRed, "■ DO NOT PROCEED · up 5m over Wi-Fi NHS-Community"},
		{netstate.LevelUnknown, "● GO · up 5m over Wi-Fi NHS-Community"},
	} {
		raw := strings.Join(Lines(th, up, via, c.path, now, 100, false, false), "\n")
		got := ansi.Strip(raw)
		if !strings.Contains(got, c.want) {
			t.Errorf("path %v: want %q in %q", c.path, c.want, got)
		}
		// The row's symbol and colour are the path's when it is worse.
		if c.path == netstate.LevelRed || c.path == netstate.LevelAmber {
			if want := th.Fg[c.path].Render(th.Symbol(c.path) + " " + c.path.Word()); !strings.Contains(raw, want) {
				t.Errorf("path %v: the VPN is not drawn at the path's level: %q", c.path, raw)
			}
			if strings.Contains(raw, th.Fg[netstate.LevelGreen].Render(th.Symbol(netstate.LevelGreen))) {
				t.Errorf("path %v: still a green mark", c.path)
			}
		}
	}
}

func TestEveryPhaseInWords(t *testing.T) {
	vpn := func(p netstate.VPNPhase, reason string) netstate.Work {
		return netstate.Work{VPN: netstate.VPNStatus{Profile: "NHS-VPN", Phase: p, Since: now.Add(-62 * time.Minute), Via: "wlan0",
			Reason: reason, Retry: now.Add(20 * time.Second)}}
	}
	for _, c := range []struct {
		w    netstate.Work
		want string
	}{
		{vpn(netstate.VPNUp, ""), "VPN  NHS-VPN            ● GO · up 1h02m over Wi-Fi NHS-Community"},
		{vpn(netstate.VPNConnecting, ""), "◌ CONNECTING over Wi-Fi NHS-Community"},
		{vpn(netstate.VPNRetrying, "the VPN service stopped"), "✕ FAILED the VPN service stopped; again in 20s"},
		{vpn(netstate.VPNHeld, "login failed"), "✕ FAILED login failed · c to connect"},
		{vpn(netstate.VPNWaiting, "waiting for a workable path: Wi-Fi is DO NOT PROCEED"), "○ STANDBY waiting for a workable path: Wi-Fi is DO NOT PROCEED"},
		{vpn(netstate.VPNWaiting, "press c to connect"), "○ STANDBY c to connect"},
		{netstate.Work{App: netstate.AppStatus{Name: "Clinical records", Phase: netstate.AppRunning, Since: now.Add(-3 * time.Minute)}}, "App  Clinical records   ● RUNNING · for 3m"},
		{netstate.Work{App: netstate.AppStatus{Name: "Clinical records", Phase: netstate.AppIdle, Launch: "on-vpn-up"}}, "○ NOT STARTED starts when the VPN is up · a to start"},
		{netstate.Work{App: netstate.AppStatus{Name: "Clinical records", Phase: netstate.AppFailed, Reason: "exited with status 3"}}, "✕ STOPPED exited with status 3 · a to start"},
	} {
		if got := lines(c.w, false); !strings.Contains(got, c.want) {
			t.Errorf("want %q in\n%s", c.want, got)
		}
	}
	if got := lines(vpn(netstate.VPNHeld, "login failed"), true); strings.Contains(got, "c to") {
		t.Errorf("an observer is offered a key it cannot use: %s", got)
	}
	if got := lines(netstate.Work{}, false); got != "" {
		t.Errorf("nothing configured, yet: %q", got)
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{42 * time.Second: "42s", 12 * time.Minute: "12m", 62 * time.Minute: "1h02m",
		51 * time.Hour: "2d03h", -time.Second: "0s"} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestNextChange: an uptime wakes the screen when its words change, not
// each second: seconds in the first minute, then minutes, then hours.
func TestNextChange(t *testing.T) {
	for _, c := range []struct {
		d, want time.Duration
	}{
		{0, time.Second},
		{1500 * time.Millisecond, 500 * time.Millisecond},
		{59 * time.Second, time.Second},
		{61 * time.Second, 59 * time.Second},
		{2*time.Hour + 30*time.Second, 30 * time.Second},
		{50*time.Hour + 10*time.Minute, 50 * time.Minute},
	} {
		got := NextChange(c.d)
		if got != c.want {
			t.Errorf("NextChange(%v) = %v, want %v", c.d, got, c.want)
		}
		if Duration(c.d) == Duration(c.d+got) || Duration(c.d) != Duration(c.d+got-time.Millisecond) {
			t.Errorf("at %v: %q, then %q at +%v: the words must change exactly then", c.d, Duration(c.d), Duration(c.d+got), got)
		}
	}
	for _, left := range []time.Duration{90 * time.Second, 59500 * time.Millisecond, 3 * time.Second, 2*time.Minute + 1} {
		got := NextChangeDown(left)
		if Duration(left) == Duration(left-got) || Duration(left) != Duration(left-got+1) {
			t.Errorf("countdown at %v: %q, then %q after %v", left, Duration(left), Duration(left-got), got)
		}
	}
}
