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
// pre-aggregates (the fleet's days per network, and the running totals
// per device and per network × area, two rows a key for any period); a
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
// roll-ups; the whole fleet from its days and running totals, all
// queries at once, in one snapshot (a refresh commits everything it
// changed at once, and the queries share the snapshot of the first).
func (p pgFetcher) Fetch(ctx context.Context, f report.Filter) (*report.Data, error) {
	// Day numbers are INTEGER here; "no bound" is far beyond any day.
	f.DayLo, f.DayHi = max(f.DayLo, -1<<30), min(f.DayHi, 1<<30)
	if len(f.Devices) > 0 {
		return report.FetchDays(ctx, p.s.db, f, report.PostgresDialect)
	}
	c := &collector{d: &report.Data{}, bin: f.VisitBin}
	lo, hi := int32(f.DayLo), int32(f.DayHi)
	qs := append(c.fleetQueries(lo, hi), c.cumQuery(deviceCum, lo, hi, c.deviceRow), c.cumQuery(areaCum, lo, hi, c.areaRow),
		c.cumQuery(cellCum, lo, hi, c.cellRow))
	if err := p.runAll(ctx, qs); err != nil {
		return nil, fmt.Errorf("fleet report: %w", err)
	}
	return c.d, nil
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
	mu  sync.Mutex
	d   *report.Data
	bin int // the visit share asked for
}

func timesOf(t *report.Times) []any {
	return []any{&t.Connected, &t.Green, &t.Amber, &t.Red, &t.Usable, &t.InUse, &t.Workable}
}

// fleetQueries read the whole fleet's days: per network, and per day.
func (c *collector) fleetQueries(lo, hi int32) []query {
	return []query{
		{`SELECT kind, network, MAX(mcc), MAX(mnc), SUM(sessions)::bigint, ` + sumTimes + `, string_agg(h_connect, ','), string_agg(h_signal, ','),
			string_agg(h_sinr, ',') FROM fleet_day_net WHERE day BETWEEN $1 AND $2 GROUP BY kind, network`, []any{lo, hi}, c.netRow},
		{`SELECT day, SUM(sessions)::bigint, ` + sumTimes + ` FROM fleet_day_net WHERE day BETWEEN $1 AND $2 GROUP BY day`, []any{lo, hi},
			c.dayTimes},
		{`SELECT day, failovers, h_visit FROM fleet_day_device WHERE day BETWEEN $1 AND $2`, []any{lo, hi}, c.dayVisits},
	}
}

// cumQuery reads a running-total table over the period: for each key
// with days in it, its labels and, per summed or counted column, the
// total at the period's last day (or the fleet's last, if before) less
// the total the day before its first. The histograms come only where the
// counted visits do not answer (counted at another share): the total's,
// then the one before.
func (c *collector) cumQuery(spec cumSpec, lo, hi int32, scan func(pgx.Rows) error) query {
	cols := make([]string, 0, len(spec.keys)+len(spec.labels)+len(spec.sums)+len(spec.counted)+2)
	var on []string
	for _, k := range spec.keys {
		cols, on = append(cols, "h."+k), append(on, "l."+k+" = h."+k)
	}
	for _, l := range spec.labels {
		cols = append(cols, "h."+l)
	}
	for _, s := range append(append([]string{}, spec.sums...), spec.counted...) {
		if s != "share_bin" {
			cols = append(cols, fmt.Sprintf("h.%[1]s - COALESCE(l.%[1]s, 0)", s))
		}
	}
	counted, args := "false", []any{lo, hi}
	if len(spec.counted) > 0 {
		counted, args = "h.share_bin = $3 AND COALESCE(l.share_bin, $3) = $3", append(args, int32(c.bin))
	}
	for _, h := range spec.hists {
		cols = append(cols, fmt.Sprintf("CASE WHEN %[1]s THEN '' ELSE h.%[2]s END, CASE WHEN %[1]s THEN '' ELSE COALESCE(l.%[2]s, '') END",
			counted, h))
	}
	return query{`SELECT ` + strings.Join(cols, ", ") + ` FROM ` + spec.table + ` h
		LEFT JOIN ` + spec.table + ` l ON l.day = $1::int - 1 AND ` + strings.Join(on, " AND ") + `
		WHERE h.day = (SELECT LEAST($2::int, MAX(day)) FROM ` + spec.table + `) AND h.day >= $1 AND h.days > COALESCE(l.days, 0)`, args, scan}
}

