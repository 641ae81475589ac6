package server

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/fieldlink/fieldlink/backend/report"
)

// bigReport is a fleet's report at the scale of issue 25: 18,000 devices
// in 10,063 areas on four networks.
func bigReport() *report.Report {
	nets := []string{"EE (234-30)", "O2 (234-10)", "Three (234-20)", "Vodafone (234-15)"}
	r := &report.Report{Matrix: report.Matrix{Networks: nets}}
	for i := range 10063 {
		row := report.AreaRow{Area: fmt.Sprintf("Area %05d", i), Named: true, Visits: int64(10 + i%300), Workable: int64(5 + i%200)}
		row.Pct = 100 * float64(row.Workable) / float64(row.Visits)
		row.DeadZone = i%97 == 0
		row.Where = &report.Position{Lat: 52 + float64(i%101)/100, Lon: -2 + float64(i/101)/100}
		for _, n := range nets {
			row.Cells = append(row.Cells, report.Cell{Network: n, Kind: "cellular", Visits: row.Visits / 4, Workable: row.Workable / 4, Pct: row.Pct})
			r.Areas = append(r.Areas, report.Row{Key: row.Area, Network: n, ConnectedHours: 12.5, GreenPct: 80})
		}
		r.Matrix.Rows = append(r.Matrix.Rows, row)
	}
	for i := range 18000 {
		pct := float64(i % 100)
		r.Devices = append(r.Devices, report.Row{Key: fmt.Sprintf("tb-nurse-%05d", i), ID: fmt.Sprintf("id-%05d", i), Visits: 40, WorkableVisitsPct: &pct})
	}
	return r
}

// TestPageWeightAtFleetScale: the page of a fleet of 18,000 devices in
// 10,063 areas weighs no more than 300 KB (it was 2.0 MB at 2,000
// devices, every area and every device on one page), shows a page of each
// long table with the way to the next, and finds an area or a device by
// its name.
func TestPageWeightAtFleetScale(t *testing.T) {
	render := func(q string) string {
		r := bigReport()
		v, _ := url.ParseQuery(q)
		pg := pagingOf(v)
		link := func(k, val string) string { return "/report?" + k + "=" + val }
		areaMap := report.AreaMap(r.Matrix.Rows, func(a string) string { return link("area", a) })
		pg.apply(r)
		var b strings.Builder
		if err := r.WriteHTMLPage(&b, report.Page{Map: areaMap, AreaPager: pg.pager("Areas", "areas_page", pg.areaPage, pg.areas, pg.shownAreas, link),
			DevicePager: pg.pager("Devices", "devices_page", pg.devicePage, pg.devs, pg.shownDevices, link)}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	page := render("")
	t.Logf("page weight at 18,000 devices in 10,063 areas: %.1f KB", float64(len(page))/1024)
	if len(page) > 300<<10 {
		t.Fatalf("the page weighs %d KB, over 300 KB", len(page)>>10)
	}
	for _, want := range []string{"The 400 areas with the most visits; 9663 more are in the table.", "Areas 1–50 of 10063", `href="/report?areas_page=2"`, "Devices 1–50 of 18000", `href="/report?devices_page=2"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	last := render("areas_page=202&sort=worst")
	if !strings.Contains(last, "Areas 10051–10063 of 10063") || !strings.Contains(last, "previous 50") || strings.Contains(last, "next 50</a></p>\n<h2>By operator") {
		t.Errorf("the last page of areas is wrong")
	}
	found := render("q=tb-nurse-17999")
	if !strings.Contains(found, "tb-nurse-17999") || !strings.Contains(found, "Devices 1–1 of 1 matching") {
		t.Errorf("a device searched for is not found")
	}
	if found := render("q=Area+00042"); !strings.Contains(found, "Areas 1–1 of 1 matching") || !strings.Contains(found, ">Area 00042<") {
		t.Errorf("an area searched for is not found")
	}
}
