// Package demohistory gives a new demo journal four weeks of a district
// nurse's history, recorded by the real recorder on a fake clock: visits
// in five named areas on three operators (EE all month on one modem;
// Vodafone, then O2 after a SIM trial swap, on the other) and the clinic's
// Wi-Fi. A demo's report then shows what the report exists for: which
// operator works where, and the dead zone.
package demohistory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// operator is a SIM's network and its tracking-area codes by area.
type operator struct {
	name, mcc, mnc string
	tac            map[string]string
}

// place is a named area and how often each operator is usable there, in
// tenths of a visit's minutes.
type place struct {
	name   string
	usable map[string]int // by operator name
}

var (
	ee  = operator{"EE", "234", "30", map[string]string{"Kings Heath": "2C11", "Northfield": "2C10", "Longbridge": "2C12", "Selly Oak": "2C13", "Harborne": "2C14"}}
	vf  = operator{"Vodafone UK", "234", "15", map[string]string{"Kings Heath": "1F2B", "Northfield": "1F2A", "Longbridge": "1F2C", "Selly Oak": "1F2D", "Harborne": "1F2E"}}
	o2  = operator{"O2 - UK", "234", "10", map[string]string{"Kings Heath": "0B31", "Northfield": "0B30", "Longbridge": "0B32", "Selly Oak": "0B33", "Harborne": "0B34"}}
	all = []operator{ee, vf, o2}

	places = []place{
		{"Kings Heath", map[string]int{"EE": 5, "Vodafone UK": 10, "O2 - UK": 8}},
		{"Northfield", map[string]int{"EE": 10, "Vodafone UK": 7, "O2 - UK": 4}},
		{"Longbridge", map[string]int{"EE": 3, "Vodafone UK": 2, "O2 - UK": 2}},
		{"Selly Oak", map[string]int{"EE": 10, "Vodafone UK": 9, "O2 - UK": 10}},
		{"Harborne", map[string]int{"EE": 7, "Vodafone UK": 4, "O2 - UK": 10}},
	}
)

// Map is the demo's area map: each area's codes on the three operators.
func Map() *areas.Map {
	doc := ""
	for _, p := range places {
		doc += fmt.Sprintf("[[area]]\nname = %q\ncells = [", p.name)
		for i, o := range all {
			if i > 0 {
				doc += ", "
			}
			doc += fmt.Sprintf("%q", o.mcc+"-"+o.mnc+" TAC "+o.tac[p.name])
		}
		doc += "]\n\n"
	}
	doc += "[[area]]\nname = \"Clinic (base)\"\nssids = [\"NHS-Community\"]\n"
	m, err := areas.Parse("demo areas", []byte(doc))
	if err != nil {
		panic("demohistory: the built-in area map does not parse: " + err.Error())
	}
	return m
}

// Seed records the history into j, a demo's journal, when it holds no
// session from before today (a new one, or one only played with today);
// the history ends the day before now, so it never overlaps what the demo
// records live. It leaves a journal with older sessions as it is.
func Seed(ctx context.Context, j *journal.Journal, now time.Time) error {
	today := now.UTC().Truncate(24 * time.Hour)
	var n int
	if err := j.DB().QueryRowContext(ctx, `SELECT count(*) FROM session WHERE start_ms < ?`, today.UnixMilli()).Scan(&n); err != nil || n > 0 {
		return err
	}
	first := today.AddDate(0, 0, -28)
	fc := clock.NewFake(first)
	r := journal.NewRecorder(j, journal.Options{Clock: fc, Areas: Map()})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	rng := rand.New(rand.NewPCG(20261123, 28))
	for d := 0; d < 28; d++ {
		day := first.AddDate(0, 0, d)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		recordDay(ctx, r, fc, day, d, rng)
	}
	err := r.Flush(ctx)
	cancel()
	<-done
	return err
}

// recordDay is a working day: the clinic's Wi-Fi at the start, then four
// visits with the drive between them on cellular.
func recordDay(ctx context.Context, r *journal.Recorder, fc *clock.Fake, day time.Time, d int, rng *rand.Rand) {
	second := vf
	if d >= 14 {
		second = o2 // the SIM trial: Vodafone swapped for O2
	}
	at := day.Add(8*time.Hour + 30*time.Minute)
	observe := func(t time.Time, s netstate.Snapshot) {
		if dt := t.Sub(fc.Now()); dt > 0 {
			fc.Advance(dt)
		}
		r.Observe(t, &s, nil)
	}
	clinic := netstate.Snapshot{Primary: "wlan0", Links: []netstate.Link{{ID: "wlan0", Kind: netstate.KindWiFi, Interface: "wlan0",
		State: netstate.StateConnected, Profile: "NHS-Community", WiFi: netstate.WiFi{SSID: "NHS-Community"},
		Level: netstate.LevelGreen, Connectivity: netstate.ConnFull, Default: true}}}
	observe(at, clinic)
	at = at.Add(25 * time.Minute)
	observe(at, clinic)
	for v := 0; v < 4; v++ {
		p := places[rng.IntN(len(places))]
		at = at.Add(time.Duration(15+rng.IntN(20)) * time.Minute) // the drive
		observe(at, visitSnapshot(p, second, 0, 10, rng))
		r.MarkVisit(ctx)
		length := 20 + rng.IntN(25)
		for m := 1; m <= length; m += 3 {
			observe(at.Add(time.Duration(m)*time.Minute), visitSnapshot(p, second, m, length, rng))
		}
		at = at.Add(time.Duration(length) * time.Minute)
		observe(at, visitSnapshot(p, second, length, length, rng))
		r.MarkVisit(ctx)
	}
	observe(at.Add(time.Minute), netstate.Snapshot{})
}

// visitSnapshot is minute m of a visit of length minutes in p: each
// operator usable for its share of the visit, the work on the first one
// usable.
func visitSnapshot(p place, second operator, m, length int, rng *rand.Rand) netstate.Snapshot {
	var s netstate.Snapshot
	for i, o := range []operator{ee, second} {
		share := p.usable[o.name]
		usable := m*10 < share*length || (share > 0 && share < 10 && rng.IntN(20) == 0)
		l := netstate.Link{ID: fmt.Sprintf("wwan%d", i), Kind: netstate.KindCellular, Interface: fmt.Sprintf("wwan%d", i),
			State: netstate.StateConnected, Profile: o.name + " Internet", Level: netstate.LevelGreen, Connectivity: netstate.ConnFull,
			Cell:   netstate.Cell{Operator: o.name, MCC: o.mcc, MNC: o.mnc, TAC: o.tac[p.name], Tech: netstate.TechLTE, Registration: netstate.RegHome},
			Signal: netstate.Signal{RSRP: netstate.Some(-92)}}
		if !usable {
			l.Level, l.Signal.RSRP = netstate.LevelRed, netstate.Some(-121)
		}
		s.Links = append(s.Links, l)
	}
	for i := range s.Links {
		if s.Links[i].Level == netstate.LevelGreen {
			s.Primary = s.Links[i].ID
			break
		}
	}
	if s.Primary == "" {
		s.Primary = s.Links[0].ID
	}
	for i := range s.Links {
		s.Links[i].Default = s.Links[i].ID == s.Primary
	}
	return s
}
