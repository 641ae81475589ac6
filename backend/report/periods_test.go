package report

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// TestReportWithoutVisitsCountsPeriodsOfUse is finding 10 of "The screens,
// tried by a tired nurse": a device that never pressed v got "No visits
// recorded in this period" and nothing about its time on site.
func TestReportWithoutVisitsCountsPeriodsOfUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	fc := clock.NewFake(day)
	r := journal.NewRecorder(j, journal.Options{Clock: fc})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	wifi := func(lv netstate.Level) netstate.Snapshot {
		return netstate.Snapshot{Primary: "wlan0", Links: []netstate.Link{{ID: "wlan0", Kind: netstate.KindWiFi, State: netstate.StateConnected,
			WiFi: netstate.WiFi{SSID: "NHS-Community"}, Level: lv, Connectivity: netstate.ConnFull}}}
	}
	none := netstate.Snapshot{}
	obs := func(h, m int, s netstate.Snapshot) {
		at := day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
		r.Observe(at, &s, nil)
	}
	// 9:00-9:30 and 9:35-9:50: one period (a 5-minute break), GO.
	obs(9, 0, wifi(netstate.LevelGreen))
	obs(9, 30, wifi(netstate.LevelGreen))
	obs(9, 30, none)
	obs(9, 35, wifi(netstate.LevelGreen))
	obs(9, 50, wifi(netstate.LevelGreen))
	obs(9, 50, none)
	// 11:00-11:03: a glance at the screen, not time on site.
	obs(11, 0, wifi(netstate.LevelGreen))
	obs(11, 3, none)
	// 13:00-13:40: DO NOT PROCEED for 30 of 40 minutes.
	obs(13, 0, wifi(netstate.LevelGreen))
	obs(13, 10, wifi(netstate.LevelRed))
	obs(13, 40, wifi(netstate.LevelRed))
	obs(13, 40, none)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done

	rep, err := Build(context.Background(), j.DB(), Query{Since: day, Until: day.AddDate(0, 0, 1), PeriodsOfUse: true})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	p := rep.Periods
	if p == nil || p.Count != 2 || p.Workable != 1 || p.Hours != 1.5 {
		t.Fatalf("periods of use %+v: want 2 (50 and 40 minutes), 1 workable", p)
	}
	var b strings.Builder
	rep.WriteTable(&b)
	for _, want := range []string{"No visits were marked (v): by periods of use instead, 1 of 2 workable (50%)", "at least 5 minutes with a network connected"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
}
