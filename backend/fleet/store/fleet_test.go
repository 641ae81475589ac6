package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/backend/testbed/fleetsample"
	"github.com/fieldlink/fieldlink/backend/testbed/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// sample is the sample fleet's journals and their exports (no samples:
// they stay on the device).
type sample struct {
	paths   []string
	exports [][]byte
}

func record(t *testing.T) sample {
	t.Helper()
	var s sample
	s.paths = fleetsample.Record(t, t.TempDir(), false)
	for _, p := range s.paths {
		j, err := journal.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		var recs []string
		for _, r := range journal.RecordTypes() {
			if r != "sample" {
				recs = append(recs, r)
			}
		}
		if _, err := j.Export(context.Background(), &buf, journal.ExportOptions{Records: recs}); err != nil {
			t.Fatal(err)
		}
		j.Close()
		s.exports = append(s.exports, buf.Bytes())
	}
	return s
}

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.SetClock(fleetsample.Clock)
	return s
}

func enroll(t *testing.T, s *Store, name string) Enrollment {
	t.Helper()
	tok, err := s.Enroll(context.Background(), name, "Community North")
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Device(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sqliteReport is the report of the same journals imported into SQLite.
func sqliteReport(t *testing.T, smp sample, q report.Query) *report.Report {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i, e := range smp.exports {
		if _, _, err := j.Import(context.Background(), bytes.NewReader(e), fleetsample.Hosts[i], journal.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := report.Build(context.Background(), j.DB(), q)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func fleetReport(t *testing.T, s *Store, q report.Query) *report.Report {
	t.Helper()
	r, _, err := report.From(context.Background(), s.Fetcher(), q)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// same compares two reports cell by cell (as JSON), the time of making
// and the device list of the fleet's own journal aside.
func same(t *testing.T, what string, a, b *report.Report) {
	t.Helper()
	a.Generated, b.Generated = time.Time{}, time.Time{}
	ja, _ := json.MarshalIndent(a, "", " ")
	jb, _ := json.MarshalIndent(b, "", " ")
	if !bytes.Equal(ja, jb) {
		la, lb := strings.Split(string(ja), "\n"), strings.Split(string(jb), "\n")
		for i := range min(len(la), len(lb)) {
			if la[i] != lb[i] {
				t.Fatalf("%s: the reports differ at line %d: %q vs %q", what, i+1, la[i], lb[i])
			}
		}
		t.Fatalf("%s: the reports differ in length (%d vs %d lines)", what, len(la), len(lb))
	}
}

// TestFleetReportEqualsSQLite is the fleet issue's core check: the
// PostgreSQL fleet report, read from its pre-aggregates, equals the SQLite
// report of the same journals imported, cell by cell; for the whole
// period, a ragged one (running totals at both ends), one device and a
// group.
func TestFleetReportEqualsSQLite(t *testing.T) {
	smp := record(t)
	s := open(t)
	ctx := context.Background()
	for i, e := range smp.exports {
		en := enroll(t, s, fleetsample.Hosts[i])
		st, _, err := s.Ingest(ctx, en, bytes.NewReader(e), fleetsample.Hosts[i]+".ndjson")
		if err != nil {
			t.Fatal(err)
		}
		if st["day_visit"] == 0 || st["visit"] == 0 || st["sample"] != 0 {
			t.Fatalf("stored %s", st)
		}
	}
	if _, err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []report.Query{
		{},
		{Since: fleetsample.Day0.AddDate(0, 0, 1)},
		{Since: fleetsample.Day0.AddDate(0, -1, 0), Until: fleetsample.Day0.AddDate(0, 1, 0)},
		{Device: "tb-nurse-2"},
		// Another visit share than the one counted ahead: histograms.
		{VisitShare: 0.7},
	} {
		want := sqliteReport(t, smp, q)
		got := fleetReport(t, s, q)
		if got.Headline.Visits == 0 && want.Headline.Visits != 0 {
			t.Fatalf("%+v: the fleet report has no visits", q)
		}
		same(t, "query "+q.Since.Format(time.DateOnly)+" "+q.Device, got, want)
	}
	// The visits per operator and area are the hand-worked ones.
	r := fleetReport(t, s, report.Query{})
	if len(r.Matrix.Rows) != 4 || r.Matrix.Rows[0].Area != "Northfield" || r.Matrix.Rows[0].Visits != 4 || r.Matrix.Rows[0].Workable != 3 {
		t.Fatalf("operator × area %+v", r.Matrix.Rows)
	}
}

// TestUploadsAreIdempotent: the same batch sent twice leaves identical rows
// and an identical report; two uploads of one device at once take turns.
func TestUploadsAreIdempotent(t *testing.T) {
	smp := record(t)
	s := open(t)
	ctx := context.Background()
	en := enroll(t, s, "tb-nurse-1")
	if _, _, err := s.Ingest(ctx, en, bytes.NewReader(smp.exports[0]), "a"); err != nil {
		t.Fatal(err)
	}
	en, _ = s.Device(ctx, tokenOf(t, s, en))
	s.Refresh(ctx)
	first := fleetReport(t, s, report.Query{})
	counts := rowCounts(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.Ingest(ctx, en, bytes.NewReader(smp.exports[0]), "again")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a concurrent upload of the same device: %v", err)
		}
	}
	s.Refresh(ctx)
	if again := rowCounts(t, s); again != counts {
		t.Fatalf("rows after re-sending: %v, before %v", again, counts)
	}
	same(t, "sent twice", fleetReport(t, s, report.Query{}), first)
}

// tokenOf is not needed by the store (it keeps hashes only); tests re-find
// an enrollment through its bound device.
func tokenOf(t *testing.T, s *Store, e Enrollment) string {
	t.Helper()
	tok, err := s.Enroll(context.Background(), "spare", "")
	if err != nil {
		t.Fatal(err)
	}
	// Re-point the spare token at e's row: tests only.
	if _, err := s.pool.Exec(context.Background(), `UPDATE enrollment SET token_hash = $1 WHERE token_hash = $2`, hashToken(tok+"x"), hashToken(tok)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(context.Background(), `UPDATE enrollment SET token_hash = $1 WHERE token_hash = $2`, hashToken(tok), e.hash); err != nil {
		t.Fatal(err)
	}
	return tok
}

type counts struct{ sessions, visits, events, dayNet, dayArea, dayVisit, fleetDayNet, cellCum int64 }

func rowCounts(t *testing.T, s *Store) counts {
	t.Helper()
	var c counts
	if err := s.pool.QueryRow(context.Background(), `SELECT (SELECT COUNT(*) FROM session), (SELECT COUNT(*) FROM visit),
		(SELECT COUNT(*) FROM event), (SELECT COUNT(*) FROM day_net), (SELECT COUNT(*) FROM day_area), (SELECT COUNT(*) FROM day_visit),
		(SELECT COUNT(*) FROM fleet_day_net), (SELECT COUNT(*) FROM cell_cum)`).Scan(&c.sessions, &c.visits, &c.events, &c.dayNet,
		&c.dayArea, &c.dayVisit, &c.fleetDayNet, &c.cellCum); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBadUploadsChangeNothing: a record of another device, a bad line, a
// sample, and a token used by a second device are refused with the line
// to blame, and nothing of the upload is kept.
func TestBadUploadsChangeNothing(t *testing.T) {
	smp := record(t)
	s := open(t)
	ctx := context.Background()
	a := enroll(t, s, "tb-nurse-1")
	if _, _, err := s.Ingest(ctx, a, bytes.NewReader(smp.exports[0]), "a"); err != nil {
		t.Fatal(err)
	}
	a, _ = s.Device(ctx, tokenOf(t, s, a))
	before := rowCounts(t, s)
	lines := strings.SplitAfter(string(smp.exports[1]), "\n")
	mixed := string(smp.exports[0]) + lines[0]
	for _, c := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"another device's record", mixed, 403, "this token writes device 000000a1"},
		{"a bad line", lines[0] + "{\"record\":\"visit\"}\n", 403, ""},
		{"negative time", strings.Replace(string(smp.exports[0]), `"connected_ms":600000`, `"connected_ms":-600000`, 1), 400, "negative"},
		{"a technology that is no generation", strings.Replace(string(smp.exports[0]), `"h_tech":"4:`, `"h_tech":"4G:`, 1), 400, `"h_tech"`},
	} {
		_, _, err := s.Ingest(ctx, a, strings.NewReader(c.body), "up.ndjson")
		var ie *IngestError
		if !errors.As(err, &ie) {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.status == 403 && c.want == "" {
			// The other device's line comes first here: refused as such.
			c.want = "device 000000a2"
		}
		if ie.Status != c.status || ie.Line == 0 || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "up.ndjson:") {
			t.Errorf("%s: %d %v (want %d, %q, a line)", c.name, ie.Status, err, c.status, c.want)
		}
	}
	// A second device on the first's token.
	_, _, err := s.Ingest(ctx, a, bytes.NewReader(smp.exports[1]), "b")
	var ie *IngestError
	if !errors.As(err, &ie) || ie.Status != 403 {
		t.Fatalf("another device on a bound token: %v", err)
	}
	// A fresh token for a device that already has one.
	c := enroll(t, s, "impostor")
	_, _, err = s.Ingest(ctx, c, bytes.NewReader(smp.exports[0]), "c")
	if !errors.As(err, &ie) || ie.Status != 409 {
		t.Fatalf("a second token for a device: %v", err)
	}
	if after := rowCounts(t, s); after != before {
		t.Fatalf("refused uploads changed rows: %v -> %v", before, after)
	}
}

// TestDevicesSayWhereAndHowTheyLastWorked: each device's last session
// gives its last area and the verdict it spent most of it at (a device
// enrolled and never heard from has none), and a device is silent once it
// has not uploaded for the quiet spell.
func TestDevicesSayWhereAndHowTheyLastWorked(t *testing.T) {
	smp := record(t)
	s := open(t)
	ctx := context.Background()
	for i, e := range smp.exports {
		if _, _, err := s.Ingest(ctx, enroll(t, s, fleetsample.Hosts[i]), bytes.NewReader(e), "x"); err != nil {
			t.Fatal(err)
		}
	}
	enroll(t, s, "tb-drawer")
	devs, err := s.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var heard int
	for _, d := range devs {
		var area, green, amber, red string
		var end int64
		if d.Name == "tb-drawer" {
			if d.LastArea != "" || d.LastVerdict != "" || !d.Silent(time.Now(), time.Hour) {
				t.Errorf("a device never heard from: %+v", d)
			}
			continue
		}
		heard++
		err := s.pool.QueryRow(ctx, `SELECT area, green_ms::text, amber_ms::text, red_ms::text, COALESCE(end_ms, start_ms) FROM session
			WHERE device_id = $1 ORDER BY start_ms DESC LIMIT 1`, d.ID).Scan(&area, &green, &amber, &red, &end)
		if err != nil {
			t.Fatal(err)
		}
		if d.LastArea != area || d.LastVerdict == "" || d.LastSeen.UnixMilli() != end {
			t.Errorf("%s: last area %q verdict %q seen %v; its last session: %s (%s/%s/%s ms)", d.Name, d.LastArea, d.LastVerdict, d.LastSeen, area, green, amber, red)
		}
		if d.Silent(d.LastUpload.Add(time.Hour), 3*24*time.Hour) || !d.Silent(d.LastUpload.Add(4*24*time.Hour), 3*24*time.Hour) {
			t.Errorf("%s: silent is wrong around its last upload %v", d.Name, d.LastUpload)
		}
	}
	if heard != len(fleetsample.Hosts) {
		t.Fatalf("%d devices heard from, want %d", heard, len(fleetsample.Hosts))
	}
	for _, c := range []struct {
		g, a, r int64
		want    string
	}{{10, 5, 1, "GO"}, {1, 5, 1, "MARGINAL"}, {1, 5, 9, "DO NOT PROCEED"}, {0, 0, 0, "NO DATA"}} {
		if got := verdictOf(c.g, c.a, c.r); got != c.want {
			t.Errorf("verdictOf(%d, %d, %d) = %q, want %q", c.g, c.a, c.r, got, c.want)
		}
	}
}
