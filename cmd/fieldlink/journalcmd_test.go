package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/backend/sim"
	"github.com/fieldlink/fieldlink/backend/testbed/replay"
)

// recordDemo journals the home-visit scenario (with a visit over its
// first two minutes) as the instance in charge would.
func recordDemo(t *testing.T, path string) string {
	t.Helper()
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	base := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	fc := clock.NewFake(base)
	r := journal.NewRecorder(j, journal.Options{Clock: fc})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	sc, _ := sim.Builtin("home-visit")
	p := failover.DefaultPolicy()
	r.MarkVisit(ctx)
	var seen uint64
	for _, m := range replay.Run(sc, base, 3*time.Minute, replay.Options{Thresholds: netstate.DefaultThresholds(), Policy: &p}) {
		if m.At >= 2*time.Minute && r.VisitOpen() {
			fc.Advance(base.Add(2 * time.Minute).Sub(fc.Now()))
			r.MarkVisit(ctx)
		}
		var evs []netstate.Event
		for _, ev := range m.State.Events {
			if ev.Seq > seen {
				evs, seen = append(evs, ev), ev.Seq
			}
		}
		s := m.State.Snapshot
		r.Observe(base.Add(m.At), &s, evs)
	}
	r.Flush(ctx)
	cancel()
	<-done
	return j.Device().ID
}

func TestReportAndJournalCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "journal.db")
	dev := recordDemo(t, db)

	out, stderr, code := runCLI(t, "report", "--db", db)
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"100% of clinicians' devices (1 of 1) had workable signal", "Workable visits by area and network",
		"Time by network", "EE (234-30)", "Wi-Fi NHS-Community", "Time by area and network"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runCLI(t, "report", "--db", db, "--format", "json", "--since", "1d")
	var doc map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc["headline"] == nil {
		t.Fatalf("report --format json: exit %d\n%s", code, out)
	}
	html := filepath.Join(dir, "r.html")
	if _, stderr, code := runCLI(t, "report", "--db", db, "--format", "html", "--output", html); code != 0 {
		t.Fatalf("html: %s", stderr)
	}
	if st, err := os.Stat(html); err != nil || st.Mode().Perm() != 0o600 || st.Size() < 1000 {
		t.Fatalf("html report %v %v", st, err)
	}

	// --until names the last day reported, as a manager means it; the
	// device by its hostname or the start of its id.
	day := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour).Format(time.DateOnly)
	host, _ := os.Hostname()
	for _, sel := range [][]string{{"--since", day, "--until", day}, {"--device", dev[:6]}, {"--device", host}} {
		out, stderr, code := runCLI(t, append([]string{"report", "--db", db}, sel...)...)
		if code != 0 || !strings.Contains(out, "(1 of 1) had workable signal") {
			t.Errorf("report %v: exit %d %s\n%s", sel, code, stderr, out)
		}
	}
	os.WriteFile(filepath.Join(dir, "areas.toml"), []byte("[[area]]\nname = \"Northfield\"\ncells = [\"234-30 TAC zz\"]\n"), 0o600)

	exp := filepath.Join(dir, "export.ndjson")
	if _, stderr, code := runCLI(t, "journal", "export", "--db", db, "--output", exp); code != 0 || !strings.Contains(stderr, "exported 1 device") {
		t.Fatalf("export: exit %d %s", code, stderr)
	}
	fleet := filepath.Join(dir, "fleet.db")
	for i := 0; i < 2; i++ {
		if _, stderr, code := runCLI(t, "journal", "import", "--db", fleet, exp); code != 0 {
			t.Fatalf("import %d: exit %d %s", i, code, stderr)
		}
	}
	a, _, _ := runCLI(t, "report", "--db", db, "--format", "csv")
	b, _, _ := runCLI(t, "report", "--db", fleet, "--format", "csv")
	if a != b || a == "" {
		t.Fatalf("the fleet's report (two imports) differs from the device's:\n%s\nvs\n%s", b, a)
	}
	out, _, code = runCLI(t, "journal", "check", "--db", fleet)
	if code != 0 || !strings.Contains(out, "integrity   ok") || !strings.Contains(out, "session     3") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	if strings.Contains(out, dev) {
		t.Fatalf("the fleet journal took the imported device as its own:\n%s", out)
	}

	// Bad input says what is wrong, and where.
	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(bad, []byte("{\"record\":\"device\",\"device_id\":\"d\",\"hostname\":\"h\",\"created_ms\":1}\n{\"record\":\"visit\"}\n"), 0o600)
	if _, stderr, code := runCLI(t, "journal", "import", "--db", fleet, bad); code != 1 || !strings.Contains(stderr, "bad.ndjson:2: visit record: field \"device_id\" is missing") {
		t.Fatalf("bad import: exit %d %q", code, stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--db", filepath.Join(dir, "none.db")}, "no journal at"},
		{[]string{"report", "--db", db, "--format", "pdf"}, `--format "pdf"`},
		{[]string{"report", "--db", db, "--visit-share", "80"}, "want a share between 0 and 1"},
		{[]string{"report", "--db", db, "--since", "last tuesday"}, "want a date"},
		// Finding 8 of "Reports that answer the manager's question": these
		// gave an empty report without a word.
		{[]string{"report", "--db", db, "--device", "tb-nobody"}, `no device "tb-nobody" in this journal (it holds`},
		{[]string{"report", "--db", db, "--since", "2026-11-20", "--until", "2026-11-01"}, "--since 2026-11-20 is not before --until 2026-11-02"},
		{[]string{"report", "--db", db, "--areas", filepath.Join(dir, "areas.toml")}, "areas.toml:3:"},
		{[]string{"journal", "export", "--db", db, "--records", "patients"}, `no record type "patients"`},
		{[]string{"journal", "frobnicate"}, "unknown command"},
	} {
		_, stderr, code := runCLI(t, c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q (want %q)", c.args, code, stderr, c.want)
		}
	}
}

