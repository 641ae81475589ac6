package demohistory

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/report"
)

// TestDemoReportComparesOperatorsByArea is finding 10 of "The screens,
// tried by a tired nurse": the demo's report had one operator, so it
// could not show the comparison it exists for.
func TestDemoReportComparesOperatorsByArea(t *testing.T) {
	j, err := journal.Open(filepath.Join(t.TempDir(), "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	if err := Seed(context.Background(), j, now); err != nil {
		t.Fatal(err)
	}
	rep, err := report.Build(context.Background(), j.DB(), report.Query{Since: now.AddDate(0, 0, -30)})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, o := range rep.Operators {
		for _, name := range []string{"EE", "Vodafone", "O2"} {
			if strings.HasPrefix(o.Network, name) {
				ops[name] = true
			}
		}
	}
	named := 0
	for _, a := range rep.Matrix.Rows {
		if a.Named {
			named++
		}
	}
	if len(ops) != 3 || named < 4 || rep.Headline.Visits < 60 {
		t.Fatalf("operators %v, %d named areas, %d visits: want three operators in several named areas\n%+v", ops, named, rep.Headline.Visits, rep.Operators)
	}
	dead := strings.Join(rep.DeadZones, ",")
	if !strings.Contains(dead, "Longbridge") || strings.Contains(dead, "Selly Oak") {
		t.Fatalf("dead zones %q: want Longbridge and not Selly Oak", dead)
	}
	// Seeding twice adds nothing: a demo journal in use is left as it is.
	before := rep.Headline.Visits
	if err := Seed(context.Background(), j, now); err != nil {
		t.Fatal(err)
	}
	rep, _ = report.Build(context.Background(), j.DB(), report.Query{Since: now.AddDate(0, 0, -30)})
	if rep.Headline.Visits != before {
		t.Fatalf("a second seed changed the visits: %d, then %d", before, rep.Headline.Visits)
	}
}

// BenchmarkSeed: what a first demo start spends recording the history.
func BenchmarkSeed(b *testing.B) {
	for i := 0; i < b.N; i++ {
		j, err := journal.Open(filepath.Join(b.TempDir(), "demo.db"))
		if err != nil {
			b.Fatal(err)
		}
		if err := Seed(context.Background(), j, time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)); err != nil {
			b.Fatal(err)
		}
		j.Close()
	}
}
