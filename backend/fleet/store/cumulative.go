package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/fieldlink/fieldlink/backend/journal"
)

// cumSpec is one table of running totals: per day and key, everything
// the key had up to that day, for every day from its first to the last
// day the fleet has. Any period is then the rows of its last day less
// the rows of the day before its first: two ranges of the primary key,
// whatever the period's ends. A change to a day rewrites its keys' rows
// from that day on.
type cumSpec struct {
	table  string
	keys   []string // key columns (text)
	labels []string // names carried from the newest day (text)
	sums   []string // summed columns (bigint)
	hists  []string // the histograms merged day by day
	// counted are visits counted ahead from the histogram at the store's
	// visit share: "visits" (the first histogram's count), "workable" (at
	// least the share) and "share_bin" (the share).
	counted []string
	// source selects keys, day, labels, sums, hists of the days from $1
	// on (a key may have several rows a day: they are added), ordered by
	// key and day; filter, put in its %[1]s, restricts it to the keys in
	// $2.
	source, filter string
}

var (
	deviceCum = cumSpec{table: "device_cum", keys: []string{"device_id"},
		sums:  []string{"sessions", "connected_ms", "green_ms", "amber_ms", "red_ms", "usable_ms", "in_use_ms", "workable_ms", "failovers"},
		hists: []string{"h_visit"}, counted: []string{"visits", "workable", "share_bin"},
		source: `SELECT device_id, day, SUM(sessions)::bigint, ` + sumTimes + `, 0::bigint, '' FROM day_net WHERE day >= $1 %[1]s
			GROUP BY device_id, day
			UNION ALL SELECT device_id, day, 0, 0, 0, 0, 0, 0, 0, 0, failovers, h_visit FROM day_device WHERE day >= $1 %[1]s
			ORDER BY 1, 2`,
		filter: `AND device_id = ANY($2)`}
	areaCum = cumSpec{table: "area_cum", keys: []string{"kind", "network", "area"}, labels: []string{"area_name"},
		sums:  []string{"connected_ms", "green_ms", "amber_ms", "red_ms", "usable_ms", "in_use_ms", "workable_ms"},
		hists: []string{"h_signal", "h_tech"},
		source: `SELECT kind, network, area, day, area_name, connected_ms, green_ms, amber_ms, red_ms, usable_ms, in_use_ms, workable_ms,
			h_signal, h_tech FROM fleet_day_area WHERE day >= $1 ORDER BY kind, network, area, day`}
	cellCum = cumSpec{table: "cell_cum", keys: []string{"kind", "network", "area"},
		labels: []string{"mcc", "mnc", "area_name"}, sums: []string{"visits"}, hists: []string{"h_share"}, counted: []string{"workable", "share_bin"},
		source: `SELECT kind, network, area, day, mcc, mnc, area_name, visits, h_share FROM fleet_day_visit WHERE day >= $1
			ORDER BY kind, network, area, day`}
)

// noDay is before any day: "from the beginning".
const noDay = -1 << 31

// cursor names the cursor over the spec's source: its own name, since a
// FETCH's columns are remembered by its text.
func (c cumSpec) cursor() string { return c.table + "_source" }

// columns are the table's columns as a row is written.
func (c cumSpec) columns() []string {
	cols := append(append([]string{"day"}, c.keys...), "days")
	cols = append(append(append(cols, c.labels...), c.sums...), c.counted...)
	return append(cols, c.hists...)
}

// running is one key's totals as its days are added.
type running struct {
	key     []string
	days    int64 // days with something
	labels  []string
	sums    []int64
	h       []journal.Hist
	hs      []string // h as text, "" when it changed since
	next    int32    // the next day to write
	pending bool     // the day before next... is being added to
	day     int32    // the day being added to, while pending
	started bool     // has totals (a base, or a day added)
	touched bool     // seen in the source
}

// segment is a key's totals written for the days d0 to d1.
type segment struct {
	row    []any // the row less its day
	d0, d1 int32
}

