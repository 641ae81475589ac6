package journal

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// TestNoNamelessSessions is finding 5 of "Failover that stays right all
// day": NetworkManager says a cable is up a moment before it names its
// connection, and a pull in that moment journaled a nameless session of a
// few milliseconds ("Wired ", 100% red). Such a blink is no session; a
// link that stays unnamed is named after its interface.
func TestNoNamelessSessions(t *testing.T) {
	base := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	j, r, stop := recording(t, base)
	wired := func(profile string, state netstate.State, carrier netstate.Tristate) netstate.Snapshot {
		l := netstate.Link{ID: "veth0", Kind: netstate.KindEthernet, Interface: "veth0", State: state, Carrier: carrier,
			Profile: profile, Level: netstate.LevelRed, Reason: "no carrier"}
		s := netstate.Snapshot{Links: []netstate.Link{l}}
		if state == netstate.StateConnected {
			s.Primary = "veth0"
		}
		return s
	}
	obs := func(at time.Duration, s netstate.Snapshot) { r.Observe(base.Add(at), &s, nil) }
	// The blink: up unnamed for 3 ms, then the carrier goes.
	obs(0, wired("", netstate.StateConnected, netstate.Yes))
	obs(3*time.Millisecond, wired("", netstate.StateConnected, netstate.No))
	obs(4*time.Millisecond, wired("", netstate.StateUnavailable, netstate.No))
	// A named session.
	obs(time.Second, wired("wired1", netstate.StateConnected, netstate.Yes))
	obs(11*time.Second, wired("wired1", netstate.StateUnavailable, netstate.No))
	// Up and never named: named after its interface once it stays.
	obs(20*time.Second, wired("", netstate.StateConnected, netstate.Yes))
	obs(23*time.Second, wired("", netstate.StateConnected, netstate.Yes))
	obs(30*time.Second, wired("", netstate.StateUnavailable, netstate.No))
	stop()
	rows, err := j.DB().Query(`SELECT network, end_ms - start_ms, in_use_ms FROM session ORDER BY start_ms`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var network string
		var dur, inUse int64
		rows.Scan(&network, &dur, &inUse)
		if network == "" || dur < 1000 {
			t.Errorf("a nameless or blink session: %q lasting %d ms", network, dur)
		}
		if inUse != dur {
			t.Errorf("%s: in use %d of %d ms, but it carried the route throughout", network, inUse, dur)
		}
		got = append(got, network)
	}
	if len(got) != 2 || got[0] != "wired1" || got[1] != "veth0" {
		t.Fatalf("sessions %v, want [wired1 veth0]", got)
	}
}

// TestSteadyPictureIsResampled: the engine tells the journal only of
// changes (probing by evidence leaves a steady link silent for minutes),
// so with Resample the recorder samples the last picture again itself,
// once per Resample, and a session's end after a crash is known to within
// it; without it (a simulated timeline), nothing is invented.
func TestSteadyPictureIsResampled(t *testing.T) {
	for _, resample := range []time.Duration{time.Minute, 0} {
		j, err := Open(filepath.Join(t.TempDir(), "journal.db"))
		if err != nil {
			t.Fatal(err)
		}
		base := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
		clk := clock.NewFake(base)
		r := NewRecorder(j, Options{Clock: clk, Resample: resample})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		l := netstate.Link{ID: "veth0", Kind: netstate.KindEthernet, Interface: "veth0", State: netstate.StateConnected,
			Carrier: netstate.Yes, Profile: "wired1", Level: netstate.LevelGreen}
		s := netstate.Snapshot{Links: []netstate.Link{l}, Primary: "veth0"}
		r.Observe(base, &s, nil)
		samples := func() int {
			if err := r.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			var n int
			j.DB().QueryRow(`SELECT count(*) FROM sample`).Scan(&n)
			return n
		}
		first := samples()
		for i := 1; i <= 5; i++ {
			clk.Advance(time.Minute)
			deadline := time.Now().Add(2 * time.Second)
			for resample > 0 && samples() < first+i && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		got := samples() - first
		cancel()
		<-done
		j.Close()
		want := 5
		if resample == 0 {
			want = 0
		}
		if got != want {
			t.Fatalf("resample %v: %d samples of a steady picture over 5 min, want %d", resample, got, want)
		}
	}
}
