package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/fleet/store"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/report"
)

// areaSource is a device whose link carrying the work moves between areas
// when the test says.
type areaSource struct{ moves chan string }

func (areaSource) Name() string { return "test" }

func (s areaSource) Run(ctx context.Context, emit func(netstate.Update)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case area := <-s.moves:
			emit(netstate.Update{Snapshot: netstate.Snapshot{Time: time.Now(), Primary: "wwan0", Links: []netstate.Link{{
				ID: "wwan0", Kind: netstate.KindCellular, Interface: "wwan0", State: netstate.StateConnected, Area: area}}}})
		}
	}
}

// TestScreensSayWhatTheFleetFoundHere: the holder shows every screen what
// the fleet found in the area the device is in, from the summary kept in
// the journal at start, following the device from area to area, and the
// summary a sync brings replaces it at once.
func TestScreensSayWhatTheFleetFoundHere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	cell := func(net string, visits, workable int64) report.Cell {
		return report.Cell{Network: net, Kind: "cellular", Visits: visits, Workable: workable, Pct: 100 * float64(workable) / float64(visits)}
	}
	kept := report.Ahead{Made: time.Now(), Devices: 40, Areas: []report.AreaRow{
		{Area: "Kings Heath", Visits: 402, Cells: []report.Cell{cell("EE", 190, 89), cell("Vodafone", 212, 193)}}}}
	doc, _ := json.Marshal(kept)
	j.SetAhead(context.Background(), kept.Made, doc)
	j.Close()

	src := areaSource{moves: make(chan string, 4)}
	eng := engine.New(src, engine.Options{Thresholds: netstate.DefaultThresholds()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	r := &running{eng: eng, journal: path}
	news := make(aheadNews, 1)
	go r.watchAhead(ctx, news)
	states, stop := eng.Subscribe()
	defer stop()
	waitAhead := func(what, want string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case st := <-states:
				if st.Work.Ahead == want {
					return
				}
			case <-deadline:
				t.Fatalf("%s: the screens were never told %q (last: %q)", what, want, eng.Current().Work.Ahead)
			}
		}
	}
	src.moves <- "Kings Heath"
	waitAhead("in Kings Heath", "Kings Heath: Vodafone workable in 91% of 212 visits, EE 47% of 190")
	src.moves <- "Selly Oak"
	waitAhead("where the fleet has no figures", "")
	news <- &report.Ahead{Made: time.Now(), Devices: 41, Areas: []report.AreaRow{
		{Area: "Selly Oak", Visits: 30, Cells: []report.Cell{cell("O2", 30, 27)}}}}
	waitAhead("after a sync", "Selly Oak: O2 workable in 90% of 30 visits")
}

// TestServeDevicesListsTheSilentFirst: `serve devices` lists the devices
// silent for the quiet spell first, saying for how long, with where and
// how each last worked, and counts them.
func TestServeDevicesListsTheSilentFirst(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	devs := []store.DeviceStatus{
		{Name: "tb-nurse-1", Group: "North", ID: "a1", LastUpload: now.Add(-2 * time.Hour), LastArea: "Kings Heath", LastVerdict: "GO"},
		{Name: "tb-nurse-2", Group: "North", ID: "a2", LastUpload: now.Add(-9 * 24 * time.Hour), LastArea: "Selly Oak", LastVerdict: "DO NOT PROCEED"},
		{Name: "tb-drawer", Group: "South"},
	}
	var b strings.Builder
	writeDevices(&b, devs, nil, now, 3*24*time.Hour)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[1], "tb-nurse-2") || !strings.HasPrefix(lines[2], "tb-drawer") ||
		!strings.HasPrefix(lines[3], "tb-nurse-1") {
		t.Fatalf("not the silent first:\n%s", b.String())
	}
	for _, want := range []string{"(silent 9 days)", "Selly Oak", "DO NOT PROCEED", "never (silent)", "2 of 3 devices silent for 3 days or more"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("lacks %q:\n%s", want, b.String())
		}
	}
}
