package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/fleet/upload"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/backend/testbed/fleetsample"
)

// TestAheadBringsTheFleetsFiguresForTheDevicesAreas: after a sync the
// device asks for the fleet's summary of its areas; it holds exactly the
// areas the device worked in over its recent weeks, each with the fleet's
// figures there (equal to the fleet report's row over the same months),
// says when it was made and from how many devices, and is kept in the
// device's journal. A stranger gets nothing; a device enrolled that never
// uploaded gets an empty summary.
func TestAheadBringsTheFleetsFiguresForTheDevicesAreas(t *testing.T) {
	r := newRig(t)
	for i := range r.paths {
		if _, err := r.sync(i, upload.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if _, err := r.store.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(r.paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	sum, err := upload.FetchAhead(ctx, j, upload.Options{Server: r.srv.URL, Token: r.tokens[0]})
	if err != nil {
		t.Fatal(err)
	}
	// What the device itself saw over its recent weeks names the areas.
	now := fleetsample.Clock()
	mine := r.merged(report.Query{Device: fleetsample.Hosts[0], Since: now.AddDate(0, 0, -7*report.AheadWeeks), VisitShare: 0.8, DeviceShare: 0.85})
	y, m, _ := now.UTC().Date()
	fleet := r.merged(report.Query{Since: time.Date(y, m-2, 1, 0, 0, 0, 0, time.UTC), VisitShare: 0.8, DeviceShare: 0.85})
	if len(mine.Matrix.Rows) == 0 || len(sum.Areas) != len(mine.Matrix.Rows) {
		t.Fatalf("summary of %d areas for a device that worked in %d", len(sum.Areas), len(mine.Matrix.Rows))
	}
	for _, row := range mine.Matrix.Rows {
		got, want := sum.Find(row.Area), findRow(fleet, row.Area)
		if got == nil || want == nil {
			t.Fatalf("area %s: in the summary %v, in the fleet's report %v", row.Area, got != nil, want != nil)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("area %s: the summary says\n%s\nthe fleet's report\n%s", row.Area, gj, wj)
		}
		if sum.Line(row.Area) == "" {
			t.Errorf("area %s: no line to show", row.Area)
		}
	}
	if sum.Devices != len(fleetsample.Hosts) || !sum.Made.Equal(now) {
		t.Fatalf("made %v from %d devices, want %v from %d", sum.Made, sum.Devices, now, len(fleetsample.Hosts))
	}
	if doc, made, err := j.Ahead(ctx); err != nil || len(doc) == 0 || !made.Equal(now) {
		t.Fatalf("kept in the journal: %d bytes made %v (%v)", len(doc), made, err)
	}
	// A stranger, and a device that never uploaded.
	req, _ := http.NewRequest("GET", r.srv.URL+"/api/v1/ahead", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a stranger: %v %v", resp, err)
	}
	tok, err := r.store.Enroll(ctx, "tb-new", "")
	if err != nil {
		t.Fatal(err)
	}
	empty, err := upload.FetchAhead(ctx, j, upload.Options{Server: r.srv.URL, Token: tok})
	if err != nil || len(empty.Areas) != 0 {
		t.Fatalf("a device with no uploads: %+v %v", empty, err)
	}
}

func findRow(r *report.Report, area string) *report.AreaRow {
	for i := range r.Matrix.Rows {
		if r.Matrix.Rows[i].Area == area {
			return &r.Matrix.Rows[i]
		}
	}
	return nil
}

// TestPageListsSilentDevices: a device enrolled that has not uploaded for
// QuietDays (here: never) is listed on the page with its group; the ones
// that uploaded are not.
func TestPageListsSilentDevices(t *testing.T) {
	r := newRig(t)
	for i := range r.paths {
		if _, err := r.sync(i, upload.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.store.Enroll(context.Background(), "tb-in-a-drawer", "Community East"); err != nil {
		t.Fatal(err)
	}
	code, page := r.get("/report")
	if code != 200 || !strings.Contains(page, "Devices not heard from in 3 days") ||
		!strings.Contains(page, `<td class="left">tb-in-a-drawer</td><td class="left">Community East</td><td>never</td>`) {
		t.Fatalf("page %d lacks the silent device:\n%.3000s", code, page)
	}
	for _, h := range fleetsample.Hosts {
		if strings.Contains(page, `<td class="left">`+h+`</td><td class="left">Community`) {
			t.Errorf("%s uploaded, but is listed as silent", h)
		}
	}
}

// TestTrendsFollowTheMonths: the fleet's report says, per operator, its
// share month by month over the last six months (here all the visits are
// in November: that month equals the operators' lines, the others have
// none), on the page as a small chart beside the words; an area's page
// says it for that area.
func TestTrendsFollowTheMonths(t *testing.T) {
	r := newRig(t)
	for i := range r.paths {
		if _, err := r.sync(i, upload.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	r.store.Refresh(context.Background())
	code, body := r.get("/report.json")
	var rep report.Report
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil {
		t.Fatalf("%d %.200s", code, body)
	}
	if len(rep.Trends) != len(rep.Operators) {
		t.Fatalf("%d trends for %d operators", len(rep.Trends), len(rep.Operators))
	}
	for _, tr := range rep.Trends {
		if len(tr.Months) != TrendMonths || tr.Months[4] != "Nov 2026" || tr.Pct[4] == nil || tr.Pct[3] != nil || tr.Visits[5] != 0 {
			t.Fatalf("trend %+v", tr)
		}
		for _, o := range rep.Operators {
			if o.Network == tr.Network && (tr.Visits[4] != o.Visits || *tr.Pct[4] != o.Pct) {
				t.Errorf("%s in November: %d visits %.1f%%, its line says %d, %.1f%%", o.Network, tr.Visits[4], *tr.Pct[4], o.Visits, o.Pct)
			}
		}
	}
	_, page := r.get("/report")
	if !strings.Contains(page, "Is it getting better? Month by month") || strings.Count(page, `<svg class="spark"`) != len(rep.Trends) {
		t.Fatalf("the page lacks the trends")
	}
	_, area := r.get("/report.json?area=Northfield")
	var north report.Report
	json.Unmarshal([]byte(area), &north)
	if len(north.Trends) == 0 || north.Trends[0].Area != "Northfield" {
		t.Fatalf("an area's trends: %+v", north.Trends)
	}
}

// TestFiguresAreRightSecondsAfterAnUpload: with the refresher running on
// an hour's tick, each upload is summed within seconds of its
// acknowledgement, the headline and the table of areas alike: the report
// read then equals the merged journals of the devices synced so far.
func TestFiguresAreRightSecondsAfterAnUpload(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.fs.Refresher(ctx, time.Hour, func(string, ...any) {}) // t.Logf would outlive the test
	for i := range r.paths {
		if _, err := r.sync(i, upload.Options{}); err != nil {
			t.Fatal(err)
		}
		acked := time.Now()
		keep := r.paths
		r.paths = keep[:i+1]
		want := r.merged(report.Query{VisitShare: 0.8, DeviceShare: 0.85})
		r.paths = keep
		for {
			_, body := r.get("/report.json")
			var got report.Report
			json.Unmarshal([]byte(body), &got)
			if got.Headline.Visits == want.Headline.Visits && len(got.Matrix.Rows) == len(want.Matrix.Rows) {
				sameJSON(t, fmt.Sprintf("after device %d's upload", i+1), &got, want)
				t.Logf("device %d: right %v after the acknowledgement", i+1, time.Since(acked).Round(time.Millisecond))
				break
			}
			if time.Since(acked) > 5*time.Second {
				t.Fatalf("device %d: 5 s after the acknowledgement the report has %d visits in %d areas, want %d in %d",
					i+1, got.Headline.Visits, len(got.Matrix.Rows), want.Headline.Visits, len(want.Matrix.Rows))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
