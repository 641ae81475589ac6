package report

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/fieldlink/fieldlink/backend/journal"
)

// Filter is what a Fetcher selects: days (inclusive, UTC day numbers) and
// devices (none: all).
type Filter struct {
	DayLo, DayHi int64
	Devices      []string
	// VisitBin is the visit share asked for, in percent: a fetcher with
	// workable visits counted ahead at that share may answer with them.
	VisitBin int
}

// Fetcher reads the grouped roll-ups a report is assembled from. The
// device's SQLite journal is one; the fleet server's PostgreSQL is another:
// both hold the same roll-ups, so both give the same report.
type Fetcher interface {
	Devices(ctx context.Context) ([]DeviceInfo, error)
	Fetch(ctx context.Context, f Filter) (*Data, error)
}

// DeviceInfo is one device a journal knows.
type DeviceInfo struct {
	ID, Hostname string
	Demo         bool
}

// Times are summed durations, in milliseconds.
type Times struct {
	Sessions, Connected, Green, Amber, Red, Usable, InUse, Workable int64
}

func (t *Times) add(o Times) {
	t.Sessions += o.Sessions
	t.Connected += o.Connected
	t.Green += o.Green
	t.Amber += o.Amber
	t.Red += o.Red
	t.Usable += o.Usable
	t.InUse += o.InUse
	t.Workable += o.Workable
}

// NetSum is one network's time over the period.
type NetSum struct {
	Kind, Network, MCC, MNC string
	Times
	HConnect, HSignal, HSINR journal.Hist
}

// KeySum is time grouped by one key: a device id or a day.
type KeySum struct {
	Device string
	Day    int64
	Times
}

// AreaSum is one network's time in one area.
type AreaSum struct {
	Kind, Network, Area, AreaName string
	Times
	HSignal journal.Hist
}

// VisitSum is visits grouped by a device or a day: failovers and the
// histogram of each visit's workable share.
type VisitSum struct {
	Device    string
	Day       int64
	Failovers int64
	H         journal.Hist
}

// VisitCell is one network's visits in one area (area "" is all areas;
// kind journal.WorkKind is the visit itself, whatever carried the work).
type VisitCell struct {
	Kind, Network, MCC, MNC, Area, AreaName string
	Visits                                  int64
	H                                       journal.Hist
}

// Data is everything a report is assembled from.
type Data struct {
	Nets         []NetSum
	DeviceTimes  []KeySum
	DayTimes     []KeySum
	Areas        []AreaSum
	DeviceVisits []VisitSum
	DayVisits    []VisitSum
	Cells        []VisitCell
}

// SQLite fetches from a journal (a device's, or a fleet's imports).
type SQLite struct{ DB *sql.DB }

