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
	// HTech is the connected time by radio generation (milliseconds in
	// bins 2 to 5: 2G to 5G).
	HTech journal.Hist
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

// fetch runs the queries of a report in the dialect's SQL: the figures per
// network, device and day from the day roll-ups of the filter's days and
// devices, and the area and visit figures from where p says (the days
// alone when p is nil).
func fetch(ctx context.Context, db *sql.DB, f Filter, dialect Dialect, p *plan) (*Data, error) {
	sq := sqlOf(dialect)
	c := &gather{d: &Data{}}
	where, args := sq.dayWhere(f)
	jobs := c.dayJobs(sq, where, args)
	if p == nil {
		jobs = append(jobs, c.areaJobs(sq, where, args)...)
	} else {
		jobs = append(jobs, c.planJobs(sq, p)...)
	}
	if err := runJobs(ctx, db, jobs); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return c.d, nil
}

// dialectSQL writes the report's recurring SQL in one dialect.
type dialectSQL struct{ Dialect }

func sqlOf(d Dialect) dialectSQL { return dialectSQL{d} }

var timeCols = []string{"connected_ms", "green_ms", "amber_ms", "red_ms", "usable_ms", "in_use_ms", "workable_ms"}

// sum sums each column ("0" stays a constant zero).
func (q dialectSQL) sum(cols ...string) string {
	var out []string
	for _, c := range cols {
		if c == "0" {
			out = append(out, "0")
			continue
		}
		out = append(out, q.Sum(c))
	}
	return strings.Join(out, ", ")
}

// sessionSums are the sessions and times of a group; areaSums the same
// where the table has no sessions.
func (q dialectSQL) sessionSums() string { return q.sum(append([]string{"sessions"}, timeCols...)...) }
func (q dialectSQL) areaCols() string {
	return `kind, network, area, MAX(area_name), ` + q.sum(append([]string{"0"}, timeCols...)...)
}
func (q dialectSQL) cellCols() string {
	return `kind, network, area, MAX(mcc), MAX(mnc), MAX(area_name), ` + q.sum("visits") + `, `
}

// dayWhere selects the filter's days and devices.
func (q dialectSQL) dayWhere(f Filter) (string, []any) {
	args := []any{f.DayLo, f.DayHi}
	where := " WHERE day BETWEEN " + q.Param(1) + " AND " + q.Param(2)
	if len(f.Devices) > 0 {
		var in []string
		for i, d := range f.Devices {
			in = append(in, q.Param(3+i))
			args = append(args, d)
		}
		where += " AND device_id IN (" + strings.Join(in, ", ") + ")"
	}
	return where, args
}

// job is one SELECT and how each of its rows is kept.
type job struct {
	sql  string
	args []any
	scan func(*sql.Rows) error
}

// gather collects the rows of jobs that run at once into one Data.
type gather struct {
	mu sync.Mutex
	d  *Data
}

func keepRow[T any](c *gather, into *[]T, x T) {
	c.mu.Lock()
	*into = append(*into, x)
	c.mu.Unlock()
}

func scanTimes(t *Times) []any {
	return []any{&t.Sessions, &t.Connected, &t.Green, &t.Amber, &t.Red, &t.Usable, &t.InUse, &t.Workable}
}

// dayJobs read the day roll-ups: per network, per device and per day, and
// the visits per device and per day.
func (c *gather) dayJobs(q dialectSQL, where string, args []any) []job {
	sums := q.sessionSums()
	return []job{
		{`SELECT kind, network, MAX(mcc), MAX(mnc), ` + sums + `, ` + q.Concat("h_connect") + `, ` + q.Concat("h_signal") + `, ` +
			q.Concat("h_sinr") + ` FROM day_net` + where + ` GROUP BY kind, network`, args, c.netRow},
		{`SELECT device_id, ` + sums + ` FROM day_net` + where + ` GROUP BY device_id`, args, c.keyRow(false, &c.d.DeviceTimes)},
		{`SELECT day, ` + sums + ` FROM day_net` + where + ` GROUP BY day`, args, c.keyRow(true, &c.d.DayTimes)},
		{`SELECT device_id, 0, ` + q.sum("failovers") + `, ` + q.Concat("h_visit") + ` FROM day_device` + where + ` GROUP BY device_id`,
			args, c.visitRow(&c.d.DeviceVisits)},
		{`SELECT '', day, ` + q.sum("failovers") + `, ` + q.Concat("h_visit") + ` FROM day_device` + where + ` GROUP BY day`,
			args, c.visitRow(&c.d.DayVisits)},
	}
}

