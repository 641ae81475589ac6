package store

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

// Fetch reads the figures of a period: a few devices from their day
// roll-ups; the whole fleet from the month pre-aggregates for whole months
// and from the day tables for the period's ragged ends, all queries at
// once.
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
	c := &collector{d: &report.Data{}}
	if first == nil {
		return c.d, nil
	}
	pl := splitPeriod(f, int64(*first), int64(*last))
	counted, err := p.countedAt(ctx, pl.months, f.VisitBin)
	if err != nil {
		return nil, err
	}
	qs := append(c.fleetQueries(pl), c.cellQuery(pl.months, counted))
	qs = append(qs, c.edgeQueries(pl)...)
	if err := p.runAll(ctx, qs); err != nil {
		return nil, fmt.Errorf("fleet report: %w", err)
	}
	return c.d, nil
}

// period is a report's days cut where the pre-aggregates change: the whole
// months inside it, and the day ranges of its ragged ends.
type period struct {
	lo, hi int64
	months []string
	ranges [][2]int64
}

// splitPeriod cuts the filter's days, clipped to the days the fleet has,
// into whole months and ragged ends.
func splitPeriod(f report.Filter, first, last int64) period {
	pl := period{lo: max(f.DayLo, first), hi: min(f.DayHi, last)}
	for day := pl.lo; day <= pl.hi; {
		m := journal.MonthOf(day)
		mlo, mhi, _ := journal.MonthDays(m)
		if mlo >= f.DayLo && mhi <= f.DayHi {
			pl.months = append(pl.months, m)
		} else {
			pl.ranges = append(pl.ranges, [2]int64{max(mlo, pl.lo), min(mhi, pl.hi)})
		}
		day = mhi + 1
	}
	return pl
}

