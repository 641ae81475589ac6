package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/backend/testbed/pgtest"
)

// BenchmarkFleetReport builds the fleet report over a year of a fleet
// (1,000 devices in CI; FIELDLINK_FLEET_DEVICES=18000 for the full size):
// warm, and cold after PostgreSQL restarted (and the page cache dropped,
// where this machine allows it).
func BenchmarkFleetReport(b *testing.B) {
	devices := pgtest.FleetDevices()
	url, cluster := pgtest.FleetDB(b)
	s, err := Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	day0 := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400
	t0 := time.Now()
	var have int
	s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM device`).Scan(&have)
	if have != devices {
		if err := s.Generate(ctx, devices, 365, day0, b.Logf); err != nil {
			b.Fatal(err)
		}
	}
	gen := time.Since(t0)
	t0 = time.Now()
	st, err := s.Refresh(ctx)
	if err != nil {
		b.Fatal(err)
	}
	refresh := time.Since(t0)
	var rows int64
	s.pool.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM day_net) + (SELECT COUNT(*) FROM day_area) + (SELECT COUNT(*) FROM day_visit) + (SELECT COUNT(*) FROM day_device)`).Scan(&rows)
	q := report.Query{Since: time.Unix(day0*86400, 0), Until: time.Unix((day0+365)*86400, 0)}
	var r *report.Report
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r, _, err = report.From(ctx, s.Fetcher(), q); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if r.Headline.Devices != devices || len(r.Matrix.Rows) < 1000 || len(r.Days) != 365 {
		b.Fatalf("report over %d devices, %d areas, %d days", r.Headline.Devices, len(r.Matrix.Rows), len(r.Days))
	}
	warm := b.Elapsed() / time.Duration(b.N)
	// The periods an IT manager asks for: the default (a year of whole
	// months), 30 days ending mid-month (the last 30 days on the 20th:
	// ragged at both ends), a ragged quarter, and one device's drill-down
	// (its own rows, by the device index): p95 of 20 requests each, warm,
	// and cold (PostgreSQL restarted, the page cache dropped where this
	// machine allows it, before each).
	last := day0 + 364
	var dev string
	s.pool.QueryRow(ctx, `SELECT id FROM device ORDER BY id LIMIT 1`).Scan(&dev)
	s.Close()
	url = cluster.URL(dbName(s.dbURL))
	dropped := false
	for _, p := range []struct {
		name string
		q    report.Query
	}{
		{"year", q},
		{"30-days", report.Query{Since: time.Unix((last-39)*86400, 0), Until: time.Unix((last-9)*86400, 0)}},
		{"ragged-quarter", report.Query{Since: time.Unix((day0+40)*86400, 0), Until: time.Unix((day0+135)*86400, 0)}},
		{"one-device", report.Query{Device: dev, Since: time.Unix(day0*86400, 0), Until: time.Unix((day0+365)*86400, 0)}},
	} {
		warmP95, coldP95, d := periodTimes(b, cluster, url, p.q)
		dropped = d
		b.ReportMetric(float64(warmP95.Milliseconds()), "ms-"+p.name+"-warm-p95")
		b.ReportMetric(float64(coldP95.Milliseconds()), "ms-"+p.name+"-cold-p95")
		b.Logf("%s: warm p95 %s, cold p95 %s", p.name, warmP95.Round(time.Millisecond), coldP95.Round(time.Millisecond))
	}
	b.ReportMetric(float64(devices), "devices")
	b.ReportMetric(float64(rows)/1e6, "M-rollup-rows")
	b.ReportMetric(refresh.Seconds(), "s-refresh-year")
	b.Logf("%d devices × 365 days: %d roll-up rows generated in %s; refreshed %d days, %d devices (%d running-total rows) in %s; "+
		"report warm %s (page cache dropped when cold: %v); %s", devices, rows, gen.Round(time.Second), st.Days, st.Devices, st.Rows,
		refresh.Round(time.Millisecond), warm.Round(time.Millisecond), dropped, r.Headline.Text)
}

// periodRuns is how many requests each period's p95 is of.
const periodRuns = 20

