package journal

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// MonthOf is the month a day number falls in, as the month roll-ups key
// it ("2026-11").
func MonthOf(day int64) string { return time.UnixMilli(day * 86400000).UTC().Format("2006-01") }

// MonthDays is the first and last day number of a month ("2026-11").
func MonthDays(month string) (int64, int64, error) {
	t, err := time.Parse("2006-01", month)
	if err != nil {
		return 0, 0, fmt.Errorf("month %q: %w", month, err)
	}
	return t.UnixMilli() / 86400000, t.AddDate(0, 1, 0).UnixMilli()/86400000 - 1, nil
}

// RefreshMonths rebuilds the month roll-ups of every month whose days
// changed since (all devices summed, histograms merged), in one
// transaction, and says how many it rebuilt. The writer calls it each day
// and when it stops, an import when it ends; until then a report reads
// the stale months from their days, so it is never wrong, only slower.
func (j *Journal) RefreshMonths(ctx context.Context) (int, error) {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT month FROM month_stale`)
	if err != nil {
		return 0, err
	}
	var months []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return 0, err
		}
		months = append(months, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, m := range months {
		if err := rebuildMonth(ctx, tx, m); err != nil {
			return 0, fmt.Errorf("month %s: %w", m, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM month_stale`); err != nil {
		return 0, err
	}
	return len(months), tx.Commit()
}

func rebuildMonth(ctx context.Context, tx *sql.Tx, month string) error {
	lo, hi, err := MonthDays(month)
	if err != nil {
		// A month written by hand that is no month: nothing to rebuild.
		return nil
	}
	for _, q := range []string{`DELETE FROM month_area WHERE month = ?`, `DELETE FROM month_visit WHERE month = ?`} {
		if _, err := tx.ExecContext(ctx, q, month); err != nil {
			return err
		}
	}
	type areaRow struct {
		kind, network, area, name string
		t                         [7]int64
		h, tech                   string
	}
	var areas []areaRow
	rows, err := tx.QueryContext(ctx, `SELECT kind, network, area, MAX(area_name), SUM(connected_ms), SUM(green_ms), SUM(amber_ms),
		SUM(red_ms), SUM(usable_ms), SUM(in_use_ms), SUM(workable_ms), group_concat(h_signal), group_concat(h_tech)
		FROM day_area WHERE day BETWEEN ? AND ? GROUP BY kind, network, area`, lo, hi)
	if err != nil {
		return err
	}
	for rows.Next() {
		var x areaRow
		var h, tech sql.NullString
		if err := rows.Scan(&x.kind, &x.network, &x.area, &x.name, &x.t[0], &x.t[1], &x.t[2], &x.t[3], &x.t[4], &x.t[5], &x.t[6], &h, &tech); err != nil {
			rows.Close()
			return err
		}
		x.h, x.tech = ParseHist(h.String).String(), ParseHist(tech.String).String()
		areas = append(areas, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, x := range areas {
		if _, err := tx.ExecContext(ctx, `INSERT INTO month_area(month, kind, network, area, area_name, connected_ms, green_ms, amber_ms,
			red_ms, usable_ms, in_use_ms, workable_ms, h_signal, h_tech) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, month, x.kind, x.network, x.area,
			x.name, x.t[0], x.t[1], x.t[2], x.t[3], x.t[4], x.t[5], x.t[6], x.h, x.tech); err != nil {
			return err
		}
	}
	type visitRow struct {
		kind, network, area, mcc, mnc, name, h string
		visits                                 int64
	}
	var visits []visitRow
	rows, err = tx.QueryContext(ctx, `SELECT kind, network, area, MAX(mcc), MAX(mnc), MAX(area_name), SUM(visits), group_concat(h_share)
		FROM day_visit WHERE day BETWEEN ? AND ? GROUP BY kind, network, area`, lo, hi)
	if err != nil {
		return err
	}
	for rows.Next() {
		var x visitRow
		var h sql.NullString
		if err := rows.Scan(&x.kind, &x.network, &x.area, &x.mcc, &x.mnc, &x.name, &x.visits, &h); err != nil {
			rows.Close()
			return err
		}
		x.h = ParseHist(h.String).String()
		visits = append(visits, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, x := range visits {
		if _, err := tx.ExecContext(ctx, `INSERT INTO month_visit(month, kind, network, area, mcc, mnc, area_name, visits, h_share)
			VALUES(?,?,?,?,?,?,?,?,?)`, month, x.kind, x.network, x.area, x.mcc, x.mnc, x.name, x.visits, x.h); err != nil {
			return err
		}
	}
	return nil
}
