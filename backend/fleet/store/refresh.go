package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fieldlink/fieldlink/backend/journal"
)

// RefreshStats says what a refresh did.
type RefreshStats struct {
	// Days are the fleet days summed again, Devices the devices whose
	// running totals were rewritten, Rows the running-total rows written.
	Days, Devices, Rows int
	Took                time.Duration
}

// Refresh brings the pre-aggregates up to date with what uploads changed,
// in one transaction, so that every figure of a report read at one moment
// comes from the same uploads: the fleet's days (per network, area and
// visits), then the running totals of the areas from the first day that
// changed, and of the devices that uploaded. An upload that marks a day
// or a device again meanwhile waits for it and marks it afresh.
func (s *Store) Refresh(ctx context.Context) (RefreshStats, error) {
	t0 := time.Now()
	var st RefreshStats
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return st, fmt.Errorf("refresh: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for {
		n, err := s.refreshDays(ctx, tx)
		if err != nil {
			return st, fmt.Errorf("refresh days: %w", err)
		}
		if n == 0 {
			break
		}
		st.Days += n
	}
	if st.Devices, st.Rows, err = s.publishCum(ctx, tx); err != nil {
		return st, fmt.Errorf("refresh running totals: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO refreshed VALUES ('days', now()) ON CONFLICT (what) DO UPDATE SET at = now()`); err != nil {
		return st, fmt.Errorf("refresh: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return st, fmt.Errorf("refresh: %w", err)
	}
	st.Took = time.Since(t0)
	return st, nil
}

// merged reads groups whose last n columns are histograms to merge.
func merged(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, n int, q string, args ...any) ([][]any, error) {
	rows, err := db.Query(ctx, q, args...)
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

// daySum is one of the fleet's day tables, summed over the devices from
// their day roll-ups: its columns, how many of the last are histograms,
// and the query over the days in $1.
type daySum struct {
	table string
	cols  []string
	hists int
	sql   string
}

var daySums = []daySum{
	{"fleet_day_net", []string{"day", "kind", "network", "mcc", "mnc", "sessions", "connected_ms", "green_ms", "amber_ms", "red_ms",
		"usable_ms", "in_use_ms", "workable_ms", "h_connect", "h_signal", "h_sinr"}, 3,
		`SELECT day, kind, network, MAX(mcc), MAX(mnc), SUM(sessions)::bigint, ` + sumTimes + `, string_agg(h_connect, ','),
		string_agg(h_signal, ','), string_agg(h_sinr, ',') FROM day_net WHERE day = ANY($1) GROUP BY day, kind, network`},
	{"fleet_day_device", []string{"day", "failovers", "h_visit"}, 1,
		`SELECT day, SUM(failovers)::bigint, string_agg(h_visit, ',') FROM day_device WHERE day = ANY($1) GROUP BY day`},
	{"fleet_day_area", []string{"day", "kind", "network", "area", "area_name", "connected_ms", "green_ms", "amber_ms", "red_ms",
		"usable_ms", "in_use_ms", "workable_ms", "h_signal", "h_tech"}, 2,
		`SELECT day, kind, network, area, MAX(area_name), ` + sumTimes + `, string_agg(h_signal, ','), string_agg(h_tech, ',')
		FROM day_area WHERE day = ANY($1) GROUP BY day, kind, network, area`},
	{"fleet_day_visit", []string{"day", "kind", "network", "area", "mcc", "mnc", "area_name", "visits", "h_share"}, 1,
		`SELECT day, kind, network, area, MAX(mcc), MAX(mnc), MAX(area_name), SUM(visits)::bigint, string_agg(h_share, ',')
		FROM day_visit WHERE day = ANY($1) GROUP BY day, kind, network, area`},
}

// refreshDays sums up to a month of stale days over the devices into the
// fleet's day tables, in the refresh's transaction, and marks the areas'
// running totals stale from the first of them. The sums are read at once,
// each on a connection of its own: the devices' rows they read are
// committed, and an upload committed since the marks were taken marks
// its days again for the next refresh.
func (s *Store) refreshDays(ctx context.Context, tx pgx.Tx) (int, error) {
	rows, err := tx.Query(ctx, `DELETE FROM stale_day WHERE day IN (SELECT day FROM stale_day ORDER BY day LIMIT 31 FOR UPDATE SKIP LOCKED) RETURNING day`)
	if err != nil {
		return 0, err
	}
	days, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil || len(days) == 0 {
		return 0, err
	}
	sums := make([][][]any, len(daySums))
	errs := make(chan error, len(daySums))
	for i, d := range daySums {
		go func() {
			var err error
			sums[i], err = merged(ctx, s.pool, d.hists, d.sql, days)
			errs <- err
		}()
	}
	var firstErr error
	for range daySums {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return 0, firstErr
	}
	for i, d := range daySums {
		if _, err := tx.Exec(ctx, `DELETE FROM `+d.table+` WHERE day = ANY($1)`, days); err != nil {
			return 0, err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{d.table}, d.cols, pgx.CopyFromRows(sums[i])); err != nil {
			return 0, err
		}
	}
	_, err = tx.Exec(ctx, `INSERT INTO stale_fleet_cum (day) VALUES ($1) ON CONFLICT (one) DO UPDATE SET day = LEAST(stale_fleet_cum.day, EXCLUDED.day)`,
		slices.Min(days))
	return len(days), err
}

// Freshness is when the pre-aggregates were last brought up to date, and
// whether changes wait for the next refresh.
type Freshness struct {
	Days      time.Time
	StaleDays int
}

// Fresh says how current the pre-aggregates are.
func (s *Store) Fresh(ctx context.Context) Freshness {
	var f Freshness
	s.pool.QueryRow(ctx, `SELECT COALESCE((SELECT at FROM refreshed WHERE what = 'days'), 'epoch'),
		(SELECT COUNT(*) FROM stale_day) + (SELECT COUNT(*) FROM stale_device_cum)`).Scan(&f.Days, &f.StaleDays)
	return f
}
