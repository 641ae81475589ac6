package report

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/testbed/fleetsample"
)

// recordFleet records the sample fleet, exports each journal and imports
// them into one fleet journal, as IT would.
func recordFleet(t *testing.T, demo bool) *journal.Journal {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	fleet, err := journal.Open(filepath.Join(dir, "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Close() })
	for _, path := range fleetsample.Record(t, dir, demo) {
		j, err := journal.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := j.Export(ctx, &buf, journal.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		j.Close()
		if _, warnings, err := fleet.Import(ctx, &buf, filepath.Base(path)+".ndjson", journal.ImportOptions{AllowDemo: demo}); err != nil || len(warnings) > 0 {
			t.Fatalf("import %s: %v %v", path, err, warnings)
		}
	}
	return fleet
}

func fleetReport(t *testing.T, db *sql.DB, q Query) *Report {
	t.Helper()
	r, err := Build(context.Background(), db, q)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestOperatorByAreaWorkedOutByHand is findings 1 and 3 of "Reports that
// answer the manager's question": visits were counted per device, day and
// week only, never per operator or area, and an area's workable share
// used another base than its network's. Eleven visits by three devices,
// recorded by the real recorder, exported and imported as a fleet; every
// cell checked against figures worked out on paper.
func TestOperatorByAreaWorkedOutByHand(t *testing.T) {
	fleet := recordFleet(t, false)
	r := fleetReport(t, fleet.DB(), Query{})

	// Columns: mobile operators by visits (EE 9, Vodafone 5), then Wi-Fi.
	wantNets := []string{"EE (234-30)", "Vodafone UK (234-15)", "Wi-Fi Clinic"}
	if !equal(r.Matrix.Networks, wantNets) {
		t.Fatalf("columns %q, want %q", r.Matrix.Networks, wantNets)
	}
	type cell struct{ workable, visits int64 }
	want := []struct {
		area  string
		dead  bool
		named bool
		all   cell
		cells map[string]cell
	}{
		// Northfield: visits 1, 2, 5, 6. The work was workable in 1, 2
		// and 5 (8 of 10 minutes reaches 80%), not 6 (7 of 10). EE was
		// there in all four, workable in the same three; Vodafone in 1
		// (DO NOT PROCEED) and 2 (GO). No share reaches 85%: a dead zone.
		{"Northfield", true, true, cell{3, 4}, map[string]cell{"EE (234-30)": {3, 4}, "Vodafone UK (234-15)": {1, 2}}},
		// Longbridge: visits 4 (EE red), 7 (EE red, Clinic Wi-Fi GO
		// carrying the work) and 9 (EE registered, nothing connected).
		// The Wi-Fi's one visit rescues nothing: a dead zone.
		{"Longbridge", true, true, cell{1, 3}, map[string]cell{"EE (234-30)": {0, 2}, "Wi-Fi Clinic": {1, 1}}},
		// Kings Heath: visits 3, 11 (EE red, Vodafone GO) and 10
		// (Vodafone only).
		{"Kings Heath", false, true, cell{3, 3}, map[string]cell{"EE (234-30)": {0, 2}, "Vodafone UK (234-15)": {3, 3}}},
		// Visit 8, in a tracking area the map does not name.
		{"234-30 TAC 2C99", false, false, cell{1, 1}, map[string]cell{"EE (234-30)": {1, 1}}},
	}
	if len(r.Matrix.Rows) != len(want) {
		t.Fatalf("%d areas, want %d: %+v", len(r.Matrix.Rows), len(want), r.Matrix.Rows)
	}
	for i, w := range want {
		got := r.Matrix.Rows[i]
		if got.Area != w.area || got.DeadZone != w.dead || got.Named != w.named || got.Workable != w.all.workable || got.Visits != w.all.visits {
			t.Errorf("row %d: %s dead=%v named=%v %d of %d; want %s dead=%v named=%v %d of %d", i, got.Area, got.DeadZone, got.Named,
				got.Workable, got.Visits, w.area, w.dead, w.named, w.all.workable, w.all.visits)
		}
		if len(got.Cells) != len(w.cells) {
			t.Errorf("%s: networks %+v, want %v", w.area, got.Cells, w.cells)
		}
		for _, c := range got.Cells {
			if wc, ok := w.cells[c.Network]; !ok || c.Workable != wc.workable || c.Visits != wc.visits {
				t.Errorf("%s, %s: %d of %d, want %v", w.area, c.Network, c.Workable, c.Visits, wc)
			}
		}
	}
	if !equal(r.DeadZones, []string{"Northfield", "Longbridge"}) {
		t.Errorf("dead zones %q", r.DeadZones)
	}
	// Operators over all areas: EE in visits 1-8 and 11, workable in 1, 2,
	// 5, 8 (4 of 9 = 44.4%), four areas; Vodafone in 1, 2, 3, 10, 11,
	// workable in all but 1 (80%), two areas.
	wantOps := []string{
		"EE (234-30): workable in 44.4% of 9 visits, 4 areas",
		"Vodafone UK (234-15): workable in 80% of 5 visits, 2 areas",
		"Wi-Fi Clinic: workable in 100% of 1 visit, 1 area",
	}
	for i, o := range r.Operators {
		if i >= len(wantOps) || o.Text != wantOps[i] {
			t.Errorf("operator %d: %q", i, o.Text)
		}
	}
	// The headline, per device: tb-nurse-1 4 of 4 workable (qualifies),
	// tb-nurse-2 3 of 5 (visits 5, 7, 8), tb-nurse-3 1 of 2 (visit 10).
	h := r.Headline
	if h.Devices != 3 || h.Qualifying != 1 || h.Visits != 11 || h.Workable != 8 ||
		h.Text != "33.3% of clinicians' devices (1 of 3) had workable signal in at least 85% of their visits, 2 – 3 Nov 2026" {
		t.Errorf("headline %+v", h)
	}
	if r.Period.From != "2026-11-02" || r.Period.To != "2026-11-03" {
		t.Errorf("period %+v", r.Period)
	}

	// Time on the same bases for networks and areas. EE was connected in
	// 9 visits (90 min) and usable 10+10+8+7+10 = 45 min: 50% of
	// connected time. It carried the work in visits 1, 2, 4, 5, 6, 8
	// (60 min), workable 45 of them: 75% of in-use time.
	ee := findRow(t, r.Networks, "EE (234-30)", "")
	if ee.ConnectedHours != 1.5 || ee.UsablePct != 50 || ee.InUseHours != 1 || ee.WorkablePct == nil || *ee.WorkablePct != 75 || ee.Sessions != 9 {
		t.Errorf("EE time %+v (workable %v)", ee, opt(ee.WorkablePct, ""))
	}
	// Vodafone never carried the work in Northfield: workable is "-",
	// not 0 (finding 3), and its usable share is of connected time as
	// everywhere: visit 2 of visits 1 and 2, 50%.
	vfN := findRow(t, r.Areas, "Northfield", "Vodafone UK (234-15)")
	if vfN.WorkablePct != nil || vfN.UsablePct != 50 || vfN.InUseHours != 0 {
		t.Errorf("Vodafone in Northfield %+v (workable %v)", vfN, opt(vfN.WorkablePct, ""))
	}
	eeN := findRow(t, r.Areas, "Northfield", "EE (234-30)")
	if eeN.UsablePct != 87.5 || eeN.WorkablePct == nil || *eeN.WorkablePct != 87.5 {
		t.Errorf("EE in Northfield %+v: want 35 of 40 minutes usable and workable", eeN)
	}
	// The code the map does not name is listed for IT to name.
	if len(r.Unnamed) != 1 || r.Unnamed[0].Code != "234-30 TAC 2C99" || r.Unnamed[0].Visits != 1 {
		t.Errorf("unnamed %+v", r.Unnamed)
	}

	// At a 75% mark Northfield (75% of visits) is no dead zone.
	if r75 := fleetReport(t, fleet.DB(), Query{DeviceShare: 0.75}); !equal(r75.DeadZones, []string{"Longbridge"}) {
		t.Errorf("dead zones at 75%%: %q", r75.DeadZones)
	}
	// A visit rule of 70%: visit 6 (7 of 10 minutes) becomes workable,
	// and Northfield (4 of 4) is no longer a dead zone.
	r70 := fleetReport(t, fleet.DB(), Query{VisitShare: 0.7})
	if n := findArea(t, r70, "Northfield"); n.Workable != 4 || n.DeadZone || !equal(r70.DeadZones, []string{"Longbridge"}) {
		t.Errorf("at a 70%% visit rule: Northfield %+v, dead zones %q", n, r70.DeadZones)
	}
	// Today's map names the code; names recorded earlier still stand.
	m, err := areas.Parse("areas.toml", []byte(fleetsample.AreaMap+"\n[[area]]\nname = \"Bartley Green\"\ncells = [\"234-30 TAC 2C99\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	renamed := fleetReport(t, fleet.DB(), Query{Areas: m})
	if len(renamed.Unnamed) != 0 || renamed.Matrix.Rows[3].Area != "Bartley Green" || !renamed.Matrix.Rows[3].Named {
		t.Errorf("with the code named: unnamed %+v, last row %+v", renamed.Unnamed, renamed.Matrix.Rows[3])
	}

	// One device, by hostname or id prefix; unknown ones are errors.
	one := fleetReport(t, fleet.DB(), Query{Device: "tb-nurse-3"})
	if one.Headline.Devices != 1 || one.Headline.Visits != 2 || len(one.Matrix.Rows) != 2 {
		t.Errorf("tb-nurse-3: %+v, %d areas", one.Headline, len(one.Matrix.Rows))
	}
	var id string
	fleet.DB().QueryRow(`SELECT id FROM device WHERE hostname = 'tb-nurse-2'`).Scan(&id)
	if byID := fleetReport(t, fleet.DB(), Query{Device: id[:8]}); byID.Headline.Visits != 5 {
		t.Errorf("by id prefix %s: %+v", id[:8], byID.Headline)
	}
}

// TestReportRefusesWhatItCannotAnswer is finding 8's errors: an unknown
// device and a reversed period gave an empty report without a word.
func TestReportRefusesWhatItCannotAnswer(t *testing.T) {
	fleet := recordFleet(t, false)
	_, err := Build(context.Background(), fleet.DB(), Query{Device: "tb-nurse-9"})
	var de *DeviceError
	// The fleet journal's own machine is a device too (with no records).
	if !asDeviceError(err, &de) || len(de.Known) != 4 || !strings.Contains(err.Error(), "tb-nurse-1 (000000a1)") {
		t.Fatalf("unknown device: %v", err)
	}
	_, err = Build(context.Background(), fleet.DB(), Query{Since: fleetsample.Day0.AddDate(0, 0, 5), Until: fleetsample.Day0})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("--since 2026-11-07 is not before --until 2026-11-02")) {
		t.Fatalf("reversed period: %v", err)
	}
	// An empty prefix would match every device: refused as ambiguous.
	if _, err = Build(context.Background(), fleet.DB(), Query{Device: "-"}); err == nil {
		t.Fatal("a device prefix matching no or many devices was accepted")
	}
}

// TestDemoIsMarked is finding 5: a report of the demo's journal carried no
// mark, so simulated sessions could pass for real ones.
func TestDemoIsMarked(t *testing.T) {
	fleet := recordFleet(t, true)
	r := fleetReport(t, fleet.DB(), Query{})
	if !r.Demo {
		t.Fatal("a report of simulated data is not marked DEMO")
	}
	for name, write := range map[string]func(*bytes.Buffer) error{
		"table": func(b *bytes.Buffer) error { return r.WriteTable(b) },
		"csv":   func(b *bytes.Buffer) error { return r.WriteCSV(b) },
		"json":  func(b *bytes.Buffer) error { return r.WriteJSON(b) },
		"html":  func(b *bytes.Buffer) error { return r.WriteHTML(b) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b.Bytes(), []byte("DEMO")) && !bytes.Contains(b.Bytes(), []byte(`"demo": true`)) {
			t.Errorf("%s: no DEMO mark", name)
		}
	}
	if real := fleetReport(t, recordFleet(t, false).DB(), Query{}); real.Demo {
		t.Error("real data marked DEMO")
	}
}

func findRow(t *testing.T, rows []Row, key, network string) Row {
	t.Helper()
	for _, r := range rows {
		if r.Key == key && r.Network == network {
			return r
		}
	}
	t.Fatalf("no row %q/%q in %+v", key, network, rows)
	return Row{}
}

func findArea(t *testing.T, r *Report, area string) AreaRow {
	t.Helper()
	for _, a := range r.Matrix.Rows {
		if a.Area == area {
			return a
		}
	}
	t.Fatalf("no area %q", area)
	return AreaRow{}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func asDeviceError(err error, de **DeviceError) bool {
	e, ok := err.(*DeviceError)
	if ok {
		*de = e
	}
	return ok
}
