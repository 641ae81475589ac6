package journal

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// BenchmarkIngest measures samples committed per second through the
// recorder: observation, sessions, batched transactions, on a real file.
func BenchmarkIngest(b *testing.B) {
	j, err := Open(filepath.Join(b.TempDir(), "journal.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	r := NewRecorder(j, Options{SampleEvery: time.Nanosecond, Heartbeat: time.Nanosecond, BatchMax: 2000})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	const n = 100_000
	f := &feeder{r: r, t: time.Now().Add(-24 * time.Hour), flat: true}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < n; k += 1000 {
			f.feed(1000)
			if err := r.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	got := countSamples(&testing.T{}, j)
	if got < int64(n*b.N)*99/100 {
		b.Fatalf("%d samples written of %d", got, n*b.N)
	}
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "samples/s")
}

// day feeds one working day of a laptop at default settings: Wi-Fi at
// base morning and evening, cellular on the road and at eight visits,
// figures changing every 5 s (ModemManager's default signal rate), a
// level change every few minutes, a failover or two an hour.
func day(r *Recorder, start time.Time) {
	wifi := func(i int) netstate.Link {
		v := 60 + 15*math.Sin(float64(i)/300)
		lv := netstate.LevelGreen
		if v < 55 {
			lv = netstate.LevelAmber
		}
		return netstate.Link{ID: "wlan0", Kind: netstate.KindWiFi, Interface: "wlan0", State: netstate.StateConnected,
			WiFi: netstate.WiFi{SSID: "NHS-Community"}, Signal: netstate.Signal{Strength: netstate.Some(math.Round(v))}, Level: lv,
			Probe: netstate.Probe{OK: netstate.Yes, RTT: netstate.Some(30)}}
	}
	cell := func(i int) netstate.Link {
		rsrp := -95 + 12*math.Sin(float64(i)/200) + float64(i%3)
		lv := netstate.LevelGreen
		switch {
		case rsrp < -105:
			lv = netstate.LevelRed
		case rsrp < -95:
			lv = netstate.LevelAmber
		}
		return netstate.Link{ID: "wwan0", Kind: netstate.KindCellular, Interface: "wwan0", State: netstate.StateConnected,
			Cell:   netstate.Cell{Operator: "EE", MCC: "234", MNC: "30", Tech: netstate.TechLTE, LAC: fmt.Sprintf("%04X", 0x1A00+i/1800), CellID: fmt.Sprintf("%07X", 0x42+i/600)},
			Signal: netstate.Signal{RSRP: netstate.Some(math.Round(rsrp)), SINR: netstate.Some(float64(10 + i%7)), RSRQ: netstate.Some(-10)},
			Level:  lv, Probe: netstate.Probe{OK: netstate.Yes, RTT: netstate.Some(float64(60 + i%40))}}
	}
	visiting := false
	for i := 0; i < 86400/5; i++ {
		now := start.Add(time.Duration(i) * 5 * time.Second)
		hour := i * 5 / 3600
		var snap netstate.Snapshot
		var evs []netstate.Event
		switch {
		case hour < 7 || hour >= 18:
			// At home, off: nothing connected but Wi-Fi.
			snap = netstate.Snapshot{Links: []netstate.Link{wifi(i)}}
		case hour < 9 || hour >= 16:
			snap = netstate.Snapshot{Links: []netstate.Link{wifi(i)}, Primary: "wlan0"}
		default:
			snap = netstate.Snapshot{Links: []netstate.Link{cell(i)}, Primary: "wwan0"}
			if i%720 == 0 {
				evs = append(evs, netstate.Event{Time: now, Kind: netstate.EventFailover, Link: "wwan0", Text: "Wi-Fi lost: now on cellular EE"})
			}
			if i%360 == 0 {
				r.in <- input{now: now, visit: make(chan VisitResult, 1)}
				visiting = !visiting
			}
		}
		if i%60 == 0 {
			evs = append(evs, netstate.Event{Time: now, Kind: netstate.EventLevel, Link: snap.Links[0].ID, Text: "level changed"})
		}
		r.Observe(now, &snap, evs)
		if i%500 == 0 {
			r.Flush(context.Background())
		}
	}
	_ = visiting
}

// BenchmarkJournalGrowth measures the bytes one device-day adds to the
// journal at default sampling (10 s on change, 60 s heartbeat).
func BenchmarkJournalGrowth(b *testing.B) {
	path := filepath.Join(b.TempDir(), "journal.db")
	if p := os.Getenv("FIELDLINK_BENCH_KEEP"); p != "" {
		path = p // to look inside with sqlite3_analyzer
	}
	j, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	start := time.Now().Add(-24 * time.Hour * time.Duration(b.N+1)).Truncate(24 * time.Hour)
	size := func() int64 {
		j.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		var pages, free, ps int64
		j.db.QueryRow(`PRAGMA page_count`).Scan(&pages)
		j.db.QueryRow(`PRAGMA freelist_count`).Scan(&free)
		j.db.QueryRow(`PRAGMA page_size`).Scan(&ps)
		return (pages - free) * ps
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := NewRecorder(j, Options{Clock: clock.NewFake(start)})
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	// One day first, so the growth measured is a day's, not the schema's.
	day(r, start)
	r.Flush(ctx)
	before := size()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		day(r, start.Add(time.Duration(i+1)*24*time.Hour))
	}
	r.Flush(ctx)
	cancel()
	<-done
	b.StopTimer()
	grown := size() - before
	_, counts, _ := j.Check(context.Background())
	b.ReportMetric(float64(grown)/float64(b.N)/1024, "KB/device-day")
	b.ReportMetric(float64(counts["sample"])/float64(b.N+1), "samples/device-day")
	if os.Getenv("FIELDLINK_BENCH_VERBOSE") != "" {
		b.Logf("counts %v", counts)
	}
}
