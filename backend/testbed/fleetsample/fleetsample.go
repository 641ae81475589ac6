// Package fleetsample records a small fleet's journals with the real
// recorder: three devices, eleven visits of ten minutes in named and
// unnamed areas, on two operators and a Wi-Fi network, chosen so that
// every figure of a report can be worked out on paper. Report tests, the
// fleet server's tests and its browser test share it.
package fleetsample

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// AreaMap is the sample fleet's area map: two operators' codes for the
// same places, and one code (TAC 2C99) IT has not named yet.
const AreaMap = `
[[area]]
name = "Northfield"
cells = ["234-30 TAC 2C10", "234-15 TAC 1F2A"]

[[area]]
name = "Kings Heath"
cells = ["234-30 TAC 2C11", "234-15 TAC 1F2B"]

[[area]]
name = "Longbridge"
cells = ["234-30 TAC 2C12", "234-15 TAC 1F2C"]
`

// place is an area's tracking area on each operator.
var place = map[string][2]string{
	"Northfield":  {"2C10", "1F2A"},
	"Kings Heath": {"2C11", "1F2B"},
	"Longbridge":  {"2C12", "1F2C"},
	"unnamed":     {"2C99", "1F99"},
}

// Absent and idle are a modem's states in a visit besides the minutes it
// was usable: not there at all, or there and registered but not connected.
const (
	absent = -1
	idle   = -2
)

// visit is one visit of ten minutes. ee and vf are the minutes EE and
// Vodafone were usable (GO) before turning DO NOT PROCEED for the rest;
// wifi is a GO Wi-Fi network "Clinic"; primary carries the work.
type visit struct {
	n       int
	dev     int
	day     int
	area    string
	ee, vf  int
	wifi    bool
	primary string
}

// visits are chosen so every cell of the table can be worked out on
// paper (see TestOperatorByAreaWorkedOutByHand).
var visits = []visit{
	{n: 1, dev: 0, day: 0, area: "Northfield", ee: 10, vf: 0, primary: "ee"},
	{n: 2, dev: 0, day: 0, area: "Northfield", ee: 10, vf: 10, primary: "ee"},
	{n: 3, dev: 0, day: 0, area: "Kings Heath", ee: 0, vf: 10, primary: "vf"},
	{n: 11, dev: 0, day: 0, area: "Kings Heath", ee: 0, vf: 10, primary: "vf"},
	{n: 4, dev: 1, day: 1, area: "Longbridge", ee: 0, vf: absent, primary: "ee"},
	{n: 5, dev: 1, day: 1, area: "Northfield", ee: 8, vf: absent, primary: "ee"}, // 8 of 10 minutes: just workable
	{n: 6, dev: 1, day: 1, area: "Northfield", ee: 7, vf: absent, primary: "ee"}, // 7 of 10: not
	{n: 7, dev: 1, day: 1, area: "Longbridge", ee: 0, vf: absent, wifi: true, primary: "wifi"},
	{n: 8, dev: 1, day: 1, area: "unnamed", ee: 10, vf: absent, primary: "ee"},
	{n: 9, dev: 2, day: 1, area: "Longbridge", ee: idle, vf: absent},
	{n: 10, dev: 2, day: 1, area: "Kings Heath", ee: absent, vf: 10, primary: "vf"},
}

// Hosts are the sample devices' hostnames.
var Hosts = []string{"tb-nurse-1", "tb-nurse-2", "tb-nurse-3"}

// Day0 is Monday 2 November 2026, the sample's first day.
var Day0 = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// Today is the day a fleet store judges the sample from (its clock in
// tests): the sample's days stay inside the devices' window whatever the
// machine's date.
var Today = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// Clock is Today as a store's clock.
func Clock() time.Time { return Today }

func modem(id, op, mnc, tac string, usable bool, connected bool) netstate.Link {
	l := netstate.Link{ID: id, Kind: netstate.KindCellular, Interface: id, State: netstate.StateConnected, Profile: op + " Internet",
		Level: netstate.LevelGreen, Connectivity: netstate.ConnFull,
		Cell: netstate.Cell{Operator: op, MCC: "234", MNC: mnc, TAC: tac, Tech: netstate.TechLTE, Registration: netstate.RegHome}}
	if !usable {
		l.Level = netstate.LevelRed
	}
	if !connected {
		l.State, l.Level, l.Connectivity = netstate.StateDisconnected, netstate.LevelRed, netstate.ConnNone
	}
	return l
}

