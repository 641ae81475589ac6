package journal

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// dump reads a table as comparable rows, leaving out local row ids.
func dump(t *testing.T, j *Journal, q string, args ...any) []string {
	t.Helper()
	rows, err := j.db.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			if i > 0 {
				b.WriteByte('|')
			}
			b.Write(appendJSON(nil, v))
		}
		out = append(out, b.String())
	}
	return out
}

var comparable = map[string]string{
	"session":    `SELECT uuid, device_id, link, kind, interface, network, mcc, mnc, tech, area, start_ms, end_ms, end_reason, green_ms, amber_ms, red_ms, in_use_ms, workable_ms, med_rsrp, med_strength FROM session WHERE device_id = ? ORDER BY uuid`,
	"sample":     `SELECT s.uuid, x.t_ms, x.level, x.in_use, x.rsrp, x.strength, x.probe FROM sample x JOIN session s ON s.id = x.session_id WHERE s.device_id = ? ORDER BY s.uuid, x.t_ms`,
	"event":      `SELECT t_ms, kind, link, level, text FROM event WHERE device_id = ? ORDER BY t_ms, kind, text`,
	"visit":      `SELECT uuid, start_ms, end_ms, total_ms, workable_ms FROM visit WHERE device_id = ? ORDER BY uuid`,
	"day_net":    `SELECT * FROM day_net WHERE device_id = ? ORDER BY day, kind, network`,
	"day_area":   `SELECT * FROM day_area WHERE device_id = ? ORDER BY day, kind, network, area`,
	"day_device": `SELECT * FROM day_device WHERE device_id = ? ORDER BY day`,
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := record(t, filepath.Join(dir, "device.db"), "home-visit", 2*time.Minute+20*time.Second, 10*time.Second, 2*time.Minute+10*time.Second)
	defer src.Close()
	var full bytes.Buffer
	stats, err := src.Export(ctx, &full, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exported %s (%d bytes)", stats, full.Len())
	if stats["session"] < 3 || stats["sample"] < 5 || stats["visit"] != 1 || stats["device"] != 1 || stats["day_net"] < 2 {
		t.Fatalf("export stats %v", stats)
	}
	// A later, overlapping export: only what ended in the last minute.
	var tail bytes.Buffer
	if _, err := src.Export(ctx, &tail, ExportOptions{Since: base.Add(80 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if tail.Len() >= full.Len() || tail.Len() == 0 {
		t.Fatalf("--since export is %d bytes of %d", tail.Len(), full.Len())
	}

	fleet, err := Open(filepath.Join(dir, "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	for i, in := range []*bytes.Buffer{&full, &tail, &full} {
		if _, _, err := fleet.Import(ctx, bytes.NewReader(in.Bytes()), "export.ndjson", ImportOptions{}); err != nil {
			t.Fatalf("import %d: %v", i, err)
		}
	}
	dev := src.Device().ID
	for name, q := range comparable {
		a, b := dump(t, src, q, dev), dump(t, fleet, q, dev)
		if len(a) == 0 {
			t.Fatalf("%s: nothing to compare", name)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs after three imports:\n device %d rows %q\n fleet  %d rows %q", name, len(a), a, len(b), b)
		}
	}
	if res, _, err := fleet.Check(ctx); err != nil || res != "ok" {
		t.Fatalf("fleet check %q %v", res, err)
	}
	// The fleet's export of that device is the device's own export.
	var again bytes.Buffer
	if _, err := fleet.Export(ctx, &again, ExportOptions{Records: []string{"session", "sample", "visit", "day_net", "day_area", "day_device"}}); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	src.Export(ctx, &want, ExportOptions{Records: []string{"session", "sample", "visit", "day_net", "day_area", "day_device"}})
	if again.String() != want.String() {
		t.Fatalf("re-export differs:\n%s\nvs\n%s", again.String(), want.String())
	}
}

func TestImportBadLineChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := record(t, filepath.Join(dir, "device.db"), "home-visit", time.Minute, 0, 0)
	defer src.Close()
	var exp bytes.Buffer
	if _, err := src.Export(ctx, &exp, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(exp.String()), "\n")
	fleet, err := Open(filepath.Join(dir, "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	for _, c := range []struct {
		bad, want string
	}{
		{`{"record":"session","device_id":"x"}`, `field "session_uuid" is missing`},
		{`{"record":"sample","device_id":"x","session_uuid":"nope","t_ms":1,"level":1,"in_use":0,"tech":"","area":""}`, "its session is not in the journal"},
		{`{"record":"visit","device_id":"x","visit_uuid":"v","start_ms":"soon","total_ms":0,"workable_ms":0}`, `field "start_ms": want an integer`},
		{`not json`, "not a JSON object"},
		// Finding 7 of "Reports that answer the manager's question": values
		// no fieldlink writes.
		{`{"record":"session","device_id":"x","session_uuid":"s","link":"l","kind":"wifi","interface":"","profile":"","network":"n","mcc":"","mnc":"","tech":"","roaming":0,"area":"","start_ms":1000,"end_ms":2000,"end_reason":"","connect_ms":null,"green_ms":-5,"amber_ms":0,"red_ms":0,"in_use_ms":0,"workable_ms":0,"samples":0,"probes_ok":0,"probes":0,"med_strength":null,"med_rsrp":null,"med_sinr":null,"med_rscp":null,"med_rtt":null}`,
			`field "green_ms": -5 is negative`},
		{`{"record":"visit","device_id":"x","visit_uuid":"v","start_ms":5000,"end_ms":4000,"total_ms":0,"workable_ms":0}`, "end_ms 4000 is before start_ms 5000"},
		{`{"record":"day_net","device_id":"x","day":"2026-11-30","kind":"wifi","network":"n","mcc":"","mnc":"","sessions":1,"connected_ms":-1,"green_ms":0,"amber_ms":0,"red_ms":0,"in_use_ms":0,"workable_ms":0,"h_connect":"","h_signal":"","h_sinr":""}`,
			`field "connected_ms": -1 is negative`},
		{`{"record":"day_net","device_id":"x","day":"2026-11-30","kind":"carrier-pigeon","network":"n","mcc":"","mnc":"","sessions":1,"connected_ms":1,"green_ms":0,"amber_ms":0,"red_ms":0,"in_use_ms":0,"workable_ms":0,"h_connect":"","h_signal":"","h_sinr":""}`,
			`field "kind": "carrier-pigeon" is not one of`},
		{`{"record":"day_device","device_id":"x","day":"30/11/2026","failovers":0,"visits":1,"h_visit":""}`, `"30/11/2026" is not a day`},
		{`{"record":"day_device","device_id":"x","day":"2026-11-30","failovers":0,"visits":1,"h_visit":"50:-2"}`, `"50:-2" is not a histogram bin`},
		{`{"record":"sample","device_id":"x","session_uuid":"s","t_ms":1,"level":7,"in_use":0,"tech":"","area":""}`, `"level": 7 is not a level`},
	} {
		in := strings.Join(lines[:3], "\n") + "\n" + c.bad + "\n" + strings.Join(lines[3:], "\n")
		_, _, err := fleet.Import(ctx, strings.NewReader(in), "fleet-in.ndjson", ImportOptions{})
		var ie *ImportError
		if !errors.As(err, &ie) || ie.Line != 4 || ie.File != "fleet-in.ndjson" || !strings.Contains(err.Error(), c.want) {
			t.Errorf("import with %s: got %v, want fleet-in.ndjson:4: …%s", c.bad, err, c.want)
		}
	}
	_, counts, _ := fleet.Check(ctx)
	if counts["session"] != 0 || counts["device"] != 1 {
		t.Fatalf("a failed import left rows behind: %v", counts)
	}
	// A record type from a newer fieldlink is skipped, once said; the rest
	// of the file is merged.
	in := strings.Join(lines[:3], "\n") + "\n" + `{"record":"patient_notes","x":1}` + "\n" + `{"record":"patient_notes","x":2}` + "\n" + strings.Join(lines[3:], "\n")
	_, warnings, err := fleet.Import(ctx, strings.NewReader(in), "newer.ndjson", ImportOptions{})
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], `newer.ndjson: skipped 2 "patient_notes" record(s)`) {
		t.Fatalf("a newer record type: %v %v", warnings, err)
	}
	if _, counts, _ := fleet.Check(ctx); counts["session"] == 0 {
		t.Fatal("the rest of the file was not merged")
	}
}

// TestDemoRecordsNeedAllowDemo is finding 5: simulated sessions could be
// merged into a fleet's journal unawares. A demo's device is marked, and
// its records are refused by a real journal unless asked.
func TestDemoRecordsNeedAllowDemo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := record(t, filepath.Join(dir, "demo.db"), "home-visit", time.Minute, 0, 0)
	defer src.Close()
	if err := src.MarkDemo(ctx); err != nil {
		t.Fatal(err)
	}
	var exp bytes.Buffer
	if _, err := src.Export(ctx, &exp, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.SplitN(exp.String(), "\n", 2)[0], `"demo":1`) {
		t.Fatalf("the export's device record is not marked: %.200s", exp.String())
	}
	fleet, err := Open(filepath.Join(dir, "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	_, _, err = fleet.Import(ctx, bytes.NewReader(exp.Bytes()), "demo.ndjson", ImportOptions{})
	if !errors.Is(err, ErrDemo) || !strings.Contains(err.Error(), "demo.ndjson:1:") || !strings.Contains(err.Error(), "--allow-demo") {
		t.Fatalf("demo records into a real journal: %v", err)
	}
	if _, counts, _ := fleet.Check(ctx); counts["session"] != 0 {
		t.Fatal("refused, yet merged")
	}
	if _, _, err := fleet.Import(ctx, bytes.NewReader(exp.Bytes()), "demo.ndjson", ImportOptions{AllowDemo: true}); err != nil {
		t.Fatalf("--allow-demo: %v", err)
	}
}

// TestCSVIsSafeAndReadable is finding 8: a spreadsheet would run an SSID
// like =HYPERLINK(...) as a formula, and times were epoch milliseconds.
func TestCSVIsSafeAndReadable(t *testing.T) {
	for in, want := range map[string]string{"=HYPERLINK(\"http://x\")": "'=HYPERLINK(\"http://x\")", "+1": "'+1", "-cmd": "'-cmd",
		"@SUM(1)": "'@SUM(1)", "NHS-Community": "NHS-Community", "": ""} {
		if got := SafeCell(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
	if got := csvCell(int64(1796032933886), column{at: true}); got != "2026-11-30T10:02:13.886Z" {
		t.Errorf("time cell %q", got)
	}
	if got := csvCell(int64(-95), column{}); got != "-95" {
		t.Errorf("a number is not text: %q", got)
	}
}

func TestExportCSV(t *testing.T) {
	ctx := context.Background()
	src := record(t, filepath.Join(t.TempDir(), "device.db"), "home-visit", time.Minute, 0, 0)
	defer src.Close()
	var out bytes.Buffer
	if _, err := src.Export(ctx, &out, ExportOptions{Format: "csv"}); err == nil {
		t.Fatal("a CSV export of every record type should be refused")
	}
	stats, err := src.Export(ctx, &out, ExportOptions{Format: "csv", Records: []string{"session"}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(recs)) != stats["session"]+1 || recs[0][0] != "device_id" || recs[0][1] != "session_uuid" {
		t.Fatalf("csv: %d rows for %d sessions, header %v", len(recs), stats["session"], recs[0])
	}
	for _, r := range recs[1:] {
		if r[0] != src.Device().ID || len(r[1]) != 36 {
			t.Fatalf("row %v", r)
		}
	}
}
