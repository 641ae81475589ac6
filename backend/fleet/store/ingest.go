package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fieldlink/fieldlink/backend/journal"
)

// IngestError is an upload refused: Status is the HTTP status that says
// why (400 a bad record, 403 another device's, 409 a device enrolled
// twice), Line the record's line where one is to blame.
type IngestError struct {
	Status int
	File   string
	Line   int
	Err    error
}

func (e *IngestError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *IngestError) Unwrap() error { return e.Err }

// Stats counts an upload's records by type.
type Stats map[string]int64

// String is "3 session, 2 day_net, …" in a fixed order.
func (s Stats) String() string {
	var parts []string
	for _, t := range journal.RecordTypes() {
		if n := s[t]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, t))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// columns renames export fields to the fleet's columns.
var rename = map[string]map[string]string{
	"device":  {"device_id": "id"},
	"session": {"session_uuid": "uuid"},
	"visit":   {"visit_uuid": "uuid"},
}

// keys are each table's conflict target.
var keys = map[string][]string{
	"device":     {"id"},
	"session":    {"device_id", "uuid"},
	"event":      {"device_id", "seq"},
	"visit":      {"device_id", "uuid"},
	"visit_net":  {"device_id", "visit_uuid", "kind", "network", "area"},
	"day_net":    {"day", "device_id", "kind", "network"},
	"day_area":   {"day", "device_id", "kind", "network", "area"},
	"day_visit":  {"day", "device_id", "kind", "network", "area"},
	"day_device": {"day", "device_id"},
}

type upsert struct {
	sql    string
	fields []string
}

var upserts = func() map[string]upsert {
	out := map[string]upsert{}
	for t, key := range keys {
		fields := journal.RecordFields(t)
		var cols, ph, set []string
		isKey := map[string]bool{}
		for _, k := range key {
			isKey[k] = true
		}
		for i, f := range fields {
			c := f
			if r, ok := rename[t][f]; ok {
				c = r
			}
			cols = append(cols, c)
			ph = append(ph, fmt.Sprintf("$%d", i+1))
			if !isKey[c] {
				set = append(set, c+" = EXCLUDED."+c)
			}
		}
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO ", t, strings.Join(cols, ", "), strings.Join(ph, ", "), strings.Join(key, ", "))
		// An event never changes; everything else is replaced by its
		// newer copy (today's roll-ups are sent until the day closes).
		if t == "event" || len(set) == 0 {
			q += "NOTHING"
		} else {
			q += "UPDATE SET " + strings.Join(set, ", ")
		}
		out[t] = upsert{sql: q, fields: fields}
	}
	return out
}()

// dayNumber reads an export's "YYYY-MM-DD" as a UTC day number.
func dayNumber(s string) (int64, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, err
	}
	return t.Unix() / 86400, nil
}

// Ingest stores one upload (an NDJSON export) for the device an
// enrollment is for, in one transaction: all of it or, with the line to
// blame, none of it. Records already there (by key) are replaced, so a
// batch sent twice leaves one copy. A token not yet bound binds to the
// device of its first upload; every record must be that device's.
func (s *Store) Ingest(ctx context.Context, e Enrollment, r io.Reader, name string) (Stats, []string, error) {
	var recs []journal.Record
	dev := e.Device
	warnings, err := journal.DecodeExport(r, name, func(rec journal.Record) error {
		if rec.Type == "sample" {
			return errors.New("sample records stay on the device: the fleet takes roll-ups, sessions, visits and events")
		}
		id, _ := rec.Fields["device_id"].(string)
		if dev == "" {
			dev = id
		}
		if id != dev {
			return &IngestError{Status: 403, Err: fmt.Errorf("a record of device %s, but this token writes device %s's only", id, dev)}
		}
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		var ie *journal.ImportError
		var own *IngestError
		if errors.As(err, &own) && errors.As(err, &ie) {
			return nil, nil, &IngestError{Status: own.Status, File: ie.File, Line: ie.Line, Err: own.Err}
		}
		if errors.As(err, &ie) {
			return nil, nil, &IngestError{Status: 400, File: ie.File, Line: ie.Line, Err: ie.Err}
		}
		return nil, nil, &IngestError{Status: 400, File: name, Err: err}
	}
	if len(recs) == 0 {
		return Stats{}, warnings, nil
	}
	stats, err := s.store(ctx, e, dev, recs, name)
	return stats, warnings, err
}

// store writes an upload's records in one transaction. One upload of a
// device at a time: two at once (a retry overtaking a slow first try)
// take turns rather than deadlock. The daily case sends the lock, the
// records and the bookkeeping as one batch: round trips are most of an
// upload's time.
func (s *Store) store(ctx context.Context, e Enrollment, dev string, recs []journal.Record, name string) (Stats, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	batch := &pgx.Batch{}
	if e.Device == "" {
		if err := bindToken(ctx, tx, e, dev, name); err != nil {
			return nil, err
		}
	} else {
		batch.Queue(lockDevice, dev)
	}
	w := &upload{s: s, seen: map[string]bool{}, staleDays: map[int64]bool{}, staleMonths: map[string]bool{}, stats: Stats{}}
	if err := w.queueRecords(ctx, tx, batch, recs, name); err != nil {
		return nil, err
	}
	after := w.bookkeeping(dev, e.hash)
	for _, q := range after {
		batch.Queue(q.sql, q.args...)
	}
	if err := readBatch(ctx, tx.SendBatch(ctx, batch), e.Device != "", recs, len(after), name); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	for _, p := range w.parts {
		s.parts.Store(p, true)
	}
	return w.stats, nil
}

const lockDevice = `SELECT pg_advisory_xact_lock(hashtext($1))`

// bindToken binds a new token to the device of its first upload, under
// the device's lock: 409 when the device already has another token, 403
// when a racing upload bound the token to another device.
func bindToken(ctx context.Context, tx pgx.Tx, e Enrollment, dev, name string) error {
	if _, err := tx.Exec(ctx, lockDevice, dev); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `UPDATE enrollment SET device_id = $1 WHERE token_hash = $2 AND device_id IS NULL`, dev, e.hash)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return &IngestError{Status: 409, File: name, Err: fmt.Errorf("device %s is already enrolled with another token", dev)}
	}
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		// Another upload bound the token meanwhile: to this device?
		var bound string
		if err := tx.QueryRow(ctx, `SELECT device_id FROM enrollment WHERE token_hash = $1`, e.hash).Scan(&bound); err != nil || bound != dev {
			return &IngestError{Status: 403, File: name, Err: fmt.Errorf("this token writes device %s's records only", bound)}
		}
	}
	return nil
}

