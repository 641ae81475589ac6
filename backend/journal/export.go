package journal

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// The export format is fieldlink's fleet interface: one JSON object per
// line, each with "record" naming its type, keyed so that exports taken
// again and again merge without duplicates (see README, "Journal export").
// Fields are only ever added, never renamed or removed.

// colType is how a column travels.
type colType int

const (
	colInt colType = iota
	colReal
	colText
)

type column struct {
	name string // in the export, and the table's column unless sqlExpr says otherwise
	typ  colType
	null bool   // may be null
	expr string // export SELECT expression (default: the name)
	in   string // import placeholder expression (default: "?")
	dest string // import column (default: the name)
	skip bool   // exported only
	// added: a field a later fieldlink added; an older export without it
	// imports with the zero value (or null, where allowed).
	added bool
	// dur: a duration or count, never negative; at: a time (ms since the
	// epoch), written in ISO 8601 in a CSV.
	dur, at bool
	// enum lists the values a text field may take (empty: any).
	enum []string
}

// recordSpec describes one record type of the export.
type recordSpec struct {
	record string
	table  string
	from   string // FROM clause of the export
	since  string // expression compared with the since/until bounds (ms); "" for none
	order  string
	cols   []column
	// upsert is the conflict target (the record's key); events instead
	// insert only when absent (their key is not a column of the table).
	upsert []string
	insert string // a whole insert statement, when upsert cannot say it
}

var kinds = []string{"ethernet", "wifi", "cellular", "vpn", "other"}

// visitKinds adds the visit's own row: "work" is whatever carried the work,
// credited to the place the device was (see journal.WorkKind).
var visitKinds = append(append([]string(nil), kinds...), WorkKind)

// d and at are a duration and a time column.
func d(name string) column  { return column{name: name, typ: colInt, dur: true} }
func at(name string) column { return column{name: name, typ: colInt, at: true} }

const dayExpr = "strftime('%Y-%m-%d', day * 86400, 'unixepoch')"
const dayIn = "CAST(julianday(?) - 2440587.5 AS INTEGER)"
const dayMS = "day * 86400000"