// Devices lists the journal's devices.
func (s SQLite) Devices(ctx context.Context) ([]DeviceInfo, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, hostname, demo FROM device ORDER BY hostname, id`)
	if err != nil {
		return nil, fmt.Errorf("report: devices: %w", err)
	}
	defer rows.Close()
	var out []DeviceInfo
	for rows.Next() {
		var d DeviceInfo
		if err := rows.Scan(&d.ID, &d.Hostname, &d.Demo); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Fetch groups each breakdown in SQL, in parallel: a fleet's year is
// millions of roll-up rows, too many to scan one by one through the
// driver. Areas and visits over the whole fleet come from the month
// roll-ups for the whole months of the period that are up to date, and
// from the days for the rest.
func (s SQLite) Fetch(ctx context.Context, f Filter) (*Data, error) {
	var p *plan
	if len(f.Devices) == 0 {
		var err error
		if p, err = planMonths(ctx, s.DB, f); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
	}
	return fetch(ctx, s.DB, f, SQLiteDialect, p)
}

// Dialect is how a database spells what SQL leaves open.
type Dialect struct {
	// Concat aggregates text joined by commas.
	Concat func(col string) string
	// Param is the n-th placeholder (from 1).
	Param func(n int) string
	// Sum sums integers, as an integer.
	Sum func(col string) string
}

// SQLiteDialect is SQLite's.
var SQLiteDialect = Dialect{
	Concat: func(col string) string { return "group_concat(" + col + ")" },
	Param:  func(int) string { return "?" },
	Sum:    func(col string) string { return "SUM(" + col + ")" },
}

// PostgresDialect is PostgreSQL's.
var PostgresDialect = Dialect{
	Concat: func(col string) string { return "string_agg(" + col + ", ',')" },
	Param:  func(n int) string { return fmt.Sprintf("$%d", n) },
	Sum:    func(col string) string { return "SUM(" + col + ")::bigint" },
}

// FetchDays reads a report's figures from the day roll-ups alone (the
// fleet server's way for a few devices, where its fleet-wide
// pre-aggregates do not apply).
func FetchDays(ctx context.Context, db *sql.DB, f Filter, d Dialect) (*Data, error) {
	return fetch(ctx, db, f, d, nil)
}

// plan says where the area and visit figures of a period are read: the
// month roll-ups of these months, and the days of these ranges.
type plan struct {
	months []string
	days   [][2]int64
}

// planMonths splits a period into whole, up-to-date months and the days
// left over (the period's ragged ends, and months changed since their
// roll-up was built).
func planMonths(ctx context.Context, db *sql.DB, f Filter) (*plan, error) {
	var first, last sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MIN(d), MAX(d) FROM (SELECT MIN(day) AS d FROM day_area UNION ALL SELECT MAX(day) FROM day_area
		UNION ALL SELECT MIN(day) FROM day_visit UNION ALL SELECT MAX(day) FROM day_visit)`).Scan(&first, &last); err != nil {
		return nil, err
	}
	p := &plan{}
	if !first.Valid {
		return p, nil
	}
	lo, hi := max(f.DayLo, first.Int64), min(f.DayHi, last.Int64)
	if lo > hi {
		return p, nil
	}
	stale := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT month FROM month_stale`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return nil, err
		}
		stale[m] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for day := lo; day <= hi; {
		m := journal.MonthOf(day)
		mlo, mhi, _ := journal.MonthDays(m)
		if mlo >= f.DayLo && mhi <= f.DayHi && !stale[m] {
			p.months = append(p.months, m)
		} else {
			a, b := max(mlo, lo), min(mhi, hi)
			if n := len(p.days); n > 0 && p.days[n-1][1] == a-1 {
				p.days[n-1][1] = b
			} else {
				p.days = append(p.days, [2]int64{a, b})
			}
		}
		day = mhi + 1
	}
	return p, nil
}

// fetch runs the queries of a report; agg is the dialect's string
// aggregate (SQLite's group_concat, PostgreSQL's string_agg with a
// separator), ph its n-th placeholder, and p, when set, where the area
// and visit figures come from.
func fetch(ctx context.Context, db *sql.DB, f Filter, dialect Dialect, p *plan) (*Data, error) {
	ph := dialect.Param
	args := []any{f.DayLo, f.DayHi}
	where := " WHERE day BETWEEN " + ph(1) + " AND " + ph(2)
	if len(f.Devices) > 0 {
		var in []string
		for i, d := range f.Devices {
			in = append(in, ph(3+i))
			args = append(args, d)
		}
		where += " AND device_id IN (" + strings.Join(in, ", ") + ")"
	}
	concat := dialect.Concat
	sum := func(cols ...string) string {
		var out []string
		for _, c := range cols {
			if c == "0" {
				out = append(out, "0")
				continue
			}
			out = append(out, dialect.Sum(c))
		}
		return strings.Join(out, ", ")
	}
	times := []string{"connected_ms", "green_ms", "amber_ms", "red_ms", "usable_ms", "in_use_ms", "workable_ms"}
	sums := sum(append([]string{"sessions"}, times...)...)
	areaSums := sum(append([]string{"0"}, times...)...)
	d := &Data{}
	var mu sync.Mutex
	scanTimes := func(t *Times) []any {
		return []any{&t.Sessions, &t.Connected, &t.Green, &t.Amber, &t.Red, &t.Usable, &t.InUse, &t.Workable}
	}
	type query struct {
		sql  string
		scan func(*sql.Rows) error
	}
	queries := []query{
		{`SELECT kind, network, MAX(mcc), MAX(mnc), ` + sums + `, ` + concat("h_connect") + `, ` + concat("h_signal") + `, ` +
			concat("h_sinr") + ` FROM day_net` + where + ` GROUP BY kind, network`, func(rows *sql.Rows) error {
			var x NetSum
			var hc, hs, hn sql.NullString
			if err := rows.Scan(append(append([]any{&x.Kind, &x.Network, &x.MCC, &x.MNC}, scanTimes(&x.Times)...), &hc, &hs, &hn)...); err != nil {
				return err
			}
			x.HConnect, x.HSignal, x.HSINR = journal.ParseHist(hc.String), journal.ParseHist(hs.String), journal.ParseHist(hn.String)
			mu.Lock()
			d.Nets = append(d.Nets, x)
			mu.Unlock()
			return nil
		}},
		{`SELECT device_id, ` + sums + ` FROM day_net` + where + ` GROUP BY device_id`, func(rows *sql.Rows) error {
			var x KeySum
			if err := rows.Scan(append([]any{&x.Device}, scanTimes(&x.Times)...)...); err != nil {
				return err
			}
			mu.Lock()
			d.DeviceTimes = append(d.DeviceTimes, x)
			mu.Unlock()
			return nil
		}},
		{`SELECT day, ` + sums + ` FROM day_net` + where + ` GROUP BY day`, func(rows *sql.Rows) error {
			var x KeySum
			if err := rows.Scan(append([]any{&x.Day}, scanTimes(&x.Times)...)...); err != nil {
				return err
			}
			mu.Lock()
			d.DayTimes = append(d.DayTimes, x)
			mu.Unlock()
			return nil
		}},

		{`SELECT device_id, 0, ` + sum("failovers") + `, ` + concat("h_visit") + ` FROM day_device` + where + ` GROUP BY device_id`, nil},
		{`SELECT '', day, ` + sum("failovers") + `, ` + concat("h_visit") + ` FROM day_device` + where + ` GROUP BY day`, nil},
	}
	scanArea := func(rows *sql.Rows) error {
		var x AreaSum
		var hs sql.NullString
		if err := rows.Scan(append(append([]any{&x.Kind, &x.Network, &x.Area, &x.AreaName}, scanTimes(&x.Times)...), &hs)...); err != nil {
			return err
		}
		x.HSignal = journal.ParseHist(hs.String)
		mu.Lock()
		d.Areas = append(d.Areas, x)
		mu.Unlock()
		return nil
	}
	scanCell := func(rows *sql.Rows) error {
		var x VisitCell
		var hs sql.NullString
		if err := rows.Scan(&x.Kind, &x.Network, &x.Area, &x.MCC, &x.MNC, &x.AreaName, &x.Visits, &hs); err != nil {
			return err
		}
		x.H = journal.ParseHist(hs.String)
		mu.Lock()
		d.Cells = append(d.Cells, x)
		mu.Unlock()
		return nil
	}
	areaCols := `kind, network, area, MAX(area_name), ` + areaSums
	cellCols := `kind, network, area, MAX(mcc), MAX(mnc), MAX(area_name), ` + sum("visits") + `, `
	type extra struct {
		sql  string
		args []any
		scan func(*sql.Rows) error
	}
	var extras []extra
	if p == nil {
		extras = append(extras,
			extra{`SELECT ` + areaCols + `, ` + concat("h_signal") + ` FROM day_area` + where + ` GROUP BY kind, network, area`, args, scanArea},
			extra{`SELECT ` + cellCols + concat("h_share") + ` FROM day_visit` + where + ` GROUP BY kind, network, area`, args, scanCell})
	} else {
		if len(p.months) > 0 {
			var in []string
			var margs []any
			for i, m := range p.months {
				in = append(in, ph(i+1))
				margs = append(margs, m)
			}
			mwhere := ` WHERE month IN (` + strings.Join(in, ", ") + `)`
			extras = append(extras,
				extra{`SELECT ` + areaCols + `, ` + concat("h_signal") + ` FROM month_area` + mwhere + ` GROUP BY kind, network, area`, margs, scanArea},
				extra{`SELECT ` + cellCols + concat("h_share") + ` FROM month_visit` + mwhere + ` GROUP BY kind, network, area`, margs, scanCell})
		}
		if len(p.days) > 0 {
			var ors []string
			var dargs []any
			for i, r := range p.days {
				ors = append(ors, "day BETWEEN "+ph(2*i+1)+" AND "+ph(2*i+2))
				dargs = append(dargs, r[0], r[1])
			}
			dwhere := ` WHERE ` + strings.Join(ors, " OR ")
			extras = append(extras,
				extra{`SELECT ` + areaCols + `, ` + concat("h_signal") + ` FROM day_area` + dwhere + ` GROUP BY kind, network, area`, dargs, scanArea},
				extra{`SELECT ` + cellCols + concat("h_share") + ` FROM day_visit` + dwhere + ` GROUP BY kind, network, area`, dargs, scanCell})
		}
	}
	for i := range queries {
		if queries[i].scan != nil {
			continue
		}
		byDevice := strings.HasSuffix(queries[i].sql, "GROUP BY device_id")
		queries[i].scan = func(rows *sql.Rows) error {
			var x VisitSum
			var hv sql.NullString
			if err := rows.Scan(&x.Device, &x.Day, &x.Failovers, &hv); err != nil {
				return err
			}
			x.H = journal.ParseHist(hv.String)
			mu.Lock()
			if byDevice {
				d.DeviceVisits = append(d.DeviceVisits, x)
			} else {
				d.DayVisits = append(d.DayVisits, x)
			}
			mu.Unlock()
			return nil
		}
	}
	type job struct {
		sql  string
		args []any
		scan func(*sql.Rows) error
	}
	var jobs []job
	for _, q := range queries {
		jobs = append(jobs, job{q.sql, args, q.scan})
	}
	for _, x := range extras {
		jobs = append(jobs, job(x))
	}
	errs := make(chan error, len(jobs))
	for _, q := range jobs {
		go func() {
			rows, err := db.QueryContext(ctx, q.sql, q.args...)
			if err != nil {
				errs <- err
				return
			}
			defer rows.Close()
			for rows.Next() {
				if err := q.scan(rows); err != nil {
					errs <- err
					return
				}
			}
			errs <- rows.Err()
		}()
	}
	var first error
	for range jobs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, fmt.Errorf("report: %w", first)
	}
	return d, nil
}
