package report

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/journal"
)

// fleetSize is the generated fleet's year: 1,000,000 sessions and
// 10,000,000 samples over 250 devices, 365 days, 4 networks and 2,000
// areas, with roll-ups consistent with the sessions.
const (
	fleetSessions = 1_000_000
	samplesPer    = 10
	fleetDevices  = 250
	fleetDays     = 365
	fleetAreas    = 2000
)

// generateFleet fills a journal in SQL (Go-side inserts would take
// minutes): sessions spread over devices and days, ten samples each, the
// day roll-ups built from the sessions as the writer would have kept them.
func generateFleet(b *testing.B, path string) {
	j, err := journal.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	db := j.DB()
	day0 := time.Date(2025, 11, 23, 0, 0, 0, 0, time.UTC).UnixMilli() / 86400000
	stmts := []string{
		`PRAGMA synchronous = OFF`,
		`PRAGMA cache_size = -200000`,
		fmt.Sprintf(`WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM d WHERE n < %d)
			INSERT INTO device(id, hostname, created_ms) SELECT printf('dev-%%04d', n), printf('tb-%%04d', n), 0 FROM d`, fleetDevices-1),
		fmt.Sprintf(`WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM s WHERE n < %[1]d)
			INSERT INTO session(id, uuid, device_id, link, kind, interface, network, mcc, mnc, tech, area, start_ms, end_ms, end_reason, connect_ms,
				green_ms, amber_ms, red_ms, in_use_ms, workable_ms, samples, med_rsrp, med_strength)
			SELECT n + 1, printf('s-%%08d', n), printf('dev-%%04d', n %% %[2]d),
				CASE n %% 4 WHEN 0 THEN 'wlan0' ELSE 'wwan0' END, CASE n %% 4 WHEN 0 THEN 'wifi' ELSE 'cellular' END,
				CASE n %% 4 WHEN 0 THEN 'wlan0' ELSE 'wwan0' END,
				CASE n %% 4 WHEN 0 THEN 'NHS-Community' WHEN 1 THEN 'EE' WHEN 2 THEN 'Vodafone UK' ELSE 'O2 - UK' END,
				CASE n %% 4 WHEN 0 THEN '' ELSE '234' END, CASE n %% 4 WHEN 0 THEN '' WHEN 1 THEN '30' WHEN 2 THEN '15' ELSE '10' END,
				CASE n %% 4 WHEN 0 THEN '' ELSE 'LTE' END, printf('TAC %%04X', (n * 7919) %% %[4]d),
				(%[3]d + (n / %[2]d) * %[5]d / (%[1]d / %[2]d + 1)) * 86400000 + (n %% 28800) * 1000,
				(%[3]d + (n / %[2]d) * %[5]d / (%[1]d / %[2]d + 1)) * 86400000 + (n %% 28800) * 1000 + 1800000,
				'disconnected', 2000 + n %% 5000,
				600000 + (n %% 7) * 100000, 300000, 1800000 - 900000 - (n %% 7) * 100000, 1200000, 1000000 + (n %% 5) * 40000, %[6]d,
				CASE n %% 4 WHEN 0 THEN NULL ELSE -80 - (n %% 40) END, CASE n %% 4 WHEN 0 THEN 40 + n %% 60 ELSE NULL END
			FROM s`, fleetSessions-1, fleetDevices, day0, fleetAreas, fleetDays, samplesPer),
		fmt.Sprintf(`WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n+1 FROM k WHERE n < %d)
			INSERT INTO sample(session_id, t_ms, level, in_use, strength, rsrp, sinr, rtt, probe, tech, area)
			SELECT s.id, s.start_ms + k.n * 180000, 1 + (s.id + k.n) %% 3, 1, s.med_strength, s.med_rsrp, 5 + k.n, 40 + k.n, 1, s.tech, s.area
			FROM session s, k ORDER BY s.id, k.n`, samplesPer-1),
		`INSERT INTO day_net(device_id, day, kind, network, mcc, mnc, sessions, connected_ms, green_ms, amber_ms, red_ms, in_use_ms, workable_ms,
				usable_ms, h_connect, h_signal, h_sinr)
			SELECT device_id, start_ms / 86400000, kind, network, MAX(mcc), MAX(mnc), COUNT(*), SUM(end_ms - start_ms), SUM(green_ms), SUM(amber_ms),
				SUM(red_ms), SUM(in_use_ms), SUM(workable_ms), SUM(green_ms + amber_ms), printf('%d:%d', MIN(connect_ms) / 100, COUNT(*)),
				printf('%d:%d,%d:%d', CAST(MIN(COALESCE(med_rsrp, med_strength)) AS INTEGER), COUNT(*), CAST(MAX(COALESCE(med_rsrp, med_strength)) AS INTEGER), COUNT(*)),
				CASE kind WHEN 'cellular' THEN printf('8:%d,12:%d', COUNT(*), COUNT(*)) ELSE '' END
			FROM session GROUP BY device_id, start_ms / 86400000, kind, network`,
		`INSERT INTO day_area(device_id, day, kind, network, area, area_name, connected_ms, green_ms, amber_ms, red_ms, workable_ms, usable_ms, in_use_ms, h_signal)
			SELECT device_id, start_ms / 86400000, kind, network, area, printf('Area %s', substr(area, 5)), SUM(end_ms - start_ms), SUM(green_ms),
				SUM(amber_ms), SUM(red_ms), SUM(workable_ms), SUM(green_ms + amber_ms), SUM(in_use_ms),
				printf('%d:%d', CAST(AVG(COALESCE(med_rsrp, med_strength)) AS INTEGER), COUNT(*))
			FROM session GROUP BY device_id, start_ms / 86400000, kind, network, area`,
		// A visit per two sessions: per network and area, per network over
		// all areas, and the visit's own rows per area and overall.
		`INSERT INTO day_visit(device_id, day, kind, network, area, mcc, mnc, area_name, visits, h_share)
			SELECT device_id, start_ms / 86400000, kind, network, area, MAX(mcc), MAX(mnc), printf('Area %s', substr(area, 5)),
				MAX(1, COUNT(*) / 2), printf('%d:%d,40:%d', 70 + (SUM(green_ms) / 100000) % 30, MAX(1, COUNT(*) / 2), COUNT(*) % 2)
			FROM session GROUP BY device_id, start_ms / 86400000, kind, network, area`,
		`INSERT INTO day_visit(device_id, day, kind, network, area, mcc, mnc, visits, h_share)
			SELECT device_id, day, kind, network, '', MAX(mcc), MAX(mnc), SUM(visits), group_concat(h_share)
			FROM day_visit GROUP BY device_id, day, kind, network`,
		`INSERT INTO day_visit(device_id, day, kind, network, area, area_name, visits, h_share)
			SELECT device_id, day, 'work', '', area, MAX(area_name), SUM(visits), printf('85:%d', SUM(visits))
			FROM day_visit GROUP BY device_id, day, area`,
		`INSERT INTO day_device(device_id, day, failovers, visits, h_visit)
			SELECT device_id, start_ms / 86400000, COUNT(*) / 4, COUNT(*) / 2, printf('60:%d,95:%d', CASE WHEN CAST(substr(device_id, 5) AS INTEGER) % 4 = 0 THEN 2 ELSE 0 END, 6)
			FROM session GROUP BY device_id, start_ms / 86400000`,
		`PRAGMA wal_checkpoint(TRUNCATE)`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			b.Fatalf("%v in %.80s", err, s)
		}
	}
	// As an import ends: the month roll-ups follow the days.
	t0 := time.Now()
	n, err := j.RefreshMonths(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d months of roll-ups in %s", n, time.Since(t0).Round(time.Millisecond))
}

