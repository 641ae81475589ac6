package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/testbed/chromium"
	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

// TestHTMLPrintsInChromium is finding 4 and item 5 of "Reports that answer
// the manager's question" as the IT manager meets them: the HTML printed
// by a real browser (Debian's chromium, headless, to PDF) has the operator
// × area table with dead zones first, and the period at the head of every
// printed page.
func TestHTMLPrintsInChromium(t *testing.T) {
	browser := chromium.Find(t, "print the HTML report with")
	integration.NeedCommands(t, "pdftotext", "pdfinfo")

	r := fleetReport(t, recordFleet(t, false).DB(), Query{})
	// A long report: a fleet's many areas spill over several pages.
	for i := 0; i < 60; i++ {
		row := r.Matrix.Rows[2]
		row.Area = "Kings Heath " + strconv.Itoa(i)
		r.Matrix.Rows = append(r.Matrix.Rows, row)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	pdf := filepath.Join(dir, "report.pdf")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := chromium.Headless(ctx, browser, dir, "--no-pdf-header-footer", "--print-to-pdf="+pdf, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	info, err := exec.Command("pdfinfo", pdf).Output()
	if err != nil {
		t.Fatalf("pdfinfo: %v", err)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(info)
	if m == nil {
		t.Fatalf("pdfinfo says\n%s", info)
	}
	pages, _ := strconv.Atoi(string(m[1]))
	if pages < 2 {
		t.Fatalf("the report printed on %d page; the test needs several", pages)
	}
	text := func(p int) string {
		out, err := exec.Command("pdftotext", "-layout", "-f", strconv.Itoa(p), "-l", strconv.Itoa(p), pdf, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext page %d: %v", p, err)
		}
		return string(out)
	}
	for p := 1; p <= pages; p++ {
		if got := text(p); !strings.Contains(got, "fieldlink report · 2 – 3 Nov 2026") {
			t.Errorf("page %d of %d does not state the period:\n%s", p, pages, got)
		}
	}
	first := text(1)
	for _, want := range []string{"Workable visits by area and network", "33.3% of clinicians' devices (1 of 3)", "DEAD ZONE", "75% of 4"} {
		if !strings.Contains(first, want) {
			t.Errorf("page 1 lacks %q:\n%s", want, first)
		}
	}
	// Dead zones first: Northfield and Longbridge above the first area
	// with signal.
	n, l, k := strings.Index(first, "Northfield"), strings.Index(first, "Longbridge"), strings.Index(first, "Kings Heath")
	if n < 0 || l < 0 || k < 0 || n > k || l > k {
		t.Errorf("dead zones are not first on page 1 (Northfield %d, Longbridge %d, Kings Heath %d)", n, l, k)
	}
	t.Logf("printed %d pages, the period on each", pages)
}
