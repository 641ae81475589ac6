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
	// Cause is the database's own words, for the server's log only: they
	// name tables and constraints a client has no business seeing.
	Cause error
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

// Bounds of one upload and of one device's day. An upload is streamed
// into its transaction a batch at a time, so the server's memory is
// bounded by the batch whatever the body; the record caps bound its time
// and the database's growth. A device's month (a first sync's window) is
// some tens of thousands of records.
const (
	ingestBatch = 2000
	// MaxRecords is the most records one upload may hold.
	MaxRecords = 250_000
	// MaxRecordsPerDay is the most records one device may upload in a
	// UTC day, re-sends included.
	MaxRecordsPerDay = 1_000_000
	// DaysBefore and DaysAfter bound a record's day: from DaysBefore
	// before the device's enrolment, or before its journal began if that
	// was earlier (widen), to DaysAfter after now (a device clock running
	// ahead, time zones).
	DaysBefore = 400
	DaysAfter  = 2
	// MaxJournalAge (years) bounds how far before its enrolment a
	// device's journal may say it began.
	MaxJournalAge = 10
)

// Limits are an upload's bounds; tests lower them.
type Limits struct {
	Batch, Records, PerDay int
}

// DefaultLimits are the bounds a server runs with.
var DefaultLimits = Limits{Batch: ingestBatch, Records: MaxRecords, PerDay: MaxRecordsPerDay}

// SetLimits replaces the store's upload bounds (zero fields keep theirs).
func (s *Store) SetLimits(l Limits) {
	if l.Batch > 0 {
		s.limits.Batch = l.Batch
	}
	if l.Records > 0 {
		s.limits.Records = l.Records
	}
	if l.PerDay > 0 {
		s.limits.PerDay = l.PerDay
	}
}

// ErrTooMany is an upload over a record cap: split it (413) or wait for
// tomorrow (429).
type ErrTooMany struct {
	Status int
	Msg    string
}

func (e *ErrTooMany) Error() string { return e.Msg }

// Ingest stores one upload (an NDJSON export) for the device an
// enrollment is for, in one transaction: all of it or, with the line to
// blame, none of it. Records already there (by key) are replaced, so a
// batch sent twice leaves one copy. A token not yet bound binds to the
// device of its first upload; every record must be that device's. The
// records are written as they are read, ingestBatch at a time.
func (s *Store) Ingest(ctx context.Context, e Enrollment, r io.Reader, name string) (Stats, []string, error) {
	in := &ingest{s: s, e: e, dev: e.Device, name: name, lo: e.Created.AddDate(0, 0, -DaysBefore).Unix() / 86400,
		hi: s.now().AddDate(0, 0, DaysAfter).Unix() / 86400,
		w:  &upload{s: s, seen: map[string]bool{}, staleDays: map[int64]bool{}, stats: Stats{}}}
	defer in.rollback(ctx)
	warnings, err := journal.DecodeExport(r, name, func(rec journal.Record) error { return in.add(ctx, rec) })
	if err != nil {
		return nil, nil, ingestError(err, name)
	}
	if in.skipped > maxSkipLines {
		in.warnings = append(in.warnings, fmt.Sprintf("%s: and %d more records skipped for their days", name, in.skipped-maxSkipLines))
	}
	warnings = append(in.warnings, warnings...)
	if in.tx == nil && len(in.recs) == 0 {
		return Stats{}, warnings, nil
	}
	if err := in.flush(ctx, true); err != nil {
		return nil, nil, err
	}
	if err := in.quota(ctx); err != nil {
		return nil, nil, err
	}
	if err := in.tx.Commit(ctx); err != nil {
		return nil, nil, err
	}
	in.tx = nil
	for _, p := range in.w.parts {
		s.parts.Store(p, true)
	}
	return in.w.stats, warnings, nil
}

// ingestError keeps a refusal's status and names the upload and line.
func ingestError(err error, name string) error {
	var ie *journal.ImportError
	var own *IngestError
	var many *ErrTooMany
	switch {
	case errors.As(err, &many):
		return many
	case errors.As(err, &own) && errors.As(err, &ie):
		return &IngestError{Status: own.Status, File: ie.File, Line: ie.Line, Err: own.Err}
	case errors.As(err, &own):
		return own
	case errors.As(err, &ie):
		return &IngestError{Status: 400, File: ie.File, Line: ie.Line, Err: ie.Err}
	}
	return &IngestError{Status: 400, File: name, Err: err}
}

// ingest is one upload being written: its transaction (begun with the
// first batch, when the device is known), the records read since the
// last batch, and what it touched.
type ingest struct {
	s      *Store
	e      Enrollment
	dev    string
	name   string
	lo, hi int64 // the days a record may have
	tx     pgx.Tx
	recs   []journal.Record
	count  int
	w      *upload
	// skipped counts the records outside the window; warnings say which.
	skipped  int
	warnings []string
}

// add checks one record and writes a batch when one is full.
func (in *ingest) add(ctx context.Context, rec journal.Record) error {
	if rec.Type == "sample" {
		return errors.New("sample records stay on the device: the fleet takes roll-ups, sessions, visits and events")
	}
	id, _ := rec.Fields["device_id"].(string)
	if strings.TrimSpace(id) == "" {
		return &IngestError{Status: 400, Err: errors.New("a record without a device_id: every record names its device")}
	}
	if in.dev == "" {
		in.dev = id
	}
	if id != in.dev {
		return &IngestError{Status: 403, Err: fmt.Errorf("a record of device %s, but this token writes device %s's only", id, in.dev)}
	}
	if rec.Type == "device" {
		in.widen(rec)
	}
	if skip, err := in.checkDay(rec); err != nil || skip {
		return err
	}
	if in.count++; in.count > in.s.limits.Records {
		return &ErrTooMany{Status: 413, Msg: fmt.Sprintf("more than %d records in one upload: send it in parts (fieldlink journal sync sends a month at a time)", in.s.limits.Records)}
	}
	in.recs = append(in.recs, rec)
	if len(in.recs) >= in.s.limits.Batch {
		return in.flush(ctx, false)
	}
	return nil
}