// periodHist is a period's histogram from the two running totals, or nil
// when the counted figures answer.
func periodHist(total, before string) journal.Hist {
	if total == "" {
		return nil
	}
	h := journal.ParseHist(total)
	h.Sub(journal.ParseHist(before))
	return h
}

// countedHist is a histogram of two bins that answers Count and
// AtLeast(bin) exactly: the workable visits at 100, the rest at 0.
func countedHist(visits, workable int64) journal.Hist {
	h := journal.Hist{}
	if workable > 0 {
		h[100] = workable
	}
	if visits > workable {
		h[0] = visits - workable
	}
	return h
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

func (c *collector) dayTimes(rows pgx.Rows) error {
	var x report.KeySum
	var day int32
	if err := rows.Scan(append([]any{&day, &x.Sessions}, timesOf(&x.Times)...)...); err != nil {
		return err
	}
	x.Day = int64(day)
	keep(c, &c.d.DayTimes, x)
	return nil
}

func (c *collector) dayVisits(rows pgx.Rows) error {
	var x report.VisitSum
	var day int32
	var h string
	if err := rows.Scan(&day, &x.Failovers, &h); err != nil {
		return err
	}
	x.Day, x.H = int64(day), journal.ParseHist(h)
	keep(c, &c.d.DayVisits, x)
	return nil
}

func (c *collector) deviceRow(rows pgx.Rows) error {
	var t report.KeySum
	v := report.VisitSum{}
	var visits, workable int64
	var total, before string
	if err := rows.Scan(append(append([]any{&t.Device, &t.Sessions}, timesOf(&t.Times)...), &v.Failovers, &visits, &workable, &total, &before)...); err != nil {
		return err
	}
	v.Device = t.Device
	if v.H = periodHist(total, before); v.H == nil {
		v.H = countedHist(visits, workable)
	}
	keep(c, &c.d.DeviceTimes, t)
	keep(c, &c.d.DeviceVisits, v)
	return nil
}

func (c *collector) areaRow(rows pgx.Rows) error {
	var x report.AreaSum
	var total, before, techTotal, techBefore string
	if err := rows.Scan(append(append([]any{&x.Kind, &x.Network, &x.Area, &x.AreaName}, timesOf(&x.Times)...), &total, &before,
		&techTotal, &techBefore)...); err != nil {
		return err
	}
	if x.HSignal = periodHist(total, before); x.HSignal == nil {
		x.HSignal = journal.Hist{}
	}
	if x.HTech = periodHist(techTotal, techBefore); x.HTech == nil {
		x.HTech = journal.Hist{}
	}
	keep(c, &c.d.Areas, x)
	return nil
}

func (c *collector) cellRow(rows pgx.Rows) error {
	var x report.VisitCell
	var workable int64
	var total, before string
	if err := rows.Scan(&x.Kind, &x.Network, &x.Area, &x.MCC, &x.MNC, &x.AreaName, &x.Visits, &workable, &total, &before); err != nil {
		return err
	}
	if x.H = periodHist(total, before); x.H == nil {
		x.H = countedHist(x.Visits, workable)
	}
	keep(c, &c.d.Cells, x)
	return nil
}

// runAll runs the queries at once on the pool, each in a read-only
// transaction on the snapshot of the first, and returns the first error.
func (p pgFetcher) runAll(ctx context.Context, qs []query) error {
	ro := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	lead, err := p.s.pool.BeginTx(ctx, ro)
	if err != nil {
		return err
	}
	defer lead.Rollback(context.WithoutCancel(ctx))
	var snap string
	if err := lead.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snap); err != nil {
		return err
	}
	errs := make(chan error, len(qs))
	for i, x := range qs {
		go func() {
			tx := lead
			if i > 0 {
				var err error
				if tx, err = p.s.pool.BeginTx(ctx, ro); err != nil {
					errs <- err
					return
				}
				defer tx.Rollback(context.WithoutCancel(ctx))
				if _, err := tx.Exec(ctx, `SET TRANSACTION SNAPSHOT '`+strings.ReplaceAll(snap, "'", "")+`'`); err != nil {
					errs <- err
					return
				}
			}
			errs <- run(ctx, tx, x)
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

// run runs one query and keeps its rows.
func run(ctx context.Context, tx pgx.Tx, x query) error {
	rows, err := tx.Query(ctx, x.sql, x.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := x.scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
