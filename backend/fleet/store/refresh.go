package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fieldlink/fieldlink/backend/journal"
)

// RefreshOptions says what a refresh rebuilds.
type RefreshOptions struct {
	// Areas also rebuilds the month pre-aggregates of areas and visits
	// (the costly part: every area-day of a month), as a periodic job.
	Areas bool
}

// RefreshStats says what a refresh did.
type RefreshStats struct {
	Days, DeviceMonths, Months int
	Took                       time.Duration
}

// Refresh rebuilds the pre-aggregates of what uploads changed: the fleet's
// days (per network, and visits), the changed devices' months, and with
// Areas the months of areas and visits. Each piece is one transaction
// that takes its marks off and rebuilds them; an upload that marks a
// piece again meanwhile waits for it and marks it afresh.
func (s *Store) Refresh(ctx context.Context, opt RefreshOptions) (RefreshStats, error) {
	t0 := time.Now()
	var st RefreshStats
	for {
		n, err := s.refreshDays(ctx)
		if err != nil {
			return st, fmt.Errorf("refresh days: %w", err)
		}
		if n == 0 {
			break
		}
		st.Days += n
	}
	n, err := s.refreshDeviceMonths(ctx)
	if err != nil {
		return st, fmt.Errorf("refresh device months: %w", err)
	}
	st.DeviceMonths = n
	if opt.Areas {
		if st.Months, err = s.refreshMonths(ctx); err != nil {
			return st, fmt.Errorf("refresh area months: %w", err)
		}
	}
	what := "days"
	if opt.Areas {
		what = "all"
	}
	s.pool.Exec(ctx, `INSERT INTO refreshed VALUES ($1, now()) ON CONFLICT (what) DO UPDATE SET at = now()`, what)
	if opt.Areas {
		s.pool.Exec(ctx, `INSERT INTO refreshed VALUES ('days', now()) ON CONFLICT (what) DO UPDATE SET at = now()`)
	}
	st.Took = time.Since(t0)
	return st, nil
}

// merged reads groups whose last n columns are histograms to merge.
func merged(ctx context.Context, tx pgx.Tx, n int, q string, args ...any) ([][]any, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		for i := len(vals) - n; i < len(vals); i++ {
			s, _ := vals[i].(string)
			vals[i] = journal.ParseHist(s).String()
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

func (s *Store) refreshDays(ctx context.Context) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, err := tx.Query(ctx, `DELETE FROM stale_day WHERE day IN (SELECT day FROM stale_day ORDER BY day LIMIT 31 FOR UPDATE SKIP LOCKED) RETURNING day`)
	if err != nil {
		return 0, err
	}
	days, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil || len(days) == 0 {
		return 0, err
	}
	for _, q := range []string{`DELETE FROM fleet_day_net WHERE day = ANY($1)`, `DELETE FROM fleet_day_device WHERE day = ANY($1)`,
		`DELETE FROM fleet_day_area WHERE day = ANY($1)`, `DELETE FROM fleet_day_visit WHERE day = ANY($1)`} {
		if _, err := tx.Exec(ctx, q, days); err != nil {
			return 0, err
		}
	}
	if err := fleetDayAreas(ctx, tx, days); err != nil {
		return 0, err
	}
	nets, err := merged(ctx, tx, 3, `SELECT day, kind, network, MAX(mcc), MAX(mnc), SUM(sessions)::bigint, SUM(connected_ms)::bigint,
		SUM(green_ms)::bigint, SUM(amber_ms)::bigint, SUM(red_ms)::bigint, SUM(usable_ms)::bigint, SUM(in_use_ms)::bigint,
		SUM(workable_ms)::bigint, string_agg(h_connect, ','), string_agg(h_signal, ','), string_agg(h_sinr, ',')
		FROM day_net WHERE day = ANY($1) GROUP BY day, kind, network`, days)
	if err != nil {
		return 0, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"fleet_day_net"}, []string{"day", "kind", "network", "mcc", "mnc", "sessions",
		"connected_ms", "green_ms", "amber_ms", "red_ms", "usable_ms", "in_use_ms", "workable_ms", "h_connect", "h_signal", "h_sinr"},
		pgx.CopyFromRows(nets)); err != nil {
		return 0, err
	}
	devs, err := merged(ctx, tx, 1, `SELECT day, SUM(failovers)::bigint, string_agg(h_visit, ',') FROM day_device WHERE day = ANY($1) GROUP BY day`, days)
	if err != nil {
		return 0, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"fleet_day_device"}, []string{"day", "failovers", "h_visit"}, pgx.CopyFromRows(devs)); err != nil {
		return 0, err
	}
	return len(days), tx.Commit(ctx)
}

