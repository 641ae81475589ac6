package journal

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFleetSummaryIsKept: the fleet's summary a sync brings is kept whole,
// the newest replacing the one before, and a summary too large to be one
// is refused rather than kept.
func TestFleetSummaryIsKept(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	if doc, _, err := j.Ahead(ctx); err != nil || doc != nil {
		t.Fatalf("a new journal's summary: %q %v", doc, err)
	}
	made := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	for i, doc := range []string{`{"areas":[]}`, `{"areas":[{"area":"Kings Heath"}]}`} {
		if err := j.SetAhead(ctx, made.Add(time.Duration(i)*time.Hour), []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	doc, at, err := j.Ahead(ctx)
	if err != nil || string(doc) != `{"areas":[{"area":"Kings Heath"}]}` || !at.Equal(made.Add(time.Hour)) {
		t.Fatalf("kept %q made %v (%v)", doc, at, err)
	}
	if err := j.SetAhead(ctx, made, []byte(strings.Repeat("x", maxAhead+1))); err == nil {
		t.Fatal("a summary of more than 1 MiB was kept")
	}
}
