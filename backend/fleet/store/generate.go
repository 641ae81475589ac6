package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Generate fills the day tables with a synthetic fleet: devices devices
// over days days from day0, at the density of a real fleet (per
// device-day 2 network roll-ups, 8 area roll-ups among 2,000 areas, 13
// visit roll-ups: 8 areas on 1-2 networks, the visit's own rows, the
// networks over all areas, each operator better in some areas than in
// others; and 1 device roll-up), everything marked for
// the next refresh. It is how the benchmarks and the page's test load a
// trust's year (18,000 devices) without a year of uploads; logf hears
// each table's rows and time.
func (s *Store) Generate(ctx context.Context, devices, days int, day0 int64, logf func(string, ...any)) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	seen := map[string]bool{}
	for d := day0; d < day0+int64(days); d++ {
		for _, t := range []string{"day_net", "day_area", "day_visit", "day_device"} {
			if _, err := s.partition(ctx, tx, t, d, seen); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	for _, sql := range generated {
		t0 := time.Now()
		tag, err := s.pool.Exec(ctx, fmt.Sprintf(sql, devices, days, day0))
		if err != nil {
			return fmt.Errorf("%w in %.80s", err, sql)
		}
		logf("%d rows in %s: %.60s", tag.RowsAffected(), time.Since(t0).Round(time.Millisecond), strings.TrimSpace(sql))
	}
	_, err = s.pool.Exec(ctx, `ANALYZE`)
	return err
}

// generated are Generate's statements: %[1]d devices, %[2]d days from day
// %[3]d.
var generated = []string{
	`INSERT INTO device SELECT 'dev-' || d, 'tb-' || d, 0, 0 FROM generate_series(0, %[1]d - 1) d`,
	`INSERT INTO day_net SELECT 'dev-' || d, %[3]d + day, CASE n WHEN 0 THEN 'cellular' ELSE 'wifi' END,
		CASE n WHEN 0 THEN (ARRAY['EE','Vodafone UK','O2 - UK'])[1 + d %% 3] ELSE 'NHS-Community' END,
		CASE n WHEN 0 THEN '234' ELSE '' END, CASE n WHEN 0 THEN (ARRAY['30','15','10'])[1 + d %% 3] ELSE '' END,
		4, 3600000, 2400000, 600000, 600000, 1800000, 1500000, '20:2,35:2', '-95:3,-101:1', '10:2', 3000000
		FROM generate_series(0, %[1]d - 1) d, generate_series(0, %[2]d - 1) day, generate_series(0, 1) n`,
	`INSERT INTO day_area SELECT 'dev-' || d, %[3]d + day, 'cellular', (ARRAY['EE','Vodafone UK','O2 - UK'])[1 + d %% 3],
		'234-30 TAC ' || to_hex((d * 7 + day * 13 + a) %% 2000), 450000, 300000, 75000, 75000, 200000, '-97:2', 375000, 225000,
		'Area ' || ((d * 7 + day * 13 + a) %% 2000)
		FROM generate_series(0, %[1]d - 1) d, generate_series(0, %[2]d - 1) day, generate_series(0, 7) a`,
	`INSERT INTO day_visit SELECT 'dev-' || d, %[3]d + day, CASE WHEN a < 8 THEN 'cellular' WHEN a < 11 THEN 'work' ELSE 'cellular' END,
		CASE WHEN a < 8 OR a >= 11 THEN (ARRAY['EE','Vodafone UK','O2 - UK'])[1 + d %% 3] ELSE '' END,
		CASE WHEN a < 11 THEN '234-30 TAC ' || to_hex((d * 7 + day * 13 + a %% 8) %% 2000) ELSE '' END, '234', '30',
		'Area ' || ((d * 7 + day * 13 + a %% 8) %% 2000), 1,
		CASE WHEN a BETWEEN 8 AND 10 THEN 70 + (d + day + a) %% 31
		ELSE LEAST(100, 50 + ((d * 7 + day * 13 + a %% 8) %% 2000 * (1 + d %% 3)) %% 47 + (d + day) %% 7) END || ':1'
		FROM generate_series(0, %[1]d - 1) d, generate_series(0, %[2]d - 1) day, generate_series(0, 12) a
		ON CONFLICT DO NOTHING`,
	`INSERT INTO day_device SELECT 'dev-' || d, %[3]d + day, 1, 6, CASE WHEN d %% 4 = 0 THEN '95:5,60:1' ELSE '95:6' END
		FROM generate_series(0, %[1]d - 1) d, generate_series(0, %[2]d - 1) day`,
	`INSERT INTO stale_day SELECT %[3]d + day FROM generate_series(0, %[2]d - 1) day`,
	`INSERT INTO stale_device_cum SELECT 'dev-' || d, %[3]d FROM generate_series(0, %[1]d - 1) d`,
}