// rebuild rewrites the spec's rows from day from to day to: of the keys
// in only (nil: every key), from their totals the day before and the
// source's days. bin is the visit share counted ahead. It returns the
// rows written.
func (c cumSpec) rebuild(ctx context.Context, tx pgx.Tx, from, to int32, only []string, bin int) (int, error) {
	keyWhere, args := "", []any{from}
	if only != nil {
		keyWhere, args = " AND "+c.keys[0]+" = ANY($2)", append(args, only)
	}
	state, err := c.bases(ctx, tx, from, keyWhere, args)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+c.table+` WHERE day >= $1`+keyWhere, args...); err != nil {
		return 0, err
	}
	src := c.source
	if strings.Contains(src, "%[1]s") {
		filter := ""
		if only != nil {
			filter = c.filter
		}
		src = fmt.Sprintf(src, filter)
	}
	if _, err := tx.Exec(ctx, `DECLARE `+c.cursor()+` NO SCROLL CURSOR FOR `+src, args...); err != nil {
		return 0, err
	}
	w := &cumWriter{spec: c, bin: bin, to: to, state: state}
	for {
		n, err := w.fetch(ctx, tx)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			break
		}
		if err := w.flush(ctx, tx); err != nil {
			return 0, err
		}
	}
	if _, err := tx.Exec(ctx, `CLOSE `+c.cursor()); err != nil {
		return 0, err
	}
	// The keys with nothing new carry their totals to the last day.
	w.end(w.cur)
	for _, r := range state {
		if !r.touched {
			w.end(r)
		}
		if len(w.out) >= cursorBatch {
			if err := w.flush(ctx, tx); err != nil {
				return 0, err
			}
		}
	}
	if err := w.flush(ctx, tx); err != nil {
		return 0, err
	}
	if from == noDay {
		// Written key by key, read day by day: a whole rewrite is put in
		// the order it is read (later days are appended in it anyway).
		for _, q := range []string{`CLUSTER ` + c.table + ` USING ` + c.table + `_pkey`, `ANALYZE ` + c.table} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return 0, err
			}
		}
	}
	return w.written, nil
}

// bases reads the totals of the day before from (of only's keys).
func (c cumSpec) bases(ctx context.Context, tx pgx.Tx, from int32, keyWhere string, args []any) (map[string]*running, error) {
	state := map[string]*running{}
	if from == noDay {
		return state, nil
	}
	cols := append(append(append(append(append([]string{}, c.keys...), "days"), c.labels...), c.sums...), c.hists...)
	rows, err := tx.Query(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+c.table+` WHERE day = $1 - 1`+keyWhere, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		r := c.newRunning(nil)
		hists := make([]string, len(c.hists))
		if err := rows.Scan(r.dest(hists)...); err != nil {
			return nil, err
		}
		for i, h := range hists {
			r.h[i].Add(h)
		}
		r.next, r.started = from, true
		state[strings.Join(r.key, "\x00")] = r
	}
	return state, rows.Err()
}

func (c cumSpec) newRunning(key []string) *running {
	r := &running{key: make([]string, len(c.keys)), labels: make([]string, len(c.labels)), sums: make([]int64, len(c.sums)),
		h: make([]journal.Hist, len(c.hists)), hs: make([]string, len(c.hists))}
	for i := range r.h {
		r.h[i] = journal.Hist{}
	}
	copy(r.key, key)
	return r
}

// dest are where a row of keys, days, labels, sums and hists is scanned.
func (r *running) dest(hists []string) []any {
	d := make([]any, 0, len(r.key)+1+len(r.labels)+len(r.sums)+1)
	for i := range r.key {
		d = append(d, &r.key[i])
	}
	d = append(d, &r.days)
	for i := range r.labels {
		d = append(d, &r.labels[i])
	}
	for i := range r.sums {
		d = append(d, &r.sums[i])
	}
	for i := range hists {
		d = append(d, &hists[i])
	}
	return d
}

// cumWriter adds the source's days to the running totals, a batch of the
// cursor at a time, and writes every key's totals for every day.
type cumWriter struct {
	spec    cumSpec
	bin     int
	to      int32
	state   map[string]*running
	cur     *running // the key being added to
	out     []segment
	written int
}

// cursorBatch is how many source rows are held at once.
const cursorBatch = 20000

// fetch reads the cursor's next batch into the totals; 0 at its end.
func (w *cumWriter) fetch(ctx context.Context, tx pgx.Tx) (int, error) {
	c := w.spec
	rows, err := tx.Query(ctx, fmt.Sprintf(`FETCH %d FROM %s`, cursorBatch, c.cursor()))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	key := make([]string, len(c.keys))
	labels := make([]string, len(c.labels))
	sums := make([]int64, len(c.sums))
	var day int32
	hists := make([]string, len(c.hists))
	dest := make([]any, 0, len(key)+1+len(labels)+len(sums)+len(hists))
	for i := range key {
		dest = append(dest, &key[i])
	}
	dest = append(dest, &day)
	for i := range labels {
		dest = append(dest, &labels[i])
	}
	for i := range sums {
		dest = append(dest, &sums[i])
	}
	for i := range hists {
		dest = append(dest, &hists[i])
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return 0, err
		}
		n++
		w.add(key, day, labels, sums, hists)
	}
	return n, rows.Err()
}