// upload is what one upload's records touch: the partitions it made sure
// of, and the days and months whose pre-aggregates it made stale.
type upload struct {
	s           *Store
	parts       []string
	seen        map[string]bool
	staleDays   map[int64]bool
	staleMonths map[string]bool
	stats       Stats
}

// queueRecords queues each record's upsert; a day record's day becomes a
// day number, and its month's partition is made sure of first.
func (w *upload) queueRecords(ctx context.Context, tx pgx.Tx, batch *pgx.Batch, recs []journal.Record, name string) error {
	for _, rec := range recs {
		u, ok := upserts[rec.Type]
		if !ok {
			continue
		}
		args := make([]any, len(u.fields))
		for i, f := range u.fields {
			args[i] = rec.Fields[f]
		}
		if strings.HasPrefix(rec.Type, "day_") {
			day, err := dayNumber(rec.Fields["day"].(string))
			if err != nil {
				return &IngestError{Status: 400, File: name, Line: rec.Line, Err: fmt.Errorf("day %v: %v", rec.Fields["day"], err)}
			}
			for i, f := range u.fields {
				if f == "day" {
					args[i] = day
				}
			}
			part, err := w.s.partition(ctx, tx, rec.Type, day, w.seen)
			if err != nil {
				return err
			}
			if part != "" {
				w.parts = append(w.parts, part)
			}
			w.staleDays[day] = true
			w.staleMonths[journal.MonthOf(day)] = true
		}
		batch.Queue(u.sql, args...)
		w.stats[rec.Type]++
	}
	return nil
}

type statement struct {
	sql  string
	args []any
}

// bookkeeping marks the touched days and months stale for the refresher
// and notes the token's last use.
func (w *upload) bookkeeping(dev string, tokenHash []byte) []statement {
	var days []int64
	for d := range w.staleDays {
		days = append(days, d)
	}
	var months []string
	for m := range w.staleMonths {
		months = append(months, m)
	}
	return []statement{
		{`INSERT INTO stale_day SELECT unnest($1::int[]) ON CONFLICT DO NOTHING`, []any{days}},
		{`INSERT INTO stale_month SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, []any{months}},
		{`INSERT INTO stale_device_month SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING`, []any{months, dev}},
		{`UPDATE enrollment SET last_upload = now() WHERE token_hash = $1`, []any{tokenHash}},
	}
}

// readBatch reads the batch's results in the order they were queued (the
// lock, the records, the bookkeeping), blaming a refused record's line.
func readBatch(ctx context.Context, res pgx.BatchResults, locked bool, recs []journal.Record, after int, name string) error {
	defer res.Close()
	if locked {
		if _, err := res.Exec(); err != nil {
			return err
		}
	}
	for _, rec := range recs {
		if _, ok := upserts[rec.Type]; !ok {
			continue
		}
		if _, err := res.Exec(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &IngestError{Status: 400, File: name, Line: rec.Line, Err: fmt.Errorf("%s record: %v", rec.Type, err)}
		}
	}
	for range after {
		if _, err := res.Exec(); err != nil {
			return err
		}
	}
	return res.Close()
}

// partition makes sure the month's partition of a day table exists, and
// returns its name when this transaction made sure of it (known to exist
// once it commits).
func (s *Store) partition(ctx context.Context, tx pgx.Tx, table string, day int64, seen map[string]bool) (string, error) {
	month := journal.MonthOf(day)
	name := table + "_" + strings.ReplaceAll(month, "-", "_")
	if _, ok := s.parts.Load(name); ok || seen[name] {
		return "", nil
	}
	seen[name] = true
	lo, hi, err := journal.MonthDays(month)
	if err != nil {
		return "", err
	}
	// Servers creating it at once take turns; IF NOT EXISTS then sees it.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "partition "+name); err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM (%d) TO (%d)`, name, table, lo, hi+1)); err != nil {
		return "", fmt.Errorf("partition %s: %w", name, err)
	}
	return name, nil
}
