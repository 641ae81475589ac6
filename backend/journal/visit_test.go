package journal

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// visitRig runs recorders one after another on one journal, as fieldlink
// started, stopped and started again would.
type visitRig struct {
	t    *testing.T
	path string
	base time.Time
}

type run struct {
	j      *Journal
	r      *Recorder
	fc     *clock.Fake
	cancel context.CancelFunc
	done   chan error
}

func (v *visitRig) start(at time.Duration) *run {
	j, err := Open(v.path)
	if err != nil {
		v.t.Fatal(err)
	}
	fc := clock.NewFake(v.base.Add(at))
	r := NewRecorder(j, Options{Clock: fc, ResumeVisit: 15 * time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	x := &run{j: j, r: r, fc: fc, cancel: cancel, done: make(chan error, 1)}
	go func() { x.done <- r.Run(ctx) }()
	return x
}

// wifi observes a Wi-Fi link carrying the work, workable or not, at t.
func (x *run) wifi(t time.Time, workable bool) {
	lv := netstate.LevelGreen
	if !workable {
		lv = netstate.LevelRed
	}
	l := netstate.Link{ID: "wlan0", Kind: netstate.KindWiFi, Interface: "wlan0", State: netstate.StateConnected, Profile: "NHS-Community",
		WiFi: netstate.WiFi{SSID: "NHS-Community"}, Level: lv, Connectivity: netstate.ConnFull}
	s := netstate.Snapshot{Links: []netstate.Link{l}, Primary: "wlan0"}
	x.r.Observe(t, &s, nil)
}

func (x *run) stop(t *testing.T) {
	if err := x.r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	x.cancel()
	<-x.done
	x.j.Close()
}

func (v *visitRig) visit(t *testing.T) (start, end sql.NullInt64, total int64, reason string) {
	j, err := OpenReadOnly(v.path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.DB().QueryRow(`SELECT start_ms, end_ms, total_ms, end_reason FROM visit`).Scan(&start, &end, &total, &reason); err != nil {
		t.Fatal(err)
	}
	return
}

// TestVisitGoesOnAfterARestart is finding 6 of "Reports that answer the
// manager's question": a visit open when fieldlink quit was closed at the
// last sample (v, 6 s, q recorded 37 ms). It goes on when fieldlink is
// back within the gap, the time away in no figure, and the screen shows
// it open from its real start.
func TestVisitGoesOnAfterARestart(t *testing.T) {
	v := &visitRig{t: t, path: filepath.Join(t.TempDir(), "journal.db"), base: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	a := v.start(0)
	a.wifi(v.base, true)
	a.r.MarkVisit(context.Background())
	a.wifi(v.base.Add(37*time.Millisecond), true)
	a.fc.Advance(6 * time.Second)
	a.wifi(v.base.Add(6*time.Second), true)
	a.stop(t)
	if _, end, _, _ := v.visit(t); end.Valid {
		t.Fatal("the visit was closed when fieldlink quit")
	}

	b := v.start(2 * time.Minute)
	b.wifi(v.base.Add(2*time.Minute), true)
	if err := b.r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := b.r.Visit()
	if !st.Open || !st.Since.Equal(v.base) {
		t.Fatalf("after the restart: visit %+v, want open since %v", st, v.base)
	}
	b.wifi(v.base.Add(2*time.Minute+10*time.Second), true)
	b.fc.Advance(10 * time.Second)
	res := b.r.MarkVisit(context.Background())
	b.stop(t)
	if res.Duration != 16*time.Second {
		t.Fatalf("visit of %v, want 16 s (6 s, then 10 s after the restart)", res.Duration)
	}
	_, end, total, reason := v.visit(t)
	if !end.Valid || total != 16000 || reason != "" {
		t.Fatalf("visit total %d ms, end %v, reason %q", total, end, reason)
	}
}

// TestVisitClosedWhenFieldlinkStopped: back after the gap, the visit ends
// when fieldlink stopped, marked so, never at the last sample.
func TestVisitClosedWhenFieldlinkStopped(t *testing.T) {
	v := &visitRig{t: t, path: filepath.Join(t.TempDir(), "journal.db"), base: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	a := v.start(0)
	a.wifi(v.base, true)
	a.r.MarkVisit(context.Background())
	a.wifi(v.base.Add(37*time.Millisecond), true)
	a.fc.Advance(6 * time.Second)
	a.wifi(v.base.Add(6*time.Second), true) // quit at 6 s
	a.stop(t)
	b := v.start(2 * time.Hour)
	b.wifi(v.base.Add(2*time.Hour), true)
	b.stop(t)
	start, end, total, reason := v.visit(t)
	if !end.Valid || end.Int64-start.Int64 != 6000 || total != 6000 || reason != "fieldlink stopped" {
		t.Fatalf("visit %d..%v (%d ms) %q, want 6 s ended fieldlink stopped", start.Int64, end, total, reason)
	}
}

// TestVisitAfterACrash: a crash leaves no pause mark; the visit ends at the
// last moment fieldlink was known to run (written every second), marked
// "unexpectedly", not at its last sample.
func TestVisitAfterACrash(t *testing.T) {
	v := &visitRig{t: t, path: filepath.Join(t.TempDir(), "journal.db"), base: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	a := v.start(0)
	a.wifi(v.base, true)
	a.r.MarkVisit(context.Background())
	a.wifi(v.base.Add(37*time.Millisecond), true)
	a.wifi(v.base.Add(9*time.Second), true)
	a.stop(t)
	// The crash: the process was gone with no chance to write a pause.
	j, _ := Open(v.path)
	j.DB().Exec(`UPDATE visit SET paused_ms = NULL`)
	j.Close()
	b := v.start(3 * time.Hour)
	b.wifi(v.base.Add(3*time.Hour), true)
	b.stop(t)
	start, end, _, reason := v.visit(t)
	if !end.Valid || end.Int64-start.Int64 != 9000 || reason != "fieldlink stopped unexpectedly" {
		t.Fatalf("visit ended %v after %d ms, %q", end, end.Int64-start.Int64, reason)
	}
}

// TestWiFiThatDropsCountsItsWantedTime is finding 10 of "The screens,
// tried by a tired nurse": a Wi-Fi that dropped in every visit was
// "workable in 100% of 6 visits", its connected time all good. The time
// from its drop (while it carried the work) to its return, or the visit's
// end, now counts as its connected and unusable time in the visit.
func TestWiFiThatDropsCountsItsWantedTime(t *testing.T) {
	v := &visitRig{t: t, path: filepath.Join(t.TempDir(), "j.db"), base: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	x := v.start(0)
	at := func(d time.Duration) time.Time { return v.base.Add(d) }
	cell := netstate.Link{ID: "wwan0", Kind: netstate.KindCellular, State: netstate.StateConnected, Level: netstate.LevelGreen,
		Connectivity: netstate.ConnFull, Cell: netstate.Cell{Operator: "EE", MCC: "234", MNC: "30"}}
	x.wifi(at(0), true)
	x.r.MarkVisit(context.Background())
	x.wifi(at(4*time.Minute), true)
	// The Wi-Fi goes; cellular carries the work for 6 minutes.
	gone := netstate.Snapshot{Links: []netstate.Link{cell}, Primary: "wwan0"}
	x.r.Observe(at(4*time.Minute+time.Second), &gone, nil)
	x.r.Observe(at(10*time.Minute), &gone, nil)
	x.r.MarkVisit(context.Background())
	x.stop(t)

	j, err := OpenReadOnly(v.path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var conn, usable int64
	if err := j.DB().QueryRow(`SELECT connected_ms, usable_ms FROM visit_net WHERE kind='wifi' AND area=''`).Scan(&conn, &usable); err != nil {
		t.Fatal(err)
	}
	// Wanted for the whole 10 minutes (4 up, 6 gone), usable for 4 and a second.
	if conn < 9*60000 || usable > 5*60000 {
		t.Fatalf("Wi-Fi in the visit: connected %d ms, usable %d ms: the dropped time is not counted", conn, usable)
	}
	var h string
	j.DB().QueryRow(`SELECT h_share FROM day_visit WHERE kind='wifi' AND area=''`).Scan(&h)
	if h == "" || h == "100:1" {
		t.Fatalf("the Wi-Fi's visit share histogram %q: want under 100%%", h)
	}
}