// add adds one source row to its key's totals, writing the days before it
// (the day being added to, the days carried since).
func (w *cumWriter) add(key []string, day int32, labels []string, sums []int64, hists []string) {
	if day > w.to {
		return // a day not summed for the fleet yet: the next refresh's
	}
	k := strings.Join(key, "\x00")
	r := w.state[k]
	if r == nil {
		r = w.spec.newRunning(key)
		w.state[k] = r
	}
	if w.cur != r {
		w.end(w.cur)
		w.cur = r
	}
	r.touched = true
	if r.pending && r.day != day {
		w.write(r, r.day, r.day)
		r.next, r.pending = r.day+1, false
	}
	if !r.pending {
		if r.started && r.next < day {
			w.write(r, r.next, day-1)
		}
		r.pending, r.day, r.started, r.days = true, day, true, r.days+1
	}
	for i, l := range labels {
		if l != "" {
			r.labels[i] = l
		}
	}
	for i, s := range sums {
		r.sums[i] += s
	}
	for i, h := range hists {
		if h != "" {
			r.h[i].Add(h)
			r.hs[i] = ""
		}
	}
}

// end writes a key's last day added and carries its totals to the end.
func (w *cumWriter) end(r *running) {
	if r == nil || !r.started {
		return
	}
	if r.pending {
		w.write(r, r.day, r.day)
		r.next, r.pending = r.day+1, false
	}
	if r.next <= w.to {
		w.write(r, r.next, w.to)
		r.next = w.to + 1
	}
}

// write queues a key's totals for the days d0 to d1.
func (w *cumWriter) write(r *running, d0, d1 int32) {
	for i, h := range r.h {
		if r.hs[i] == "" {
			r.hs[i] = h.String()
		}
	}
	row := make([]any, 0, len(r.key)+1+len(r.labels)+len(r.sums)+len(w.spec.counted)+1)
	for _, k := range r.key {
		row = append(row, k)
	}
	row = append(row, r.days)
	for _, l := range r.labels {
		row = append(row, l)
	}
	for _, s := range r.sums {
		row = append(row, s)
	}
	for _, col := range w.spec.counted {
		switch col {
		case "visits":
			row = append(row, r.h[0].Count())
		case "workable":
			row = append(row, r.h[0].AtLeast(w.bin))
		case "share_bin":
			row = append(row, int32(w.bin))
		}
	}
	for _, h := range r.hs {
		row = append(row, h)
	}
	w.out = append(w.out, segment{row: row, d0: d0, d1: d1})
}

// flush writes the queued segments, a row a day.
func (w *cumWriter) flush(ctx context.Context, tx pgx.Tx) error {
	if len(w.out) == 0 {
		return nil
	}
	i, day := 0, w.out[0].d0
	next := func() ([]any, error) {
		for i < len(w.out) && day > w.out[i].d1 {
			if i++; i < len(w.out) {
				day = w.out[i].d0
			}
		}
		if i == len(w.out) {
			return nil, nil
		}
		row := append([]any{day}, w.out[i].row...)
		day++
		return row, nil
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{w.spec.table}, w.spec.columns(), pgx.CopyFromFunc(next))
	w.written += int(n)
	w.out = w.out[:0]
	return err
}

// manyDevices is where rewriting every device's running totals from the
// first changed day costs less than a filter of their ids.
var manyDevices = 200