// areaJobs read the area and visit figures of a where clause's days from
// one pair of tables (day_area and day_visit, or the month ones).
func (c *gather) areaJobs(q dialectSQL, where string, args []any, tables ...string) []job {
	area, visit := "day_area", "day_visit"
	if len(tables) == 2 {
		area, visit = tables[0], tables[1]
	}
	return []job{
		{`SELECT ` + q.areaCols() + `, ` + q.Concat("h_signal") + `, ` + q.Concat("h_tech") + ` FROM ` + area + where +
			` GROUP BY kind, network, area`, args, c.areaRow},
		{`SELECT ` + q.cellCols() + q.Concat("h_share") + ` FROM ` + visit + where + ` GROUP BY kind, network, area`, args, c.cellRow},
	}
}

// planJobs read the area and visit figures where the plan says: the month
// roll-ups of its months, the days of its ranges.
func (c *gather) planJobs(q dialectSQL, p *plan) []job {
	var jobs []job
	if len(p.months) > 0 {
		var in []string
		var args []any
		for i, m := range p.months {
			in = append(in, q.Param(i+1))
			args = append(args, m)
		}
		jobs = append(jobs, c.areaJobs(q, ` WHERE month IN (`+strings.Join(in, ", ")+`)`, args, "month_area", "month_visit")...)
	}
	if len(p.days) > 0 {
		var ors []string
		var args []any
		for i, r := range p.days {
			ors = append(ors, "day BETWEEN "+q.Param(2*i+1)+" AND "+q.Param(2*i+2))
			args = append(args, r[0], r[1])
		}
		jobs = append(jobs, c.areaJobs(q, ` WHERE `+strings.Join(ors, " OR "), args)...)
	}
	return jobs
}

func (c *gather) netRow(rows *sql.Rows) error {
	var x NetSum
	var hc, hs, hn sql.NullString
	if err := rows.Scan(append(append([]any{&x.Kind, &x.Network, &x.MCC, &x.MNC}, scanTimes(&x.Times)...), &hc, &hs, &hn)...); err != nil {
		return err
	}
	x.HConnect, x.HSignal, x.HSINR = journal.ParseHist(hc.String), journal.ParseHist(hs.String), journal.ParseHist(hn.String)
	keepRow(c, &c.d.Nets, x)
	return nil
}

func (c *gather) keyRow(byDay bool, into *[]KeySum) func(*sql.Rows) error {
	return func(rows *sql.Rows) error {
		var x KeySum
		key := any(&x.Device)
		if byDay {
			key = &x.Day
		}
		if err := rows.Scan(append([]any{key}, scanTimes(&x.Times)...)...); err != nil {
			return err
		}
		keepRow(c, into, x)
		return nil
	}
}

func (c *gather) visitRow(into *[]VisitSum) func(*sql.Rows) error {
	return func(rows *sql.Rows) error {
		var x VisitSum
		var hv sql.NullString
		if err := rows.Scan(&x.Device, &x.Day, &x.Failovers, &hv); err != nil {
			return err
		}
		x.H = journal.ParseHist(hv.String)
		keepRow(c, into, x)
		return nil
	}
}

func (c *gather) areaRow(rows *sql.Rows) error {
	var x AreaSum
	var hs, ht sql.NullString
	if err := rows.Scan(append(append([]any{&x.Kind, &x.Network, &x.Area, &x.AreaName}, scanTimes(&x.Times)...), &hs, &ht)...); err != nil {
		return err
	}
	x.HSignal, x.HTech = journal.ParseHist(hs.String), journal.ParseHist(ht.String)
	keepRow(c, &c.d.Areas, x)
	return nil
}

func (c *gather) cellRow(rows *sql.Rows) error {
	var x VisitCell
	var hs sql.NullString
	if err := rows.Scan(&x.Kind, &x.Network, &x.Area, &x.MCC, &x.MNC, &x.AreaName, &x.Visits, &hs); err != nil {
		return err
	}
	x.H = journal.ParseHist(hs.String)
	keepRow(c, &c.d.Cells, x)
	return nil
}

// runJobs runs the jobs at once and returns the first error: a fleet's
// year is millions of roll-up rows, and each grouping is its own scan.
func runJobs(ctx context.Context, db *sql.DB, jobs []job) error {
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
	return first
}