// BenchmarkFullReport builds the whole report (every breakdown, the
// headline) over a fleet's year and writes it as HTML.
func BenchmarkFullReport(b *testing.B) {
	path := os.Getenv("FIELDLINK_BENCH_FLEET")
	if path == "" {
		path = filepath.Join(b.TempDir(), "fleet.db")
	}
	if _, err := os.Stat(path); err != nil {
		t0 := time.Now()
		generateFleet(b, path)
		b.Logf("generated %d sessions, %d samples in %s", fleetSessions, fleetSessions*samplesPer, time.Since(t0).Round(time.Second))
	}
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	st, _ := os.Stat(path)
	var sessions, samples int64
	j.DB().QueryRow(`SELECT COUNT(*) FROM session`).Scan(&sessions)
	j.DB().QueryRow(`SELECT COUNT(*) FROM sample`).Scan(&samples)
	if sessions != fleetSessions || samples != fleetSessions*samplesPer {
		b.Fatalf("fleet holds %d sessions, %d samples", sessions, samples)
	}
	ctx := context.Background()
	var r *Report
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err = Build(ctx, j.DB(), Query{})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.WriteHTML(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Every fourth device had 2 of 8 visits a day below the mark (75%).
	if r.Headline.Devices != fleetDevices || r.Headline.Qualifying != fleetDevices-(fleetDevices+3)/4 || len(r.Networks) != 4 || len(r.Days) != fleetDays {
		b.Fatalf("report over %d devices (%d qualifying), %d networks, %d days", r.Headline.Devices, r.Headline.Qualifying, len(r.Networks), len(r.Days))
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/report")
	b.ReportMetric(float64(st.Size())/1e6, "MB-journal")
	var visitRows int64
	j.DB().QueryRow(`SELECT COUNT(*) FROM day_visit`).Scan(&visitRows)
	if len(r.Matrix.Rows) != fleetAreas || len(r.Operators) != 4 {
		b.Fatalf("operator × area table of %d areas, %d operators", len(r.Matrix.Rows), len(r.Operators))
	}
	b.ReportMetric(float64(visitRows), "visit-rollup-rows")
	b.Logf("%s; %d areas, %d days; %d visit roll-up rows; journal %d MB", r.Headline.Text, len(r.Matrix.Rows), len(r.Days), visitRows, st.Size()>>20)
}
