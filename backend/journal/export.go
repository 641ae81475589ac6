package journal

import (
	"bufio"
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
