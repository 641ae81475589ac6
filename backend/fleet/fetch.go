package fleet

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/report"
)

// Fetcher reads the fleet report's figures: the whole fleet from the
// pre-aggregates (small tables: per fleet-day and network, per device and
// month, per month and area) and the days of a period's ragged ends; a
// few devices (one, or a group) from their day roll-ups.
func (s *Store) Fetcher() report.Fetcher { return pgFetcher{s} }

type pgFetcher struct{ s *Store }

func (p pgFetcher) Devices(ctx context.Context) ([]report.DeviceInfo, error) {
	rows, err := p.s.pool.Query(ctx, `SELECT id, hostname, demo <> 0 FROM device ORDER BY hostname, id`)
	if err != nil {
		return nil, fmt.Errorf("fleet devices: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (report.DeviceInfo, error) {
		var d report.DeviceInfo
		err := r.Scan(&d.ID, &d.Hostname, &d.Demo)
		return d, err
	})
}

func (p pgFetcher) Fetch(ctx context.Context, f report.Filter) (*report.Data, error) {
	// Day numbers are INTEGER here; "no bound" is far beyond any day.
	f.DayLo, f.DayHi = max(f.DayLo, -1<<30), min(f.DayHi, 1<<30)
	if len(f.Devices) > 0 {
		return report.FetchDays(ctx, p.s.db, f, report.PostgresDialect)
	}
	var first, last *int32
	if err := p.s.pool.QueryRow(ctx, `SELECT MIN(day), MAX(day) FROM fleet_day_net`).Scan(&first, &last); err != nil {
		return nil, fmt.Errorf("fleet report: %w", err)
	}
	d := &report.Data{}
	if first == nil {
		return d, nil
	}
	lo, hi := max(f.DayLo, int64(*first)), min(f.DayHi, int64(*last))
	// Whole months come from the month pre-aggregates, the ragged ends of
	// the period from their days.
	var months []string
	var ranges [][2]int64
	for day := lo; day <= hi; {
		m := journal.MonthOf(day)
		mlo, mhi, _ := journal.MonthDays(m)
		if mlo >= f.DayLo && mhi <= f.DayHi {
			months = append(months, m)
		} else {
			ranges = append(ranges, [2]int64{max(mlo, lo), min(mhi, hi)})
		}
		day = mhi + 1
	}
	dayWhere := func(first int) (string, []any) {
		if len(ranges) == 0 {
			return "false", nil
		}
		var ors []string
		var args []any
		for i, r := range ranges {
			ors = append(ors, fmt.Sprintf("day BETWEEN $%d AND $%d", first+2*i, first+2*i+1))
			args = append(args, r[0], r[1])
		}
		return "(" + strings.Join(ors, " OR ") + ")", args
	}
	edges, edgeArgs := dayWhere(1)
	const times = `SUM(connected_ms)::bigint, SUM(green_ms)::bigint, SUM(amber_ms)::bigint, SUM(red_ms)::bigint, SUM(usable_ms)::bigint,
		SUM(in_use_ms)::bigint, SUM(workable_ms)::bigint`
	var mu sync.Mutex
	type q struct {
		sql  string
		args []any
		scan func(pgx.Rows) error
	}
	timesOf := func(t *report.Times) []any {
		return []any{&t.Connected, &t.Green, &t.Amber, &t.Red, &t.Usable, &t.InUse, &t.Workable}
	}
	keyTimes := func(byDay bool, into *[]report.KeySum) func(pgx.Rows) error {
		return func(rows pgx.Rows) error {
			var x report.KeySum
			var day int32
			key := any(&x.Device)
			if byDay {
				key = &day
			}
			if err := rows.Scan(append([]any{key, &x.Sessions}, timesOf(&x.Times)...)...); err != nil {
				return err
			}
			x.Day = int64(day)
			mu.Lock()
			*into = append(*into, x)
			mu.Unlock()
			return nil
		}
	}
	visitSums := func(byDay bool, into *[]report.VisitSum) func(pgx.Rows) error {
		return func(rows pgx.Rows) error {
			var x report.VisitSum
			var day int32
			var h string
			key := any(&x.Device)
			if byDay {
				key = &day
			}
			if err := rows.Scan(key, &x.Failovers, &h); err != nil {
				return err
			}
			x.Day, x.H = int64(day), journal.ParseHist(h)
			mu.Lock()
			*into = append(*into, x)
			mu.Unlock()
			return nil
		}
	}
	areaRows := func(rows pgx.Rows) error {
		var x report.AreaSum
		var h string
		if err := rows.Scan(append(append([]any{&x.Kind, &x.Network, &x.Area, &x.AreaName}, timesOf(&x.Times)...), &h)...); err != nil {
			return err
		}
		x.HSignal = journal.ParseHist(h)
		mu.Lock()
		d.Areas = append(d.Areas, x)
		mu.Unlock()
		return nil
	}
	cellRows := func(rows pgx.Rows) error {
		var x report.VisitCell
		var h string
		if err := rows.Scan(&x.Kind, &x.Network, &x.Area, &x.MCC, &x.MNC, &x.AreaName, &x.Visits, &h); err != nil {
			return err
		}
		x.H = journal.ParseHist(h)
		mu.Lock()
		d.Cells = append(d.Cells, x)
		mu.Unlock()
		return nil
	}
	queries := []q{
		{`SELECT kind, network, MAX(mcc), MAX(mnc), SUM(sessions)::bigint, ` + times + `, string_agg(h_connect, ','), string_agg(h_signal, ','),
			string_agg(h_sinr, ',') FROM fleet_day_net WHERE day BETWEEN $1 AND $2 GROUP BY kind, network`, []any{lo, hi}, func(rows pgx.Rows) error {
			var x report.NetSum
			var hc, hs, hn string
			if err := rows.Scan(append(append([]any{&x.Kind, &x.Network, &x.MCC, &x.MNC, &x.Sessions}, timesOf(&x.Times)...), &hc, &hs, &hn)...); err != nil {
				return err
			}
			x.HConnect, x.HSignal, x.HSINR = journal.ParseHist(hc), journal.ParseHist(hs), journal.ParseHist(hn)
			mu.Lock()
			d.Nets = append(d.Nets, x)
			mu.Unlock()
			return nil
		}},
		{`SELECT day, SUM(sessions)::bigint, ` + times + ` FROM fleet_day_net WHERE day BETWEEN $1 AND $2 GROUP BY day`, []any{lo, hi},
			keyTimes(true, &d.DayTimes)},
		{`SELECT day, failovers, h_visit FROM fleet_day_device WHERE day BETWEEN $1 AND $2`, []any{lo, hi}, visitSums(true, &d.DayVisits)},
		{`SELECT device_id, SUM(sessions)::bigint, ` + times + ` FROM device_month WHERE month = ANY($1) GROUP BY device_id`, []any{months},
			keyTimes(false, &d.DeviceTimes)},
		{`SELECT device_id, SUM(failovers)::bigint, string_agg(h_visit, ',') FROM device_month WHERE month = ANY($1) GROUP BY device_id`,
			[]any{months}, visitSums(false, &d.DeviceVisits)},
		{`SELECT kind, network, area, MAX(area_name), ` + times + `, string_agg(h_signal, ',') FROM month_area WHERE month = ANY($1)
			GROUP BY kind, network, area`, []any{months}, areaRows},
	}
	// The month cells counted ahead at the share asked for answer with two
	// numbers each; otherwise their histograms are read.
	var counted bool
	if len(months) > 0 && f.VisitBin > 0 {
		if err := p.s.pool.QueryRow(ctx, `SELECT COALESCE(bool_and(share_bin = $2), false) FROM month_visit WHERE month = ANY($1)`,
			months, f.VisitBin).Scan(&counted); err != nil {
			return nil, fmt.Errorf("fleet report: %w", err)
		}
	}
	if counted {
		queries = append(queries, q{`SELECT kind, network, area, MAX(mcc), MAX(mnc), MAX(area_name), SUM(visits)::bigint, SUM(workable)::bigint
			FROM month_visit WHERE month = ANY($1) GROUP BY kind, network, area`, []any{months}, func(rows pgx.Rows) error {
			var x report.VisitCell
			var workable int64
			if err := rows.Scan(&x.Kind, &x.Network, &x.Area, &x.MCC, &x.MNC, &x.AreaName, &x.Visits, &workable); err != nil {
				return err
			}
			// Two bins that answer AtLeast(bin) and Count exactly: the
			// workable visits at 100, the rest at 0.
			x.H = journal.Hist{}
			if workable > 0 {
				x.H[100] = workable
			}
			if x.Visits > workable {
				x.H[0] = x.Visits - workable
			}
			mu.Lock()
			d.Cells = append(d.Cells, x)
			mu.Unlock()
			return nil
		}})
	} else {
		queries = append(queries, q{`SELECT kind, network, area, MAX(mcc), MAX(mnc), MAX(area_name), SUM(visits)::bigint, string_agg(h_share, ',')
			FROM month_visit WHERE month = ANY($1) GROUP BY kind, network, area`, []any{months}, cellRows})
	}
	if len(ranges) > 0 {
		queries = append(queries,
			q{`SELECT device_id, SUM(sessions)::bigint, ` + times + ` FROM day_net WHERE ` + edges + ` GROUP BY device_id`, edgeArgs,
				keyTimes(false, &d.DeviceTimes)},
			q{`SELECT device_id, SUM(failovers)::bigint, string_agg(h_visit, ',') FROM day_device WHERE ` + edges + ` GROUP BY device_id`,
				edgeArgs, visitSums(false, &d.DeviceVisits)},
			q{`SELECT kind, network, area, MAX(area_name), ` + times + `, string_agg(h_signal, ',') FROM day_area WHERE ` + edges +
				` GROUP BY kind, network, area`, edgeArgs, areaRows},
			q{`SELECT kind, network, area, MAX(mcc), MAX(mnc), MAX(area_name), SUM(visits)::bigint, string_agg(h_share, ',') FROM day_visit
				WHERE ` + edges + ` GROUP BY kind, network, area`, edgeArgs, cellRows})
	}
	errs := make(chan error, len(queries))
	for _, x := range queries {
		go func() {
			rows, err := p.s.pool.Query(ctx, x.sql, x.args...)
			if err != nil {
				errs <- err
				return
			}
			defer rows.Close()
			for rows.Next() {
				if err := x.scan(rows); err != nil {
					errs <- err
					return
				}
			}
			errs <- rows.Err()
		}()
	}
	var firstErr error
	for range queries {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return nil, fmt.Errorf("fleet report: %w", firstErr)
	}
	return d, nil
}
