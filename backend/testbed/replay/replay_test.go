package replay

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/sim"
)

var base = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func play(t *testing.T, name string, until time.Duration) []Moment {
	t.Helper()
	sc, err := sim.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	p := failover.DefaultPolicy()
	return Run(sc, base, until, Options{Thresholds: netstate.DefaultThresholds(), Policy: &p})
}

// levels returns the traffic light's levels in order, from the engine's
// level events (so a red that failover fixed in the same instant counts).
func levels(ms []Moment) []netstate.Level {
	var out []netstate.Level
	for _, ev := range ms[len(ms)-1].State.Events {
		if ev.Kind == netstate.EventLevel {
			out = append(out, ev.Level)
		}
	}
	return out
}

func TestScenarioLevelsWithFailover(t *testing.T) {
	G, A, R := netstate.LevelGreen, netstate.LevelAmber, netstate.LevelRed
	cases := []struct {
		scenario string
		until    time.Duration
		want     []netstate.Level
	}{
		{"home-visit", 2*time.Minute + 30*time.Second, []netstate.Level{G, A, R, G}},
		{"captive-portal", 100 * time.Second, []netstate.Level{R, G, R, G}},
		{"cable-pulled", 80 * time.Second, []netstate.Level{G, R, G}},
		{"rural-cellular", 110 * time.Second, []netstate.Level{G, A, G, A, G, A, R, G}},
		{"nm-restart", 50 * time.Second, []netstate.Level{G, R, G}},
		{"steady", time.Hour, []netstate.Level{G}},
	}
	for _, c := range cases {
		t.Run(c.scenario, func(t *testing.T) {
			if got := levels(play(t, c.scenario, c.until)); !slices.Equal(got, c.want) {
				t.Fatalf("levels %v, want %v", got, c.want)
			}
		})
	}
}

func story(ms []Moment) string {
	var b strings.Builder
	for _, ev := range ms[len(ms)-1].State.Events {
		b.WriteString(ev.Time.Sub(base).String() + " " + string(ev.Kind) + " " + ev.Text + "\n")
	}
	return b.String()
}

func TestHomeVisitStory(t *testing.T) {
	s := story(play(t, "home-visit", 2*time.Minute+30*time.Second))
	for _, want := range []string{
		"38s level DO NOT PROCEED: no internet: timeout",
		"42s decision Activating cellular (EE, 4G): Wi-Fi 3 probes failed (timeout)",
		"44s failover Switched to cellular (EE, 4G): Wi-Fi 3 probes failed (timeout) 2.0 s ago",
		"44s level GO: 4G RSRP -95 dBm, probe 62 ms",
		"1m35s decision Keeping the work on cellular (EE, 4G) until Wi-Fi NHS-Community has been usable for 30s",
		"2m5s failback Back on Wi-Fi NHS-Community: usable for 30s",
		"2m15s decision cellular (EE, 4G) back to standby",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("story lacks %q:\n%s", want, s)
		}
	}
}

func TestCablePullMovesRouteAtOnce(t *testing.T) {
	ms := play(t, "cable-pulled", 80*time.Second)
	s := story(ms)
	for _, want := range []string{
		"15s link-down Wired eth0: carrier lost (cable unplugged?)",
		"15s failover Switched to Wi-Fi NHS-Staff: Wired no carrier 0.0 s ago",
		"42s decision Keeping the work on Wi-Fi NHS-Staff until wired eth0 has been usable for 30s",
		"1m12s failback Back on wired eth0: usable for 30s",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("story lacks %q:\n%s", want, s)
		}
	}
	for _, m := range ms {
		if m.At == 15*time.Second && m.State.Snapshot.Primary != "wlan0" {
			t.Fatalf("right after the pull the route is on %q", m.State.Snapshot.Primary)
		}
	}
}

func TestCaptivePortalStory(t *testing.T) {
	s := story(play(t, "captive-portal", 100*time.Second))
	for _, want := range []string{
		"0s decision Activating cellular (Vodafone UK, 4G): Wi-Fi sign-in page",
		"1.5s failover Switched to cellular (Vodafone UK, 4G): Wi-Fi sign-in page 1.5 s ago",
		"1m2s failback Back on Wi-Fi Surgery-Guest",
		"1m12s decision cellular (Vodafone UK, 4G) back to standby",
		"1m20s decision Activating cellular (Vodafone UK, 4G): Wi-Fi sign-in page",
		"1m21.5s failover Switched to cellular (Vodafone UK, 4G): Wi-Fi sign-in page 1.5 s ago",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("story lacks %q:\n%s", want, s)
		}
	}
}

func TestWithoutPolicyIsAsScripted(t *testing.T) {
	sc, _ := sim.Builtin("home-visit")
	ms := Run(sc, base, 2*time.Minute, Options{Thresholds: netstate.DefaultThresholds()})
	for _, m := range ms {
		if l := m.State.Snapshot.Link("wwan0"); l.State != netstate.StateDisconnected {
			t.Fatalf("cellular came up without failover at %v", m.At)
		}
	}
}