// snapshot is the device at minute m of a visit.
func (v visit) snapshot(m int) netstate.Snapshot {
	var s netstate.Snapshot
	codes := place[v.area]
	if v.ee != absent {
		s.Links = append(s.Links, modem("wwan0", "EE", "30", codes[0], m < v.ee, v.ee != idle))
	}
	if v.vf != absent {
		s.Links = append(s.Links, modem("wwan1", "Vodafone UK", "15", codes[1], m < v.vf, v.vf != idle))
	}
	if v.wifi {
		s.Links = append(s.Links, netstate.Link{ID: "wlan0", Kind: netstate.KindWiFi, Interface: "wlan0", State: netstate.StateConnected,
			Profile: "Clinic", WiFi: netstate.WiFi{SSID: "Clinic"}, Level: netstate.LevelGreen, Connectivity: netstate.ConnFull})
	}
	switch v.primary {
	case "ee":
		s.Primary = "wwan0"
	case "vf":
		s.Primary = "wwan1"
	case "wifi":
		s.Primary = "wlan0"
	}
	for i := range s.Links {
		s.Links[i].Default = s.Links[i].ID == s.Primary
	}
	return s
}

// Device creates sample device dev's journal in dir, with its fixed id
// and hostname (so renderings stay stable), and returns its path and the
// journal, open.
func Device(t testing.TB, dir string, dev int) (string, *journal.Journal) {
	t.Helper()
	path := filepath.Join(dir, Hosts[dev]+".db")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.DB().Exec(`UPDATE device SET hostname = ?, id = ?`, Hosts[dev], fmt.Sprintf("%08x-1b0e-4c7a-9d5e-%012d", dev+0xa1, dev)); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if j, err = journal.Open(path); err != nil {
		t.Fatal(err)
	}
	return path, j
}

// Map is AreaMap, parsed.
func Map(t testing.TB) *areas.Map {
	t.Helper()
	m, err := areas.Parse("areas.toml", []byte(AreaMap))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Places are the sample's areas, named and not ("unnamed").
func Places() []string { return []string{"Northfield", "Kings Heath", "Longbridge", "unnamed"} }

// Absent and Idle are what VisitSnapshot takes for a modem not there, or
// there and registered but not connected.
const (
	Absent = absent
	Idle   = idle
)

// VisitSnapshot is the device at minute m of a visit in area where EE and
// Vodafone are usable for their first ee and vf minutes (or Absent, Idle),
// with Wi-Fi "Clinic" when wifi, the work on primary ("ee", "vf", "wifi"
// or "" for nothing connected in use).
func VisitSnapshot(area string, ee, vf int, wifi bool, primary string, m int) netstate.Snapshot {
	return visit{area: area, ee: ee, vf: vf, wifi: wifi, primary: primary}.snapshot(m)
}

// Record runs a real recorder per device through its visits, into one
// journal per device in dir (marked as a demo's with demo), and returns
// their paths. Device ids are fixed, so renderings stay stable.
func Record(t testing.TB, dir string, demo bool) []string {
	t.Helper()
	ctx := context.Background()
	m := Map(t)
	var paths []string
	for dev := range Hosts {
		path, j := Device(t, dir, dev)
		if demo {
			if err := j.MarkDemo(ctx); err != nil {
				t.Fatal(err)
			}
		}
		fc := clock.NewFake(Day0)
		r := journal.NewRecorder(j, journal.Options{Clock: fc, Areas: m})
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- r.Run(rctx) }()
		at := func(t0 time.Time) {
			if d := t0.Sub(fc.Now()); d > 0 {
				fc.Advance(d)
			}
		}
		hour := 9
		for _, v := range visits {
			if v.dev != dev {
				continue
			}
			t0 := Day0.AddDate(0, 0, v.day).Add(time.Duration(hour) * time.Hour)
			hour++
			at(t0)
			s := v.snapshot(0)
			r.Observe(t0, &s, nil)
			if res := r.MarkVisit(ctx); !res.Started {
				t.Fatalf("visit %d did not start: %+v", v.n, res)
			}
			for _, minute := range []int{v.ee, v.vf} {
				if minute > 0 && minute < 10 {
					tm := t0.Add(time.Duration(minute) * time.Minute)
					at(tm)
					s := v.snapshot(minute)
					r.Observe(tm, &s, nil)
				}
			}
			end := t0.Add(10 * time.Minute)
			at(end)
			s = v.snapshot(9)
			r.Observe(end, &s, nil)
			if res := r.MarkVisit(ctx); res.Started || res.Duration != 10*time.Minute {
				t.Fatalf("visit %d: %+v, want a 10-minute visit ended", v.n, res)
			}
			empty := netstate.Snapshot{}
			r.Observe(end, &empty, nil)
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		<-done
		j.Close()
		paths = append(paths, path)
	}
	return paths
}