// edgeWhere is the SQL condition selecting the ragged ends' days, with its
// arguments numbered from first.
func (pl period) edgeWhere(first int) (string, []any) {
	if len(pl.ranges) == 0 {
		return "false", nil
	}
	var ors []string
	var args []any
	for i, r := range pl.ranges {
		ors = append(ors, fmt.Sprintf("day BETWEEN $%d AND $%d", first+2*i, first+2*i+1))
		args = append(args, r[0], r[1])
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

// countedAt says whether every month's visit cells were counted ahead at
// the share asked for, so they answer with two numbers each instead of
// their histograms.
func (p pgFetcher) countedAt(ctx context.Context, months []string, bin int) (bool, error) {
	var counted bool
	if len(months) == 0 || bin <= 0 {
		return false, nil
	}
	if err := p.s.pool.QueryRow(ctx, `SELECT COALESCE(bool_and(share_bin = $2), false) FROM month_visit WHERE month = ANY($1)`,
		months, bin).Scan(&counted); err != nil {
		return false, fmt.Errorf("fleet report: %w", err)
	}
	return counted, nil
}

const sumTimes = `SUM(connected_ms)::bigint, SUM(green_ms)::bigint, SUM(amber_ms)::bigint, SUM(red_ms)::bigint, SUM(usable_ms)::bigint,
		SUM(in_use_ms)::bigint, SUM(workable_ms)::bigint`

// query is one SELECT of the report and how each of its rows is kept.
type query struct {
	sql  string
	args []any
	scan func(pgx.Rows) error
}

// collector gathers the rows of queries that run at once into one Data.
type collector struct {
	mu sync.Mutex
	d  *report.Data
}

func timesOf(t *report.Times) []any {
	return []any{&t.Connected, &t.Green, &t.Amber, &t.Red, &t.Usable, &t.InUse, &t.Workable}
}

// fleetQueries read the whole fleet's days (per network, per day) and the
// whole months' device and area pre-aggregates.
func (c *collector) fleetQueries(pl period) []query {
	lo, hi, months := pl.lo, pl.hi, pl.months
	return []query{
		{`SELECT kind, network, MAX(mcc), MAX(mnc), SUM(sessions)::bigint, ` + sumTimes + `, string_agg(h_connect, ','), string_agg(h_signal, ','),
			string_agg(h_sinr, ',') FROM fleet_day_net WHERE day BETWEEN $1 AND $2 GROUP BY kind, network`, []any{lo, hi}, c.netRow},
		{`SELECT day, SUM(sessions)::bigint, ` + sumTimes + ` FROM fleet_day_net WHERE day BETWEEN $1 AND $2 GROUP BY day`, []any{lo, hi},
			c.keyTimes(true, &c.d.DayTimes)},
		{`SELECT day, failovers, h_visit FROM fleet_day_device WHERE day BETWEEN $1 AND $2`, []any{lo, hi}, c.visitSums(true, &c.d.DayVisits)},
		{`SELECT device_id, SUM(sessions)::bigint, ` + sumTimes + ` FROM device_month WHERE month = ANY($1) GROUP BY device_id`, []any{months},
			c.keyTimes(false, &c.d.DeviceTimes)},
		{`SELECT device_id, SUM(failovers)::bigint, string_agg(h_visit, ',') FROM device_month WHERE month = ANY($1) GROUP BY device_id`,
			[]any{months}, c.visitSums(false, &c.d.DeviceVisits)},
		{`SELECT kind, network, area, MAX(area_name), ` + sumTimes + `, string_agg(h_signal, ',') FROM month_area WHERE month = ANY($1)
			GROUP BY kind, network, area`, []any{months}, c.areaRow},
	}
}

// cellQuery reads the whole months' operator × area visit cells: counted
// ones as two numbers, others as their histograms.
func (c *collector) cellQuery(months []string, counted bool) query {
	if counted {
		return query{`SELECT kind, network, area, MAX(mcc), MAX(mnc), MAX(area_name), SUM(visits)::bigint, SUM(workable)::bigint
			FROM month_visit WHERE month = ANY($1) GROUP BY kind, network, area`, []any{months}, c.countedCellRow}
	}
	return query{`SELECT kind, network, area, MAX(mcc), MAX(mnc), MAX(area_name), SUM(visits)::bigint, string_agg(h_share, ',')
			FROM month_visit WHERE month = ANY($1) GROUP BY kind, network, area`, []any{months}, c.cellRow}
}

// edgeQueries read the ragged ends' days from the day tables.
func (c *collector) edgeQueries(pl period) []query {
	if len(pl.ranges) == 0 {
		return nil
	}
	edges, args := pl.edgeWhere(1)
	return []query{
		{`SELECT device_id, SUM(sessions)::bigint, ` + sumTimes + ` FROM day_net WHERE ` + edges + ` GROUP BY device_id`, args,
			c.keyTimes(false, &c.d.DeviceTimes)},
		{`SELECT device_id, SUM(failovers)::bigint, string_agg(h_visit, ',') FROM day_device WHERE ` + edges + ` GROUP BY device_id`,
			args, c.visitSums(false, &c.d.DeviceVisits)},
		// The fleet's own day rows: a few per area and day, where the
		// devices' are thousands.
		{`SELECT kind, network, area, MAX(area_name), ` + sumTimes + `, string_agg(h_signal, ',') FROM fleet_day_area WHERE ` + edges +
			` GROUP BY kind, network, area`, args, c.areaRow},
		{`SELECT kind, network, area, MAX(mcc), MAX(mnc), MAX(area_name), SUM(visits)::bigint, string_agg(h_share, ',') FROM fleet_day_visit
				WHERE ` + edges + ` GROUP BY kind, network, area`, args, c.cellRow},
	}
}

// keep appends under the collector's lock: the queries' rows arrive on
// their own goroutines.
func keep[T any](c *collector, into *[]T, x T) {
	c.mu.Lock()
	*into = append(*into, x)
	c.mu.Unlock()
}

func (c *collector) netRow(rows pgx.Rows) error {
	var x report.NetSum
	var hc, hs, hn string
	if err := rows.Scan(append(append([]any{&x.Kind, &x.Network, &x.MCC, &x.MNC, &x.Sessions}, timesOf(&x.Times)...), &hc, &hs, &hn)...); err != nil {
		return err
	}
	x.HConnect, x.HSignal, x.HSINR = journal.ParseHist(hc), journal.ParseHist(hs), journal.ParseHist(hn)
	keep(c, &c.d.Nets, x)
	return nil
}

func (c *collector) keyTimes(byDay bool, into *[]report.KeySum) func(pgx.Rows) error {
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
		keep(c, into, x)
		return nil
	}
}

func (c *collector) visitSums(byDay bool, into *[]report.VisitSum) func(pgx.Rows) error {
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
		keep(c, into, x)
		return nil
	}
}

func (c *collector) areaRow(rows pgx.Rows) error {
	var x report.AreaSum
	var h string
	if err := rows.Scan(append(append([]any{&x.Kind, &x.Network, &x.Area, &x.AreaName}, timesOf(&x.Times)...), &h)...); err != nil {
		return err
	}
	x.HSignal = journal.ParseHist(h)
	keep(c, &c.d.Areas, x)
	return nil
}

func (c *collector) cellRow(rows pgx.Rows) error {
	var x report.VisitCell
	var h string
	if err := rows.Scan(&x.Kind, &x.Network, &x.Area, &x.MCC, &x.MNC, &x.AreaName, &x.Visits, &h); err != nil {
		return err
	}
	x.H = journal.ParseHist(h)
	keep(c, &c.d.Cells, x)
	return nil
}

func (c *collector) countedCellRow(rows pgx.Rows) error {
	var x report.VisitCell
	var workable int64
	if err := rows.Scan(&x.Kind, &x.Network, &x.Area, &x.MCC, &x.MNC, &x.AreaName, &x.Visits, &workable); err != nil {
		return err
	}
	// Two bins that answer AtLeast(bin) and Count exactly: the workable
	// visits at 100, the rest at 0.
	x.H = journal.Hist{}
	if workable > 0 {
		x.H[100] = workable
	}
	if x.Visits > workable {
		x.H[0] = x.Visits - workable
	}
	keep(c, &c.d.Cells, x)
	return nil
}

// runAll runs the queries at once on the pool and returns the first error.
func (p pgFetcher) runAll(ctx context.Context, qs []query) error {
	errs := make(chan error, len(qs))
	for _, x := range qs {
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
	for range qs {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}