// publishCum brings the running totals up to the fleet's last day: the
// areas' and visits' from the first fleet day summed again, the devices'
// that uploaded from their first changed day, every other device's
// carried on to the new days. A visit share other than the one they were
// counted at rewrites them all. It returns the devices and the rows.
func (s *Store) publishCum(ctx context.Context, tx pgx.Tx) (int, int, error) {
	all, err := s.cumShareChanged(ctx, tx)
	if err != nil {
		return 0, 0, err
	}
	var last, had *int32
	if err := tx.QueryRow(ctx, `SELECT GREATEST((SELECT MAX(day) FROM fleet_day_net), (SELECT MAX(day) FROM fleet_day_device),
		(SELECT MAX(day) FROM fleet_day_area), (SELECT MAX(day) FROM fleet_day_visit)), (SELECT MAX(day) FROM device_cum)`).Scan(&last, &had); err != nil {
		return 0, 0, err
	}
	fleetFrom, err := staleFleetDay(ctx, tx)
	if err != nil {
		return 0, 0, err
	}
	devs, devFrom, err := staleDevices(ctx, tx)
	if err != nil {
		return 0, 0, err
	}
	if last == nil {
		return 0, 0, nil
	}
	switch {
	case all || had == nil:
		fleetFrom, devFrom, devs = noDay, noDay, nil
	case *had > *last:
		// Days went (a device's re-upload emptied them): no totals past the fleet's last day.
		for _, c := range []cumSpec{deviceCum, areaCum, cellCum} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+c.table+` WHERE day > $1`, *last); err != nil {
				return 0, 0, err
			}
		}
	case *had < *last:
		// New days: every key is carried to them, so a period's last day
		// has every key's row.
		fleetFrom, devFrom = min(fleetFrom, *had+1), min(devFrom, *had+1)
	}
	if had == nil {
		had = new(int32)
		*had = noDay
	}
	return s.rewriteCum(ctx, tx, fleetFrom, devFrom, devs, *had, *last)
}

// rewriteCum rewrites the areas' and visits' totals from fleetFrom, the
// devices' in devs (nil: all) from devFrom, and carries every other
// device's from had to last.
func (s *Store) rewriteCum(ctx context.Context, tx pgx.Tx, fleetFrom, devFrom int32, devs []string, had, last int32) (int, int, error) {
	written := 0
	if fleetFrom <= last {
		for _, c := range []cumSpec{areaCum, cellCum} {
			n, err := c.rebuild(ctx, tx, fleetFrom, last, nil, s.shareBin)
			if err != nil {
				return 0, 0, fmt.Errorf("%s: %w", c.table, err)
			}
			written += n
		}
	}
	if devFrom > last {
		return 0, written, nil
	}
	only := devs // a few devices; none or many: every device
	if len(devs) > manyDevices {
		only = nil
	}
	if only != nil && had < last {
		cols := strings.Join(deviceCum.columns()[1:], ", ")
		tag, err := tx.Exec(ctx, `INSERT INTO device_cum (day, `+cols+`) SELECT d, `+cols+` FROM device_cum, generate_series($1::int + 1, $2::int) d
			WHERE day = $1 AND NOT device_id = ANY($3)`, had, last, only)
		if err != nil {
			return 0, 0, fmt.Errorf("device_cum: %w", err)
		}
		written += int(tag.RowsAffected())
	}
	n, err := deviceCum.rebuild(ctx, tx, devFrom, last, only, s.shareBin)
	if err != nil {
		return 0, 0, fmt.Errorf("device_cum: %w", err)
	}
	return len(devs), written + n, nil
}

// cumShareChanged reports whether the totals were counted at another
// visit share than the store's (or never), noting the store's.
func (s *Store) cumShareChanged(ctx context.Context, tx pgx.Tx) (bool, error) {
	var counted *int32
	if err := tx.QueryRow(ctx, `SELECT (SELECT share_bin FROM cum_share)`).Scan(&counted); err != nil {
		return false, err
	}
	_, err := tx.Exec(ctx, `INSERT INTO cum_share (share_bin) VALUES ($1) ON CONFLICT (one) DO UPDATE SET share_bin = EXCLUDED.share_bin`, s.shareBin)
	return counted == nil || int(*counted) != s.shareBin, err
}

// staleFleetDay takes the fleet days' mark: the first day summed again
// since the totals were last rewritten (after every day: none).
func staleFleetDay(ctx context.Context, tx pgx.Tx) (int32, error) {
	var from *int32
	if err := tx.QueryRow(ctx, `DELETE FROM stale_fleet_cum RETURNING day`).Scan(&from); err != nil && err != pgx.ErrNoRows {
		return 0, err
	}
	if from == nil {
		return 1<<31 - 1, nil
	}
	return *from, nil
}

// staleDevices takes the devices' marks: their ids and the first day any
// of them changed (after every day: none).
func staleDevices(ctx context.Context, tx pgx.Tx) ([]string, int32, error) {
	rows, err := tx.Query(ctx, `DELETE FROM stale_device_cum RETURNING device_id, day`)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var devs []string
	first := int32(1<<31 - 1)
	for rows.Next() {
		var d string
		var day int32
		if err := rows.Scan(&d, &day); err != nil {
			return nil, 0, err
		}
		devs, first = append(devs, d), min(first, day)
	}
	return devs, first, rows.Err()
}