var records = []recordSpec{
	{record: "device", table: "device", from: "device", order: "created_ms, id",
		cols: []column{{name: "device_id", typ: colText, expr: "id", dest: "id"}, {name: "hostname", typ: colText}, at("created_ms"),
			{name: "demo", typ: colInt, added: true}},
		upsert: []string{"id"}},
	{record: "session", table: "session", from: "session s", since: "COALESCE(s.end_ms, s.start_ms)", order: "s.start_ms, s.id",
		cols: []column{{name: "device_id", typ: colText}, {name: "session_uuid", typ: colText, expr: "uuid", dest: "uuid"},
			{name: "link", typ: colText}, {name: "kind", typ: colText, enum: kinds}, {name: "interface", typ: colText}, {name: "profile", typ: colText},
			{name: "network", typ: colText}, {name: "mcc", typ: colText}, {name: "mnc", typ: colText}, {name: "tech", typ: colText},
			{name: "roaming", typ: colInt}, {name: "area", typ: colText}, at("start_ms"), {name: "end_ms", typ: colInt, null: true, at: true},
			{name: "end_reason", typ: colText}, {name: "connect_ms", typ: colInt, null: true, dur: true}, d("green_ms"),
			d("amber_ms"), d("red_ms"), d("in_use_ms"), d("workable_ms"),
			d("samples"), d("probes_ok"), d("probes"),
			{name: "med_strength", typ: colReal, null: true}, {name: "med_rsrp", typ: colReal, null: true}, {name: "med_sinr", typ: colReal, null: true},
			{name: "med_rscp", typ: colReal, null: true}, {name: "med_rtt", typ: colReal, null: true},
			{name: "usable_ms", typ: colInt, dur: true, added: true}},
		upsert: []string{"uuid"}},
	{record: "sample", table: "sample", from: "sample x JOIN session s ON s.id = x.session_id", since: "COALESCE(s.end_ms, s.start_ms)", order: "s.start_ms, s.id, x.t_ms",
		cols: []column{{name: "device_id", typ: colText, expr: "s.device_id", skip: true},
			{name: "session_uuid", typ: colText, expr: "s.uuid", dest: "session_id", in: "(SELECT id FROM session WHERE uuid = ?)"},
			{name: "t_ms", typ: colInt, expr: "x.t_ms", at: true}, {name: "level", typ: colInt}, {name: "in_use", typ: colInt},
			{name: "strength", typ: colReal, null: true}, {name: "rsrp", typ: colReal, null: true}, {name: "rsrq", typ: colReal, null: true},
			{name: "sinr", typ: colReal, null: true}, {name: "rscp", typ: colReal, null: true}, {name: "rtt", typ: colReal, null: true},
			{name: "probe", typ: colInt, null: true}, {name: "tech", typ: colText, expr: "x.tech"}, {name: "area", typ: colText, expr: "x.area"}},
		upsert: []string{"session_id", "t_ms"}},
	{record: "event", table: "event", from: "event", since: "t_ms", order: "t_ms, id",
		cols: []column{{name: "device_id", typ: colText}, {name: "seq", typ: colInt, expr: "COALESCE(origin, id)", dest: "origin"},
			at("t_ms"), {name: "kind", typ: colText}, {name: "link", typ: colText}, {name: "level", typ: colInt}, {name: "text", typ: colText}},
		insert: `INSERT INTO event(device_id, origin, t_ms, kind, link, level, text) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
	WHERE NOT EXISTS (SELECT 1 FROM event WHERE device_id = ?1 AND origin = ?2)
	AND NOT EXISTS (SELECT 1 FROM event WHERE id = ?2 AND origin IS NULL AND device_id = ?1)`},
	{record: "visit", table: "visit", from: "visit", since: "COALESCE(end_ms, start_ms)", order: "start_ms, id",
		cols: []column{{name: "device_id", typ: colText}, {name: "visit_uuid", typ: colText, expr: "uuid", dest: "uuid"},
			at("start_ms"), {name: "end_ms", typ: colInt, null: true, at: true}, d("total_ms"), d("workable_ms"),
			{name: "end_reason", typ: colText, added: true}, {name: "alive_ms", typ: colInt, null: true, at: true, added: true},
			{name: "paused_ms", typ: colInt, null: true, at: true, added: true}},
		upsert: []string{"uuid"}},
	{record: "visit_net", table: "visit_net", from: "visit_net n JOIN visit v ON v.uuid = n.visit_uuid",
		since: "COALESCE(v.end_ms, v.start_ms)", order: "v.start_ms, n.visit_uuid, n.kind, n.network, n.area",
		cols: []column{{name: "device_id", typ: colText, expr: "n.device_id"}, {name: "visit_uuid", typ: colText},
			{name: "kind", typ: colText, expr: "n.kind", enum: visitKinds}, {name: "network", typ: colText}, {name: "area", typ: colText},
			{name: "mcc", typ: colText}, {name: "mnc", typ: colText}, {name: "area_name", typ: colText},
			d("connected_ms"), d("usable_ms")},
		upsert: []string{"device_id", "visit_uuid", "kind", "network", "area"}},
	{record: "day_net", table: "day_net", from: "day_net", since: dayMS, order: "day, device_id, kind, network",
		cols: []column{{name: "device_id", typ: colText}, {name: "day", typ: colText, expr: dayExpr, in: dayIn},
			{name: "kind", typ: colText, enum: kinds}, {name: "network", typ: colText}, {name: "mcc", typ: colText}, {name: "mnc", typ: colText},
			d("sessions"), d("connected_ms"), d("green_ms"), d("amber_ms"),
			d("red_ms"), d("in_use_ms"), d("workable_ms"),
			{name: "h_connect", typ: colText}, {name: "h_signal", typ: colText}, {name: "h_sinr", typ: colText},
			{name: "usable_ms", typ: colInt, dur: true, added: true}},
		upsert: []string{"device_id", "day", "kind", "network"}},
	{record: "day_area", table: "day_area", from: "day_area", since: dayMS, order: "day, device_id, kind, network, area",
		cols: []column{{name: "device_id", typ: colText}, {name: "day", typ: colText, expr: dayExpr, in: dayIn},
			{name: "kind", typ: colText, enum: kinds}, {name: "network", typ: colText}, {name: "area", typ: colText},
			d("connected_ms"), d("green_ms"), d("amber_ms"),
			d("red_ms"), d("workable_ms"), {name: "h_signal", typ: colText},
			{name: "usable_ms", typ: colInt, dur: true, added: true}, {name: "in_use_ms", typ: colInt, dur: true, added: true},
			{name: "area_name", typ: colText, added: true}},
		upsert: []string{"device_id", "day", "kind", "network", "area"}},
	{record: "day_visit", table: "day_visit", from: "day_visit", since: dayMS, order: "day, device_id, kind, network, area",
		cols: []column{{name: "device_id", typ: colText}, {name: "day", typ: colText, expr: dayExpr, in: dayIn},
			{name: "kind", typ: colText, enum: visitKinds}, {name: "network", typ: colText}, {name: "area", typ: colText},
			{name: "mcc", typ: colText}, {name: "mnc", typ: colText}, {name: "area_name", typ: colText},
			d("visits"), {name: "h_share", typ: colText}},
		upsert: []string{"kind", "network", "area", "day", "device_id"}},
	{record: "day_device", table: "day_device", from: "day_device", since: dayMS, order: "day, device_id",
		cols: []column{{name: "device_id", typ: colText}, {name: "day", typ: colText, expr: dayExpr, in: dayIn},
			d("failovers"), d("visits"), {name: "h_visit", typ: colText}},
		upsert: []string{"device_id", "day"}},
}