// checkDay skips a day roll-up outside the device's window, with a line
// saying so: each new month would make partitions, and no device has
// records from then (a clock set wrong). The rest of the upload is taken,
// so one bad day does not stop a device's sync for good.
func (in *ingest) checkDay(rec journal.Record) (bool, error) {
	ds, ok := rec.Fields["day"].(string)
	if !ok || !strings.HasPrefix(rec.Type, "day_") {
		return false, nil
	}
	day, err := dayNumber(ds)
	if err != nil {
		return false, &IngestError{Status: 400, Err: fmt.Errorf("day %q: %v", ds, err)}
	}
	if day >= in.lo && day <= in.hi {
		return false, nil
	}
	if in.skipped++; in.skipped <= maxSkipLines {
		from, to := time.Unix(in.lo*86400, 0).UTC().Format(time.DateOnly), time.Unix(in.hi*86400, 0).UTC().Format(time.DateOnly)
		in.warnings = append(in.warnings, fmt.Sprintf("%s:%d: skipped: day %s is outside this device's days (%s to %s); is its clock wrong?", in.name, rec.Line, ds, from, to))
	}
	return true, nil
}

// widen opens the window to the device's journal's own start when that is
// before its enrolment (a device in use before the fleet server was), but
// never more than MaxJournalAge before the enrolment.
func (in *ingest) widen(rec journal.Record) {
	ms, ok := rec.Fields["created_ms"].(int64)
	if !ok || ms <= 0 {
		return
	}
	day := time.UnixMilli(ms).AddDate(0, 0, -DaysBefore).Unix() / 86400
	floor := in.e.Created.AddDate(-MaxJournalAge, 0, 0).Unix() / 86400
	in.lo = min(in.lo, max(day, floor))
}

// maxSkipLines bounds the lines an answer gives for skipped records.
const maxSkipLines = 20

// flush writes the records read since the last batch, beginning the
// transaction (and binding or locking the device) with the first; the
// last batch carries the bookkeeping. The daily case is one batch: the
// lock, the records and the bookkeeping in one round trip.
func (in *ingest) flush(ctx context.Context, last bool) error {
	batch := &pgx.Batch{}
	locked := false
	if in.tx == nil {
		tx, err := in.s.pool.Begin(ctx)
		if err != nil {
			return err
		}
		in.tx = tx
		if in.e.Device == "" {
			if err := bindToken(ctx, tx, in.e, in.dev, in.name); err != nil {
				return err
			}
		} else {
			batch.Queue(lockDevice, in.dev)
			locked = true
		}
	}
	if err := in.w.queueRecords(ctx, in.tx, batch, in.recs, in.name); err != nil {
		return err
	}
	var after []statement
	if last {
		after = in.w.bookkeeping(in.dev, in.e.hash)
	}
	for _, q := range after {
		batch.Queue(q.sql, q.args...)
	}
	err := readBatch(ctx, in.tx.SendBatch(ctx, batch), locked, in.recs, len(after), in.name)
	in.recs = in.recs[:0]
	return err
}

// quota counts the upload against the device's day, refusing it (429)
// over MaxRecordsPerDay.
func (in *ingest) quota(ctx context.Context) error {
	var n int64
	err := in.tx.QueryRow(ctx, `INSERT INTO upload_quota (device_id, day, records) VALUES ($1, $2, $3)
		ON CONFLICT (device_id, day) DO UPDATE SET records = upload_quota.records + EXCLUDED.records RETURNING records`,
		in.dev, in.s.now().Unix()/86400, in.count).Scan(&n)
	if err != nil {
		return err
	}
	if n > int64(in.s.limits.PerDay) {
		return &ErrTooMany{Status: 429, Msg: fmt.Sprintf("this device has sent more than %d records today: the rest is kept on the device and sent tomorrow", in.s.limits.PerDay)}
	}
	return nil
}

// rollback ends a transaction left open by a refusal.
func (in *ingest) rollback(ctx context.Context) {
	if in.tx != nil {
		in.tx.Rollback(context.WithoutCancel(ctx))
	}
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
// of, and the days whose pre-aggregates it made stale.
type upload struct {
	s         *Store
	parts     []string
	seen      map[string]bool
	staleDays map[int64]bool
	stats     Stats
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

// bookkeeping marks the touched days and the device stale for the refresher
// and notes the token's last use.
func (w *upload) bookkeeping(dev string, tokenHash []byte) []statement {
	var days []int64
	for d := range w.staleDays {
		days = append(days, d)
	}
	return []statement{
		{`INSERT INTO stale_day SELECT unnest($1::int[]) ON CONFLICT DO NOTHING`, []any{days}},
		{`INSERT INTO stale_device_cum SELECT $2, MIN(d) FROM unnest($1::int[]) d HAVING MIN(d) IS NOT NULL
			ON CONFLICT (device_id) DO UPDATE SET day = LEAST(stale_device_cum.day, EXCLUDED.day)`, []any{days, dev}},
		// The store's clock, as the reports and the silent devices read it.
		{`UPDATE enrollment SET last_upload = $2 WHERE token_hash = $1`, []any{tokenHash, w.s.now()}},
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
			return &IngestError{Status: 400, File: name, Line: rec.Line, Cause: err,
				Err: fmt.Errorf("the fleet database refused this %s record (a value out of its range?)", rec.Type)}
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