// fleetDayAreas sums the days' area and visit roll-ups over the devices
// into the fleet's own day rows.
func fleetDayAreas(ctx context.Context, tx pgx.Tx, days []int32) error {
	areas, err := merged(ctx, tx, 1, `SELECT day, kind, network, area, MAX(area_name), `+sumTimes+`, string_agg(h_signal, ',')
		FROM day_area WHERE day = ANY($1) GROUP BY day, kind, network, area`, days)
	if err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"fleet_day_area"}, []string{"day", "kind", "network", "area", "area_name", "connected_ms",
		"green_ms", "amber_ms", "red_ms", "usable_ms", "in_use_ms", "workable_ms", "h_signal"}, pgx.CopyFromRows(areas)); err != nil {
		return err
	}
	visits, err := merged(ctx, tx, 1, `SELECT day, kind, network, area, MAX(mcc), MAX(mnc), MAX(area_name), SUM(visits)::bigint,
		string_agg(h_share, ',') FROM day_visit WHERE day = ANY($1) GROUP BY day, kind, network, area`, days)
	if err != nil {
		return err
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"fleet_day_visit"}, []string{"day", "kind", "network", "area", "mcc", "mnc", "area_name",
		"visits", "h_share"}, pgx.CopyFromRows(visits))
	return err
}

func (s *Store) refreshDeviceMonths(ctx context.Context) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, err := tx.Query(ctx, `DELETE FROM stale_device_month RETURNING month, device_id`)
	if err != nil {
		return 0, err
	}
	byMonth := map[string][]string{}
	n := 0
	for rows.Next() {
		var m, d string
		if err := rows.Scan(&m, &d); err != nil {
			rows.Close()
			return 0, err
		}
		byMonth[m] = append(byMonth[m], d)
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for month, devs := range byMonth {
		if err := rebuildDeviceMonth(ctx, tx, month, devs); err != nil {
			return 0, err
		}
	}
	return n, tx.Commit(ctx)
}

// rebuildDeviceMonth rebuilds the month rows of these devices: each
// device's sums from day_net and its visits from day_device, joined here
// and written in one COPY. Many devices (a month's first refresh, a
// fleet's import) are done in one pass over the month, without a filter:
// a filter of thousands of ids costs more than reading them all.
func rebuildDeviceMonth(ctx context.Context, tx pgx.Tx, month string, devs []string) error {
	lo, hi, err := journal.MonthDays(month)
	if err != nil {
		return nil
	}
	filter, args := " AND device_id = ANY($3)", []any{lo, hi, devs}
	del, dargs := `DELETE FROM device_month WHERE month = $1 AND device_id = ANY($2)`, []any{month, devs}
	if len(devs) > 200 {
		filter, args = "", []any{lo, hi}
		// Every device of the month is rebuilt: any not in the days
		// any more goes too.
		del, dargs = `DELETE FROM device_month WHERE month = $1`, []any{month}
	}
	if _, err := tx.Exec(ctx, del, dargs...); err != nil {
		return err
	}
	type row struct {
		t         [8]int64
		failovers int64
		h         journal.Hist
	}
	rows := map[string]*row{}
	get := func(d string) *row {
		r := rows[d]
		if r == nil {
			r = &row{h: journal.Hist{}}
			rows[d] = r
		}
		return r
	}
	res, err := tx.Query(ctx, `SELECT device_id, SUM(sessions)::bigint, SUM(connected_ms)::bigint, SUM(green_ms)::bigint, SUM(amber_ms)::bigint,
		SUM(red_ms)::bigint, SUM(usable_ms)::bigint, SUM(in_use_ms)::bigint, SUM(workable_ms)::bigint
		FROM day_net WHERE day BETWEEN $1 AND $2`+filter+` GROUP BY device_id`, args...)
	if err != nil {
		return err
	}
	for res.Next() {
		var d string
		var t [8]int64
		if err := res.Scan(&d, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7]); err != nil {
			res.Close()
			return err
		}
		get(d).t = t
	}
	res.Close()
	if err := res.Err(); err != nil {
		return err
	}
	res, err = tx.Query(ctx, `SELECT device_id, SUM(failovers)::bigint, string_agg(h_visit, ',') FROM day_device
		WHERE day BETWEEN $1 AND $2`+filter+` GROUP BY device_id`, args...)
	if err != nil {
		return err
	}
	for res.Next() {
		var d, h string
		var f int64
		if err := res.Scan(&d, &f, &h); err != nil {
			res.Close()
			return err
		}
		r := get(d)
		r.failovers = f
		r.h.Merge(journal.ParseHist(h))
	}
	res.Close()
	if err := res.Err(); err != nil {
		return err
	}
	out := make([][]any, 0, len(rows))
	for d, r := range rows {
		out = append(out, []any{month, d, r.t[0], r.t[1], r.t[2], r.t[3], r.t[4], r.t[5], r.t[6], r.t[7], r.failovers, r.h.String()})
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"device_month"}, []string{"month", "device_id", "sessions", "connected_ms", "green_ms",
		"amber_ms", "red_ms", "usable_ms", "in_use_ms", "workable_ms", "failovers", "h_visit"}, pgx.CopyFromRows(out))
	return err
}

