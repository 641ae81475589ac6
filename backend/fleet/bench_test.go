package fleet

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/pgtest"
	"github.com/fieldlink/fieldlink/backend/report"
)

// benchDevices is the generated fleet's size: 1,000 devices by default (a
// minute of set-up in CI), FIELDLINK_FLEET_DEVICES=18000 for a trust's.
func benchDevices() int {
	if n, err := strconv.Atoi(os.Getenv("FIELDLINK_FLEET_DEVICES")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// generate fills the day tables with a fleet's year at the density of a
// real one: per device-day 2 network roll-ups, 8 area roll-ups, 13 visit
// roll-ups (8 areas on 1-2 networks, the visit's own rows, the networks
// over all areas) and 1 device roll-up.
func generate(b *testing.B, s *Store, devices, days int, day0 int64) {
	ctx := context.Background()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	seen := map[string]bool{}
	for d := day0; d < day0+int64(days); d++ {
		for _, t := range []string{"day_net", "day_area", "day_visit", "day_device"} {
			if _, err := s.partition(ctx, tx, t, d, seen); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	q := func(sql string) {
		t0 := time.Now()
		tag, err := s.pool.Exec(ctx, fmt.Sprintf(sql, devices, days, day0))
		if err != nil {
			b.Fatalf("%v in %.80s", err, sql)
		}
		b.Logf("%d rows in %s: %.60s", tag.RowsAffected(), time.Since(t0).Round(time.Millisecond), strings.TrimSpace(sql))
	}
	q(`INSERT INTO device SELECT 'dev-' || d, 'tb-' || d, 0, 0 FROM generate_series(0, %[1]d - 1) d`)
	q(`INSERT INTO day_net SELECT 'dev-' || d, %[3]d + day, CASE n WHEN 0 THEN 'cellular' ELSE 'wifi' END,
		CASE n WHEN 0 THEN (ARRAY['EE','Vodafone UK','O2 - UK'])[1 + d %% 3] ELSE 'NHS-Community' END,
		CASE n WHEN 0 THEN '234' ELSE '' END, CASE n WHEN 0 THEN (ARRAY['30','15','10'])[1 + d %% 3] ELSE '' END,
		4, 3600000, 2400000, 600000, 600000, 1800000, 1500000, '20:2,35:2', '-95:3,-101:1', '10:2', 3000000
		FROM generate_series(0, %[1]d - 1) d, generate_series(0, %[2]d - 1) day, generate_series(0, 1) n`)
	q(`INSERT INTO day_area SELECT 'dev-' || d, %[3]d + day, 'cellular', (ARRAY['EE','Vodafone UK','O2 - UK'])[1 + d %% 3],
		'234-30 TAC ' || to_hex((d * 7 + day * 13 + a) %% 2000), 450000, 300000, 75000, 75000, 200000, '-97:2', 375000, 225000,
		'Area ' || ((d * 7 + day * 13 + a) %% 2000)
		FROM generate_series(0, %[1]d - 1) d, generate_series(0, %[2]d - 1) day, generate_series(0, 7) a`)
	q(`INSERT INTO day_visit SELECT 'dev-' || d, %[3]d + day, CASE WHEN a < 8 THEN 'cellular' WHEN a < 11 THEN 'work' ELSE 'cellular' END,
		CASE WHEN a < 8 OR a >= 11 THEN (ARRAY['EE','Vodafone UK','O2 - UK'])[1 + d %% 3] ELSE '' END,
		CASE WHEN a < 11 THEN '234-30 TAC ' || to_hex((d * 7 + day * 13 + a %% 8) %% 2000) ELSE '' END, '234', '30',
		'Area ' || ((d * 7 + day * 13 + a %% 8) %% 2000), 1, (70 + (d + day + a) %% 31) || ':1'
		FROM generate_series(0, %[1]d - 1) d, generate_series(0, %[2]d - 1) day, generate_series(0, 12) a
		ON CONFLICT DO NOTHING`)
	q(`INSERT INTO day_device SELECT 'dev-' || d, %[3]d + day, 1, 6, CASE WHEN d %% 4 = 0 THEN '95:5,60:1' ELSE '95:6' END
		FROM generate_series(0, %[1]d - 1) d, generate_series(0, %[2]d - 1) day`)
	q(`INSERT INTO stale_day SELECT %[3]d + day FROM generate_series(0, %[2]d - 1) day`)
	q(`INSERT INTO stale_month SELECT DISTINCT to_char(to_timestamp((%[3]d + day) * 86400) AT TIME ZONE 'UTC', 'YYYY-MM') FROM generate_series(0, %[2]d - 1) day`)
	q(`INSERT INTO stale_device_month SELECT DISTINCT to_char(to_timestamp((%[3]d + day) * 86400) AT TIME ZONE 'UTC', 'YYYY-MM'), 'dev-' || d
		FROM generate_series(0, %[1]d - 1) d, generate_series(0, %[2]d - 1) day`)
	s.pool.Exec(ctx, `ANALYZE`)
}

// BenchmarkFleetReport builds the fleet report over a year of a fleet
// (1,000 devices in CI; FIELDLINK_FLEET_DEVICES=18000 for the full size):
// warm, and cold after PostgreSQL restarted (and the page cache dropped,
// where this machine allows it).
func BenchmarkFleetReport(b *testing.B) {
	devices := benchDevices()
	s, err := Open(context.Background(), pgtest.NewDB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	day0 := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400
	t0 := time.Now()
	generate(b, s, devices, 365, day0)
	gen := time.Since(t0)
	ctx := context.Background()
	t0 = time.Now()
	st, err := s.Refresh(ctx, RefreshOptions{Areas: true})
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
	// Cold: PostgreSQL restarted, the page cache dropped if allowed.
	s.Close()
	if err := pgtest.Shared(b).Restart(); err != nil {
		b.Fatal(err)
	}
	dropped := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0) == nil
	s2, err := Open(ctx, pgtest.Shared(b).URL(dbName(s.dbURL)))
	if err != nil {
		b.Fatal(err)
	}
	defer s2.Close()
	t0 = time.Now()
	if _, _, err := report.From(ctx, s2.Fetcher(), q); err != nil {
		b.Fatal(err)
	}
	cold := time.Since(t0)
	b.ReportMetric(float64(warm.Milliseconds()), "ms-warm")
	b.ReportMetric(float64(cold.Milliseconds()), "ms-cold")
	b.ReportMetric(float64(devices), "devices")
	b.ReportMetric(float64(rows)/1e6, "M-rollup-rows")
	b.ReportMetric(refresh.Seconds(), "s-refresh-year")
	b.Logf("%d devices × 365 days: %d roll-up rows generated in %s; refreshed %d days, %d device-months, %d area-months in %s; "+
		"report warm %s, cold %s (page cache dropped: %v); %s", devices, rows, gen.Round(time.Second), st.Days, st.DeviceMonths, st.Months,
		refresh.Round(time.Millisecond), warm.Round(time.Millisecond), cold.Round(time.Millisecond), dropped, r.Headline.Text)
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
	devices := min(benchDevices(), 2000)
	s, err := Open(context.Background(), pgtest.NewDB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC).Unix() / 86400
	var ens []Enrollment
	var bodies [][]byte
	for d := 0; d < devices; d++ {
		tok, _ := s.Enroll(ctx, fmt.Sprint("tb-", d), "")
		e, _ := s.Device(ctx, tok)
		ens = append(ens, e)
		bodies = append(bodies, deviceDay(fmt.Sprintf("dev-%05d", d), day))
	}
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		took = took[:0]
		for d := range ens {
			t0 := time.Now()
			if _, _, err := s.Ingest(ctx, ens[d], bytes.NewReader(bodies[d]), "bench"); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(t0))
			if ens[d].Device == "" {
				ens[d].Device = fmt.Sprintf("dev-%05d", d)
			}
		}
	}
	b.StopTimer()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	var total time.Duration
	for _, t := range took {
		total += t
	}
	p50, p95 := took[len(took)/2], took[len(took)*95/100]
	t0 := time.Now()
	st, err := s.Refresh(ctx, RefreshOptions{})
	if err != nil {
		b.Fatal(err)
	}
	refreshDay := time.Since(t0)
	var recs int
	journal.DecodeExport(bytes.NewReader(bodies[0]), "x", func(journal.Record) error { recs++; return nil })
	perDevice := total / time.Duration(len(took))
	b.ReportMetric(float64(p50.Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(p95.Microseconds())/1000, "ms-p95")
	b.ReportMetric((perDevice * 18000).Minutes(), "min-18000-devices")
	b.ReportMetric(float64(refreshDay.Milliseconds()), "ms-refresh-day")
	b.Logf("%d device-days of %d records: p50 %s, p95 %s; 18,000 devices' daily sync at that rate: %s of server time (one at a time); "+
		"refresh of the fleet-day (%d days, %d device-months): %s", len(took), recs, p50, p95, (perDevice * 18000).Round(time.Second),
		st.Days, st.DeviceMonths, refreshDay.Round(time.Millisecond))
}
