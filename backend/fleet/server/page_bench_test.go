package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/fleet/store"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/backend/testbed/pgtest"
)

// generatedAreaMap places the generator's 2,000 areas ("Area N", tracking
// area N in hex) on a grid over Birmingham.
func generatedAreaMap(tb testing.TB) *areas.Map {
	var b strings.Builder
	for n := range 2000 {
		lat, lon := 52.35+float64(n/50)*0.006, -2.10+float64(n%50)*0.008
		fmt.Fprintf(&b, "[[area]]\nname = \"Area %d\"\ncells = [\"234-30 TAC %x\"]\nboxes = [[%.3f, %.3f, %.3f, %.3f]]\n\n", n, n, lat, lon, lat+0.004, lon+0.006)
	}
	m, err := areas.Parse("generated-areas.toml", []byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// BenchmarkFleetPage is the fleet page IT opens, served from a fleet's
// year (as BenchmarkFleetReport: 1,000 devices by default,
// FIELDLINK_FLEET_DEVICES=18000 and FIELDLINK_FLEET_PG for a trust's), its
// 2,000 areas placed on the area map: the server's time for the page (p95
// of 20 warm requests; the yardstick, the report it is made from, fetched
// and assembled), the page's weight, and the page as headless Chromium lays
// it out: the summary first, the map drawn (its areas linked), the
// operators of each area shown compared and advised on in words, the
// tables paged.
func BenchmarkFleetPage(b *testing.B) {
	ctx := context.Background()
	url, _ := pgtest.FleetDB(b)
	st, err := store.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	day0 := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400
	devices := pgtest.FleetDevices()
	var have int
	st.Pool().QueryRow(ctx, `SELECT COUNT(*) FROM device`).Scan(&have)
	if have != devices {
		if err := st.Generate(ctx, devices, 365, day0, b.Logf); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	// The server's day is the day after the year: its default period is
	// the months before.
	st.SetClock(func() time.Time { return time.Unix((day0+365)*86400+9*3600, 0) })
	viewer, err := st.AddViewer(ctx, fmt.Sprintf("it-%d", time.Now().UnixNano()))
	if err != nil {
		b.Fatal(err)
	}
	placed := generatedAreaMap(b)
	srv := httptest.NewServer(New(st, Options{VisitShare: 0.8, DeviceShare: 0.85, Areas: placed}).Handler())
	defer srv.Close()
	get := func(path string) ([]byte, time.Duration) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+viewer)
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(t0)
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d %.200s", path, resp.StatusCode, body)
		}
		return body, took
	}
	var page []byte
	var runs, yard []time.Duration
	b.ResetTimer()
	for range max(b.N, 20) {
		var took time.Duration
		page, took = get("/report")
		runs = append(runs, took)
		t0 := time.Now()
		if _, _, err := report.From(ctx, st.Fetcher(), report.Query{VisitShare: 0.8, DeviceShare: 0.85, Areas: placed}); err != nil {
			b.Fatal(err)
		}
		yard = append(yard, time.Since(t0))
	}
	b.StopTimer()
	p95 := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[(len(d)*95+99)/100-1]
	}
	r := &rig{srv: srv, viewer: viewer}
	t0 := time.Now()
	doc := r.browse(b, "/report")
	loaded := time.Since(t0)
	checkPageAtScale(b, doc)
	b.ReportMetric(float64(len(page))/1000, "KB-page")
	b.ReportMetric(float64(p95(runs).Milliseconds()), "ms-page-p95")
	b.ReportMetric(float64(p95(yard).Milliseconds()), "ms-report-p95")
	b.ReportMetric(float64(p95(runs))/float64(p95(yard)), "page/report")
	b.ReportMetric(float64(loaded.Milliseconds()), "ms-chromium-load")
	b.Logf("%d devices: the page %.0f KB, p95 %s (the report it is made from, fetched and assembled: p95 %s); Chromium signed in and laid it out in %s",
		devices, float64(len(page))/1000, p95(runs).Round(time.Millisecond), p95(yard).Round(time.Millisecond), loaded.Round(time.Millisecond))
}

// checkPageAtScale fails unless the page as a browser built it leads with
// its headline, draws the map with its areas linked, advises on the
// operators of its areas in words and pages its tables.
func checkPageAtScale(tb testing.TB, doc *html.Node) {
	page := text(doc)
	circles, linked, _ := mapMarks(doc)
	var rows int
	var advice []string
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "li" && n.Parent != nil && attr(n.Parent, "class") == "advice" {
			advice = append(advice, text(n))
		}
		if n.Type == html.ElementNode && n.Data == "tr" {
			rows++
		}
	})
	headline := strings.Index(page, "of clinicians' devices")
	for _, c := range []struct {
		ok   bool
		what string
	}{
		{headline >= 0 && headline < len(page)/4, "the headline near the top"},
		{linked >= 100, fmt.Sprintf("the map with its areas linked (%d circles, %d linked)", circles, linked)},
		{len(advice) > 0 && strings.Contains(advice[0], " workable in ") && strings.Contains(advice[0], " — "),
			fmt.Sprintf("advice per area in words (%q)", advice)},
		{strings.Contains(page, "next 50"), "paged tables"},
		{rows < 1000, fmt.Sprintf("a page of rows, not every one (%d rows)", rows)},
	} {
		if !c.ok {
			tb.Errorf("the page at scale lacks %s", c.what)
		}
	}
}