// TestFlagsAfterArguments: a flag after a file name is a flag, wherever it
// stands (finding: `journal import all.ndjson --db fleet.db` merged into the
// default journal, then failed on a file called "--db"); a bad command
// line is refused before anything is read or written.
func TestFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "device.db")
	recordDemo(t, db)
	exp := filepath.Join(dir, "all.ndjson")
	if _, stderr, code := runCLI(t, "journal", "export", "--db", db, "--output", exp); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	defaultJournal := filepath.Join(testStateDir, "journal.db")
	os.Remove(defaultJournal)
	fleet := filepath.Join(dir, "fleet.db")
	if _, stderr, code := runCLI(t, "journal", "import", exp, "--db", fleet); code != 0 {
		t.Fatalf("import FILE --db X: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(defaultJournal); err == nil {
		t.Fatal("import FILE --db X touched the default journal")
	}
	out, _, code := runCLI(t, "journal", "check", "--db", fleet)
	if code != 0 || !strings.Contains(out, "session") {
		t.Fatalf("the fleet journal: %s", out)
	}
	// Refused before anything is opened: an unknown flag after the file,
	// and a missing file among good ones.
	for _, args := range [][]string{
		{"journal", "import", exp, "--bd", filepath.Join(dir, "x.db")},
		{"journal", "import", exp, filepath.Join(dir, "missing.ndjson"), "--db", filepath.Join(dir, "y.db")},
	} {
		if _, _, code := runCLI(t, args...); code == 0 {
			t.Fatalf("%v: accepted", args)
		}
	}
	for _, f := range []string{defaultJournal, filepath.Join(dir, "x.db"), filepath.Join(dir, "y.db")} {
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("%s was created by a refused command line", f)
		}
	}
	// "--" ends the flags: a file may be called "--db".
	if _, stderr, code := runCLI(t, "journal", "import", "--db", fleet, "--", "--db"); code == 0 || !strings.Contains(stderr, "--db: no such file") {
		t.Fatalf("after --: exit %d %q", code, stderr)
	}
}

// TestWordsForBadInput: a journal from a newer fieldlink is refused by
// report, check and export in words that do not send the user off to
// migrate it; --speed NaN is refused (finding: accepted, the VPN then
// stayed CONNECTING).
func TestWordsForBadInput(t *testing.T) {
	db := filepath.Join(t.TempDir(), "newer.db")
	j, err := journal.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	j.DB().Exec(`PRAGMA user_version = 999`)
	j.Close()
	for _, args := range [][]string{{"report"}, {"journal", "check"}, {"journal", "export"}} {
		_, stderr, code := runCLI(t, append(args, "--db", db)...)
		if code != 1 || !strings.Contains(stderr, "written by a newer fieldlink") || strings.Contains(stderr, "migrate") {
			t.Errorf("%v on a newer journal: exit %d %q", args, code, stderr)
		}
	}
	for _, speed := range []string{"NaN", "+Inf", "-1", "0"} {
		_, stderr, code := runCLI(t, "status", "--demo", "--speed", speed)
		if code != 1 || !strings.Contains(stderr, "--speed") {
			t.Errorf("--speed %s: exit %d %q", speed, code, stderr)
		}
	}
}

// TestReportAreasAhead: `report --areas-ahead` prints, offline, the fleet's
// summary the last sync kept: where it comes from, and per area what the
// fleet found there with the advice; before any sync it says how one comes.
func TestReportAreasAhead(t *testing.T) {
	db := filepath.Join(t.TempDir(), "journal.db")
	j, err := journal.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, stderr, code := runCLI(t, "report", "--db", db, "--areas-ahead"); code == 0 || !strings.Contains(stderr, "no summary from the fleet yet") {
		t.Fatalf("before any sync: %d %q", code, stderr)
	}
	row := report.AreaRow{Area: "Kings Heath", Named: true, Visits: 402, Workable: 282, Pct: 70.1, Cells: []report.Cell{
		{Network: "EE", Kind: "cellular", Visits: 190, Workable: 89, Pct: 46.8},
		{Network: "Vodafone", Kind: "cellular", Visits: 212, Workable: 193, Pct: 91.0}}}
	row.Advice = row.Recommend(0.8)
	made := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	sum := report.Ahead{Made: made, Devices: 1204, Period: report.Period{Text: "1 Oct 2026 – 6 Dec 2026"},
		Areas: []report.AreaRow{row, {Area: "Hall Green", Named: true, Visits: 12, Workable: 7, Pct: 58.3}}}
	doc, _ := json.Marshal(sum)
	j, _ = journal.Open(db)
	if err := j.SetAhead(context.Background(), made, doc); err != nil {
		t.Fatal(err)
	}
	j.Close()
	out, stderr, code := runCLI(t, "report", "--db", db, "--areas-ahead")
	if code != 0 {
		t.Fatalf("%d %s", code, stderr)
	}
	for _, want := range []string{"the fleet, 1,204 devices, made 6 Dec 2026", "visits 1 Oct 2026 – 6 Dec 2026",
		"Kings Heath: Vodafone workable in 91% of 212 visits, EE 47% of 190 — prefer Vodafone SIMs here",
		"Hall Green: workable in 58% of 12 visits (no operator with 20 visits yet)"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if out, _, code := runCLI(t, "report", "--db", db, "--areas-ahead", "--format", "json"); code != 0 || strings.TrimSpace(out) != string(doc) {
		t.Fatalf("json: %d %s", code, out)
	}
}