// periodTimes is the p95 of a period's report, warm and cold, and whether
// the page cache could be dropped for the cold ones.
func periodTimes(b *testing.B, cluster *pgtest.Cluster, url string, q report.Query) (time.Duration, time.Duration, bool) {
	ctx := context.Background()
	timed := func(s *Store) time.Duration {
		t0 := time.Now()
		if _, _, err := report.From(ctx, s.Fetcher(), q); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	var warm, cold []time.Duration
	dropped := false
	for range periodRuns {
		if err := cluster.Restart(); err != nil {
			b.Fatal(err)
		}
		dropped = os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0) == nil
		s, err := Open(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		cold = append(cold, timed(s))
		s.Close()
	}
	s, err := Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for range periodRuns {
		warm = append(warm, timed(s))
	}
	p95 := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[(len(d)*95+99)/100-1]
	}
	return p95(warm), p95(cold), dropped
}

func dbName(url string) string {
	name := url[strings.LastIndex(url, "/")+1:]
	if i := strings.Index(name, "?"); i >= 0 {
		name = name[:i]
	}
	return name
}

// deviceDay is one device's day as its sync sends it: the roll-ups, ten
// sessions, six visits with their per-network rows, and events.
func deviceDay(dev string, day int64) []byte {
	var b bytes.Buffer
	ds := time.Unix(day*86400, 0).UTC().Format(time.DateOnly)
	ms := day * 86400000
	fmt.Fprintf(&b, `{"record":"device","device_id":%q,"hostname":"tb","created_ms":1,"demo":0}`+"\n", dev)
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, `{"record":"session","device_id":%q,"session_uuid":"%s-s%d-%d","link":"wwan0","kind":"cellular","interface":"wwan0","profile":"EE","network":"EE","mcc":"234","mnc":"30","tech":"LTE","roaming":0,"area":"234-30 TAC 2C10","start_ms":%d,"end_ms":%d,"end_reason":"disconnected","connect_ms":2000,"green_ms":1200000,"amber_ms":300000,"red_ms":300000,"in_use_ms":1800000,"workable_ms":1500000,"samples":40,"probes_ok":170,"probes":180,"med_strength":null,"med_rsrp":-95,"med_sinr":12,"med_rscp":null,"med_rtt":45,"usable_ms":1500000}`+"\n",
			dev, dev, i, day, ms+int64(i)*3600000, ms+int64(i)*3600000+1800000)
	}
	for i := 0; i < 6; i++ {
		fmt.Fprintf(&b, `{"record":"visit","device_id":%q,"visit_uuid":"%s-v%d-%d","start_ms":%d,"end_ms":%d,"total_ms":1800000,"workable_ms":1700000,"end_reason":"","alive_ms":null,"paused_ms":null}`+"\n",
			dev, dev, i, day, ms+int64(i)*3600000, ms+int64(i)*3600000+1800000)
		for _, k := range []string{"cellular", "work"} {
			net := "EE"
			if k == "work" {
				net = ""
			}
			fmt.Fprintf(&b, `{"record":"visit_net","device_id":%q,"visit_uuid":"%s-v%d-%d","kind":%q,"network":%q,"area":"234-30 TAC 2C1%d","mcc":"234","mnc":"30","area_name":"Area %d","connected_ms":1800000,"usable_ms":1700000}`+"\n",
				dev, dev, i, day, k, net, i, i)
		}
	}
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, `{"record":"event","device_id":%q,"seq":%d,"t_ms":%d,"kind":"failover","link":"wwan0","level":2,"text":"now on cellular"}`+"\n", dev, day*100+int64(i), ms+int64(i)*1000)
	}
	for _, n := range []string{"EE", "NHS-Community"} {
		fmt.Fprintf(&b, `{"record":"day_net","device_id":%q,"day":%q,"kind":"cellular","network":%q,"mcc":"234","mnc":"30","sessions":5,"connected_ms":3600000,"green_ms":2400000,"amber_ms":600000,"red_ms":600000,"in_use_ms":1800000,"workable_ms":1500000,"h_connect":"20:5","h_signal":"-95:5","h_sinr":"12:5","usable_ms":3000000}`+"\n", dev, ds, n)
	}
	for a := 0; a < 8; a++ {
		fmt.Fprintf(&b, `{"record":"day_area","device_id":%q,"day":%q,"kind":"cellular","network":"EE","area":"234-30 TAC 2C1%d","connected_ms":450000,"green_ms":300000,"amber_ms":75000,"red_ms":75000,"workable_ms":200000,"h_signal":"-97:2","usable_ms":375000,"in_use_ms":225000,"area_name":"Area %d"}`+"\n", dev, ds, a, a)
		for _, k := range []string{"cellular", "work"} {
			net := "EE"
			if k == "work" {
				net = ""
			}
			fmt.Fprintf(&b, `{"record":"day_visit","device_id":%q,"day":%q,"kind":%q,"network":%q,"area":"234-30 TAC 2C1%d","mcc":"234","mnc":"30","area_name":"Area %d","visits":1,"h_share":"94:1"}`+"\n", dev, ds, k, net, a, a)
		}
	}
	fmt.Fprintf(&b, `{"record":"day_device","device_id":%q,"day":%q,"failovers":2,"visits":6,"h_visit":"95:5,60:1"}`+"\n", dev, ds)
	return b.Bytes()
}

