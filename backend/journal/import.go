package journal

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

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
