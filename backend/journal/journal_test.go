package journal

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/sim"
	"github.com/fieldlink/fieldlink/backend/testbed/replay"
)

var base = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// record replays a scenario (with failover) into a recorder, marking a
// visit over [visitFrom, visitTo), and returns the journal.
func record(t testing.TB, path, scenario string, until time.Duration, visitFrom, visitTo time.Duration) *Journal {
	t.Helper()
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sim.Builtin(scenario)
	if err != nil {
		t.Fatal(err)
	}
	p := failover.DefaultPolicy()
	fc := clock.NewFake(base)
	r := NewRecorder(j, Options{Clock: fc})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var seen uint64
	visiting := false
	for _, m := range replay.Run(sc, base, until, replay.Options{Thresholds: netstate.DefaultThresholds(), Policy: &p}) {
		now := base.Add(m.At)
		if !visiting && visitTo > 0 && m.At >= visitFrom && m.At < visitTo {
			r.in <- input{now: now, visit: make(chan VisitResult, 1)}
			visiting = true
		}
		if visiting && m.At >= visitTo {
			ch := make(chan VisitResult, 1)
			r.in <- input{now: base.Add(visitTo), visit: ch}
			<-ch
			visiting = false
		}
		var evs []netstate.Event
		for _, ev := range m.State.Events {
			if ev.Seq > seen {
				evs = append(evs, ev)
				seen = ev.Seq
			}
		}
		s := m.State.Snapshot
		r.Observe(now, &s, evs)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	return j
}

func TestRecordHomeVisit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := record(t, path, "home-visit", 2*time.Minute+20*time.Second, 10*time.Second, 2*time.Minute+10*time.Second)
	defer j.Close()
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("journal mode %v %v", st.Mode(), err)
	}
	res, counts, err := j.Check(context.Background())
	if err != nil || res != "ok" {
		t.Fatalf("check %q %v", res, err)
	}
	t.Logf("counts %v", counts)
	if counts["session"] < 3 || counts["sample"] < 5 || counts["event"] < 10 || counts["visit"] != 1 {
		t.Fatalf("counts %v", counts)
	}
	// Every session is closed (the run ended), with its time accounted for.
	rows, err := j.db.Query(`SELECT kind, network, end_ms - start_ms, green_ms + amber_ms + red_ms, end_reason FROM session ORDER BY start_ms`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, network, reason string
		var dur, levels int64
		rows.Scan(&kind, &network, &dur, &levels, &reason)
		t.Logf("session %s %s %d ms (levels %d ms) ended: %s", kind, network, dur, levels, reason)
		if levels != dur {
			t.Errorf("%s %s: levels add up to %d ms of %d ms", kind, network, levels, dur)
		}
	}
	var total, workable int64
	j.db.QueryRow(`SELECT total_ms, workable_ms FROM visit`).Scan(&total, &workable)
	if total != (2*time.Minute).Milliseconds() || workable != total-6000 {
		t.Fatalf("visit %d ms, workable %d ms", total, workable)
	}
	var failovers int64
	j.db.QueryRow(`SELECT SUM(failovers) FROM day_device`).Scan(&failovers)
	if failovers != 1 {
		t.Fatalf("failovers in the roll-up: %d", failovers)
	}
}

// recording opens a journal in the test's directory and runs a recorder
// on it, its clock fixed at start; stop flushes and ends the recorder.
// The journal closes with the test.
func recording(t *testing.T, start time.Time) (j *Journal, r *Recorder, stop func()) {
	t.Helper()
	j, err := Open(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	r = NewRecorder(j, Options{Clock: clock.NewFake(start)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return j, r, func() {
		t.Helper()
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; err != nil && err != context.Canceled {
			t.Fatal(err)
		}
	}
}