// BenchmarkIngestDeviceDay: the server's time to store one device-day
// (as a daily sync sends it), p50 over the devices of a fleet; from it,
// the server time a fleet's daily sync takes; and the refresh of the
// fleet-day those uploads changed.
func BenchmarkIngestDeviceDay(b *testing.B) {
	devices := min(pgtest.FleetDevices(), 2000)
	s, err := Open(context.Background(), pgtest.NewDB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.SetClock(func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) })
	ctx := context.Background()
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC).Unix() / 86400
	var tokens []string
	var firsts, bodies [][]byte
	for d := 0; d < devices; d++ {
		tok, _ := s.Enroll(ctx, fmt.Sprint("tb-", d), "")
		tokens = append(tokens, tok)
		firsts = append(firsts, deviceDay(fmt.Sprintf("dev-%05d", d), day-1))
		bodies = append(bodies, deviceDay(fmt.Sprintf("dev-%05d", d), day))
	}
	// A device's first upload binds its token (and the month's partitions
	// are made): timed apart from the daily case that follows. Each is
	// the server's work for one request: the token looked up, the upload
	// stored.
	ingestAll := func(bodies [][]byte) []time.Duration {
		var took []time.Duration
		for d, tok := range tokens {
			t0 := time.Now()
			e, err := s.Device(ctx, tok)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.Ingest(ctx, e, bytes.NewReader(bodies[d]), "bench"); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(t0))
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		return took
	}
	first := ingestAll(firsts)
	s.Refresh(ctx)
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		took = ingestAll(bodies)
	}
	b.StopTimer()
	var total time.Duration
	for _, t := range took {
		total += t
	}
	p50, p95 := took[len(took)/2], took[len(took)*95/100]
	t0 := time.Now()
	st, err := s.Refresh(ctx)
	if err != nil {
		b.Fatal(err)
	}
	refreshDay := time.Since(t0)
	var recs int
	journal.DecodeExport(bytes.NewReader(bodies[0]), "x", func(journal.Record) error { recs++; return nil })
	perDevice := total / time.Duration(len(took))
	b.ReportMetric(float64(p50.Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(p95.Microseconds())/1000, "ms-p95")
	b.ReportMetric(float64(first[len(first)/2].Microseconds())/1000, "ms-first-upload-p50")
	b.ReportMetric((perDevice * 18000).Minutes(), "min-18000-devices")
	b.ReportMetric(float64(refreshDay.Milliseconds()), "ms-refresh-day")
	var fsync, syncCommit string
	s.Pool().QueryRow(ctx, `SELECT current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&fsync, &syncCommit)
	b.Logf("PostgreSQL fsync %s, synchronous_commit %s (FIELDLINK_PG_DURABLE=1: a hospital's settings)", fsync, syncCommit)
	b.Logf("%d device-days of %d records: p50 %s, p95 %s (a device's first upload, binding its token: p50 %s); 18,000 devices' daily sync at that rate: %s of server time (one at a time); "+
		"refresh of the fleet-day (%d days, %d devices): %s", len(took), recs, p50, p95, first[len(first)/2], (perDevice * 18000).Round(time.Second),
		st.Days, st.Devices, refreshDay.Round(time.Millisecond))
}