func (s *Store) refreshMonths(ctx context.Context) (int, error) {
	n := 0
	for {
		done, err := s.refreshMonth(ctx)
		if err != nil || !done {
			return n, err
		}
		n++
	}
}

// refreshMonth rebuilds one stale month of areas and visits; false when
// none is stale.
func (s *Store) refreshMonth(ctx context.Context) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var month string
	err = tx.QueryRow(ctx, `DELETE FROM stale_month WHERE month = (SELECT month FROM stale_month ORDER BY month LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING month`).Scan(&month)
	if err == pgx.ErrNoRows {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	lo, hi, err := journal.MonthDays(month)
	if err != nil {
		return true, tx.Commit(ctx)
	}
	// Its days' fleet rows must be current first: an upload committed
	// since the days were refreshed leaves the month marked for the next
	// refresh, which sums the days first.
	var pending bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM stale_day WHERE day BETWEEN $1 AND $2)`, lo, hi).Scan(&pending); err != nil {
		return false, err
	}
	if pending {
		return false, nil // rolled back: the month stays marked
	}
	for _, q := range []string{`DELETE FROM month_area WHERE month = $1`, `DELETE FROM month_visit WHERE month = $1`} {
		if _, err := tx.Exec(ctx, q, month); err != nil {
			return false, err
		}
	}
	// A month is summed from its days' fleet rows (fleetDayAreas), which
	// refreshDays keeps; the days of this month are refreshed first.
	areas, err := merged(ctx, tx, 1, `SELECT $1::text, kind, network, area, MAX(area_name), SUM(connected_ms)::bigint, SUM(green_ms)::bigint,
		SUM(amber_ms)::bigint, SUM(red_ms)::bigint, SUM(usable_ms)::bigint, SUM(in_use_ms)::bigint, SUM(workable_ms)::bigint,
		string_agg(h_signal, ',') FROM fleet_day_area WHERE day BETWEEN $2 AND $3 GROUP BY kind, network, area`, month, lo, hi)
	if err != nil {
		return false, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"month_area"}, []string{"month", "kind", "network", "area", "area_name", "connected_ms",
		"green_ms", "amber_ms", "red_ms", "usable_ms", "in_use_ms", "workable_ms", "h_signal"}, pgx.CopyFromRows(areas)); err != nil {
		return false, err
	}
	visits, err := merged(ctx, tx, 1, `SELECT $1::text, kind, network, area, MAX(mcc), MAX(mnc), MAX(area_name), SUM(visits)::bigint,
		string_agg(h_share, ',') FROM fleet_day_visit WHERE day BETWEEN $2 AND $3 GROUP BY kind, network, area`, month, lo, hi)
	if err != nil {
		return false, err
	}
	for i, v := range visits {
		h := journal.ParseHist(v[8].(string))
		visits[i] = append(v, int32(s.shareBin), h.AtLeast(s.shareBin))
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"month_visit"}, []string{"month", "kind", "network", "area", "mcc", "mnc", "area_name",
		"visits", "h_share", "share_bin", "workable"}, pgx.CopyFromRows(visits)); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// Freshness is when the pre-aggregates were last rebuilt, and whether
// changes wait for the next rebuild.
type Freshness struct {
	Days, Areas         time.Time
	StaleDays, StaleMon int
}

// Fresh says how current the pre-aggregates are.
func (s *Store) Fresh(ctx context.Context) Freshness {
	var f Freshness
	s.pool.QueryRow(ctx, `SELECT COALESCE((SELECT at FROM refreshed WHERE what = 'days'), 'epoch'),
		COALESCE((SELECT at FROM refreshed WHERE what = 'all'), 'epoch'),
		(SELECT COUNT(*) FROM stale_day), (SELECT COUNT(*) FROM stale_month)`).Scan(&f.Days, &f.Areas, &f.StaleDays, &f.StaleMon)
	return f
}