// RecordTypes lists the export's record types, in the order written.
func RecordTypes() []string {
	out := make([]string, len(records))
	for i, r := range records {
		out[i] = r.record
	}
	return out
}

func specFor(name string) (*recordSpec, bool) {
	for i := range records {
		if records[i].record == name {
			return &records[i], true
		}
	}
	return nil, false
}

// ExportOptions select what to export.
type ExportOptions struct {
	// Since and Until bound records by their time (a session by its end,
	// so one still open or ended inside the window is included; roll-ups
	// by their day). Zero: unbounded.
	Since, Until time.Time
	// Records limits the record types (nil: all).
	Records []string
	// Format is "ndjson" (default) or "csv"; CSV takes exactly one record
	// type, with a header line.
	Format string
}

// ExportStats counts what an export or import did.
type ExportStats map[string]int64

// String lists the counts in record order.
func (s ExportStats) String() string {
	var parts []string
	for _, r := range records {
		if n, ok := s[r.record]; ok {
			parts = append(parts, fmt.Sprintf("%d %s", n, r.record))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// Export writes the journal's records.
func (j *Journal) Export(ctx context.Context, w io.Writer, opt ExportOptions) (ExportStats, error) {
	names := opt.Records
	if len(names) == 0 {
		names = RecordTypes()
	}
	var specs []*recordSpec
	for _, n := range names {
		sp, ok := specFor(n)
		if !ok {
			return nil, fmt.Errorf("no record type %q (want %s)", n, strings.Join(RecordTypes(), ", "))
		}
		specs = append(specs, sp)
	}
	format := opt.Format
	if format == "" {
		format = "ndjson"
	}
	if format != "ndjson" && format != "csv" {
		return nil, fmt.Errorf("export format %q: want ndjson or csv", format)
	}
	if format == "csv" && len(specs) != 1 {
		return nil, errors.New("a CSV export holds one record type: name it with --records (session, visit, ...)")
	}
	since, until := int64(math.MinInt64), int64(math.MaxInt64)
	if !opt.Since.IsZero() {
		since = opt.Since.UnixMilli()
	}
	if !opt.Until.IsZero() {
		until = opt.Until.UnixMilli()
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	stats := ExportStats{}
	// One read transaction: the records are one consistent picture even
	// while the instance in charge keeps writing.
	tx, err := j.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	for _, sp := range specs {
		n, err := exportOne(ctx, tx, bw, sp, format, since, until)
		stats[sp.record] = n
		if err != nil {
			return stats, fmt.Errorf("export %s: %w", sp.record, err)
		}
	}
	return stats, bw.Flush()
}

func exportOne(ctx context.Context, tx *sql.Tx, w *bufio.Writer, sp *recordSpec, format string, since, until int64) (int64, error) {
	exprs := make([]string, len(sp.cols))
	for i, c := range sp.cols {
		exprs[i] = c.name
		if c.expr != "" {
			exprs[i] = c.expr
		}
	}
	// Devices are always exported: every other record refers to one.
	where := "? <= ? OR 1"
	if sp.since != "" {
		where = fmt.Sprintf("%s >= ? AND %s < ?", sp.since, sp.since)
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s", strings.Join(exprs, ", "), sp.from, where, sp.order)
	rows, err := tx.QueryContext(ctx, q, since, until)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	vals := make([]any, len(sp.cols))
	ptrs := make([]any, len(sp.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var cw *csv.Writer
	if format == "csv" {
		cw = csv.NewWriter(w)
		head := make([]string, len(sp.cols))
		for i, c := range sp.cols {
			head[i] = c.name
		}
		if err := cw.Write(head); err != nil {
			return 0, err
		}
	}
	var n int64
	line := make([]byte, 0, 512)
	cells := make([]string, len(sp.cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		if cw != nil {
			for i, v := range vals {
				cells[i] = csvCell(v, sp.cols[i])
			}
			if err := cw.Write(cells); err != nil {
				return n, err
			}
		} else {
			line = append(line[:0], `{"record":"`...)
			line = append(line, sp.record...)
			line = append(line, '"')
			for i, c := range sp.cols {
				line = append(line, ',', '"')
				line = append(line, c.name...)
				line = append(line, '"', ':')
				line = appendJSON(line, vals[i])
			}
			line = append(line, '}', '\n')
			if _, err := w.Write(line); err != nil {
				return n, err
			}
		}
		n++
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, err
		}
	}
	return n, rows.Err()
}

func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case []byte:
		x2, _ := json.Marshal(string(x))
		return append(b, x2...)
	default:
		x2, _ := json.Marshal(fmt.Sprint(x))
		if s, ok := x.(string); ok {
			x2, _ = json.Marshal(s)
		}
		return append(b, x2...)
	}
}

// csvCell writes one value for a spreadsheet: times in ISO 8601 (UTC),
// and text that a spreadsheet would run as a formula (an SSID such as
// "=HYPERLINK(...)") made inert.
func csvCell(v any, c column) string {
	switch x := v.(type) {
	case nil:
		return ""
	case int64:
		if c.at {
			return time.UnixMilli(x).UTC().Format("2006-01-02T15:04:05.000Z")
		}
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []byte:
		return SafeCell(string(x))
	case string:
		return SafeCell(x)
	default:
		return SafeCell(fmt.Sprint(x))
	}
}

// SafeCell neutralizes text a spreadsheet would take for a formula: a cell
// that begins with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe (OWASP's advice for CSV injection).
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ImportError names the file and line of a record that could not be read
// or stored.
type ImportError struct {
	File string
	Line int
	Err  error
}

func (e *ImportError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *ImportError) Unwrap() error { return e.Err }

// ImportOptions tune Import.
type ImportOptions struct {
	// AllowDemo merges a demo's records (simulated data) into a journal
	// that is not a demo's; otherwise they are refused.
	AllowDemo bool
}

// ErrDemo is wrapped by the error for simulated records offered to a real
// journal.
var ErrDemo = errors.New("simulated data")

// Import merges an NDJSON export into the journal: a record already there
// (by its key) is replaced, so importing the same export twice, or exports
// that overlap, leaves one copy of everything. Every value is checked
// (durations not negative, an end not before its start, known kinds and
// levels); a bad line, named FILE:LINE, leaves the journal as it was: the
// whole file is one transaction. A record type this fieldlink does not
// know (a newer one's) is skipped, with one warning per type.
func (j *Journal) Import(ctx context.Context, r io.Reader, name string, opt ImportOptions) (ExportStats, []string, error) {
	if j.ro {
		return nil, nil, errors.New("journal is open read-only")
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	var selfDemo bool
	tx.QueryRowContext(ctx, `SELECT demo FROM device WHERE id = ?`, j.device.ID).Scan(&selfDemo)
	stmts := map[string]*sql.Stmt{}
	stats := ExportStats{}
	warnings, err := scanExport(r, name, func(line int, sp *recordSpec, args []any) error {
		rec := sp.record
		if rec == "device" && args[3].(int64) != 0 && !selfDemo && !opt.AllowDemo {
			return fmt.Errorf("device %s is a demo's (%w): merging it would mix made-up sessions into real reports; --allow-demo merges it anyway",
				args[0], ErrDemo)
		}
		st := stmts[rec]
		if st == nil {
			var err error
			st, err = tx.PrepareContext(ctx, importSQL(sp))
			if err != nil {
				return err
			}
			stmts[rec] = st
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("%s record: %w", rec, explainImport(err))
		}
		stats[rec]++
		return nil
	})
	for _, st := range stmts {
		defer st.Close()
	}
	if err != nil {
		return stats, nil, err
	}
	if err := tx.Commit(); err != nil {
		return stats, warnings, err
	}
	// The fleet's month roll-ups follow the days just merged; if that
	// fails, reports read those months from their days meanwhile.
	if _, err := j.RefreshMonths(ctx); err != nil {
		warnings = append(warnings, fmt.Sprintf("%s: month roll-ups not rebuilt (reports read the days instead): %v", name, err))
	}
	return stats, warnings, nil
}

// scanExport reads an NDJSON export line by line, decodes and checks each
// record, and hands it to fn; any error stops it and is returned as an
// ImportError naming the file and line. Record types this fieldlink does
// not know are skipped, with one warning per type.
func scanExport(r io.Reader, name string, fn func(line int, sp *recordSpec, args []any) error) ([]string, error) {
	skipped := map[string]int64{}
	var unknown []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		fail := func(err error) ([]string, error) {
			return nil, &ImportError{File: name, Line: line, Err: err}
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(text, &obj); err != nil {
			return fail(fmt.Errorf("not a JSON object: %v", err))
		}
		var rec string
		if err := json.Unmarshal(obj["record"], &rec); err != nil || rec == "" {
			return fail(errors.New(`no "record" field naming the record type`))
		}
		sp, ok := specFor(rec)
		if !ok {
			if skipped[rec] == 0 {
				unknown = append(unknown, rec)
			}
			skipped[rec]++
			continue
		}
		args, err := importArgs(sp, obj)
		if err == nil {
			err = checkRecord(sp, args)
		}
		if err != nil {
			return fail(fmt.Errorf("%s record: %w", rec, err))
		}
		if err := fn(line, sp, args); err != nil {
			return fail(err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &ImportError{File: name, Line: line + 1, Err: err}
	}
	var warnings []string
	for _, rec := range unknown {
		warnings = append(warnings, fmt.Sprintf("%s: skipped %d %q record(s): a newer fieldlink's, which this one does not know", name, skipped[rec], rec))
	}
	return warnings, nil
}

// Record is one checked record of an export: its type, its line, and its
// fields by their export names (integers int64, reals float64, text
// string, null nil; days as "YYYY-MM-DD").
type Record struct {
	Type   string
	Line   int
	Fields map[string]any
}

// DecodeExport reads an NDJSON export as Import does (every value
// checked, errors naming FILE:LINE, unknown record types skipped with a
// warning) and hands each record to fn: the fleet server's way in.
func DecodeExport(r io.Reader, name string, fn func(Record) error) ([]string, error) {
	return scanExport(r, name, func(line int, sp *recordSpec, args []any) error {
		rec := Record{Type: sp.record, Line: line, Fields: make(map[string]any, len(args))}
		i := 0
		for _, c := range sp.cols {
			if c.skip {
				continue
			}
			rec.Fields[c.name] = args[i]
			i++
		}
		return fn(rec)
	})
}

// RecordFields lists a record type's fields in export order (nil for an
// unknown type).
func RecordFields(record string) []string {
	sp, ok := specFor(record)
	if !ok {
		return nil
	}
	var out []string
	for _, c := range sp.cols {
		if !c.skip {
			out = append(out, c.name)
		}
	}
	return out
}

// checkRecord refuses values no fieldlink writes: a negative duration, an
// end before its start, an unknown kind, level or probe result, a day or a
// histogram that does not parse.
func checkRecord(sp *recordSpec, args []any) error {
	i := 0
	val := map[string]any{}
	for _, c := range sp.cols {
		if c.skip {
			continue
		}
		v := args[i]
		i++
		val[c.name] = v
		switch x := v.(type) {
		case int64:
			if c.dur && x < 0 {
				return fmt.Errorf("field %q: %d is negative", c.name, x)
			}
			if c.at && (x < 0 || x > 1<<50) {
				return fmt.Errorf("field %q: %d is not a time (milliseconds since 1970)", c.name, x)
			}
		case string:
			if len(c.enum) > 0 && !slicesContains(c.enum, x) {
				return fmt.Errorf("field %q: %q is not one of %s", c.name, x, strings.Join(c.enum, ", "))
			}
			if strings.HasPrefix(c.name, "h_") {
				if _, err := ParseHistStrict(x); err != nil {
					return fmt.Errorf("field %q: %v", c.name, err)
				}
			}
			if c.name == "day" {
				if _, err := time.Parse("2006-01-02", x); err != nil {
					return fmt.Errorf("field \"day\": %q is not a day (2026-11-30)", x)
				}
			}
		}
	}
	start, hasStart := val["start_ms"].(int64)
	if end, ok := val["end_ms"].(int64); ok && hasStart && end < start {
		return fmt.Errorf("end_ms %d is before start_ms %d", end, start)
	}
	if lv, ok := val["level"].(int64); ok && (lv < 0 || lv > 3) {
		return fmt.Errorf("field \"level\": %d is not a level (0 unknown, 1 red, 2 amber, 3 green)", lv)
	}
	if p, ok := val["probe"].(int64); ok && p != 0 && p != 1 {
		return fmt.Errorf("field \"probe\": %d is not 0 (failed), 1 (passed) or null", p)
	}
	if u, ok := val["usable_ms"].(int64); ok {
		if c, ok := val["connected_ms"].(int64); ok && u > c {
			return fmt.Errorf("usable_ms %d is more than connected_ms %d", u, c)
		}
	}
	if k, ok := val["kind"].(string); ok && sp.record == "event" && !isToken(k) {
		return fmt.Errorf("field \"kind\": %q is not an event kind", k)
	}
	return nil
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func isToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '-' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func explainImport(err error) error {
	if strings.Contains(err.Error(), "NOT NULL constraint failed: sample.session_id") {
		return errors.New("its session is not in the journal (import the session records first)")
	}
	if strings.Contains(err.Error(), "FOREIGN KEY") {
		return errors.New("its device is not in the journal (import the device record first)")
	}
	return err
}

func importArgs(sp *recordSpec, obj map[string]json.RawMessage) ([]any, error) {
	var args []any
	for _, c := range sp.cols {
		if c.skip {
			continue
		}
		raw, ok := obj[c.name]
		if !ok && c.added {
			// An older fieldlink's export: the field's zero value.
			switch {
			case c.null:
				args = append(args, nil)
			case c.typ == colText:
				args = append(args, "")
			case c.typ == colReal:
				args = append(args, 0.0)
			default:
				args = append(args, int64(0))
			}
			continue
		}
		if !ok || string(raw) == "null" {
			if c.null {
				args = append(args, nil)
				continue
			}
			if !ok {
				return nil, fmt.Errorf("field %q is missing", c.name)
			}
			return nil, fmt.Errorf("field %q is null", c.name)
		}
		switch c.typ {
		case colInt:
			var v int64
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("field %q: want an integer, got %s", c.name, raw)
			}
			args = append(args, v)
		case colReal:
			var v float64
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("field %q: want a number, got %s", c.name, raw)
			}
			args = append(args, v)
		default:
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("field %q: want a string, got %s", c.name, raw)
			}
			args = append(args, v)
		}
	}
	return args, nil
}

func importSQL(sp *recordSpec) string {
	if sp.insert != "" {
		return sp.insert
	}
	var cols, ins, set []string
	key := map[string]bool{}
	for _, k := range sp.upsert {
		key[k] = true
	}
	for _, c := range sp.cols {
		if c.skip {
			continue
		}
		d := c.dest
		if d == "" {
			d = c.name
		}
		in := c.in
		if in == "" {
			in = "?"
		}
		cols = append(cols, d)
		ins = append(ins, in)
		if !key[d] {
			set = append(set, d+" = excluded."+d)
		}
	}
	q := fmt.Sprintf("INSERT INTO %s(%s) VALUES(%s) ON CONFLICT(%s) DO ", sp.table, strings.Join(cols, ", "), strings.Join(ins, ", "), strings.Join(sp.upsert, ", "))
	if len(set) == 0 {
		return q + "NOTHING"
	}
	return q + "UPDATE SET " + strings.Join(set, ", ")
}
