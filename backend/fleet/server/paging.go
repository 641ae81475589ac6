package server

import (
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/fieldlink/fieldlink/backend/report"
)

// PageRows is how many areas or devices one page of the report shows: a
// fleet of 18,000 devices in 10,000 areas is read a page at a time, the
// whole of it in the CSV and JSON.
const PageRows = 50

// paging is what a page of the report shows of its long tables: a search,
// the order, and which page of areas and of devices.
type paging struct {
	search       string
	order        string // "" (the report's own: dead zones first), "worst", "visits" or "name"
	areaPage     int
	devicePage   int
	areas, devs  int // rows after the search, before the page
	shownAreas   int
	shownDevices int
}

// pagingOf reads the page's parameters.
func pagingOf(v url.Values) paging {
	p := paging{search: strings.TrimSpace(v.Get("q")), order: v.Get("sort")}
	if p.order != "visits" && p.order != "name" && p.order != "worst" {
		p.order = ""
	}
	num := func(k string) int {
		n, err := strconv.Atoi(v.Get(k))
		if err != nil || n < 1 {
			return 1
		}
		return n
	}
	p.areaPage, p.devicePage = num("areas_page"), num("devices_page")
	return p
}

// apply cuts a report to what the page shows: the areas and devices that
// match the search, in the order asked, one page of each; the time by
// area only for the areas shown. The headline, the operators and the dead
// zones stay the whole period's.
func (p *paging) apply(r *report.Report) {
	rows := r.Matrix.Rows[:0:0]
	for _, row := range r.Matrix.Rows {
		if p.matches(row.Area) {
			rows = append(rows, row)
		}
	}
	sortAreas(rows, p.order)
	p.areas = len(rows)
	r.Matrix.Rows = pageOf(rows, p.areaPage)
	p.shownAreas = len(r.Matrix.Rows)
	shown := map[string]bool{}
	for _, row := range r.Matrix.Rows {
		shown[row.Area] = true
	}
	times := r.Areas[:0:0]
	for _, row := range r.Areas {
		if shown[row.Key] {
			times = append(times, row)
		}
	}
	r.Areas = times
	devs := r.Devices[:0:0]
	for _, d := range r.Devices {
		if p.matches(d.Key) || p.matches(d.ID) {
			devs = append(devs, d)
		}
	}
	sortDevices(devs, p.order)
	p.devs = len(devs)
	r.Devices = pageOf(devs, p.devicePage)
	p.shownDevices = len(r.Devices)
	if len(r.Unnamed) > PageRows {
		r.Unnamed = r.Unnamed[:PageRows]
	}
}

func (p *paging) matches(s string) bool {
	return p.search == "" || strings.Contains(strings.ToLower(s), strings.ToLower(p.search))
}

// pageOf is the n-th page of rows (the last when n is past the end).
func pageOf[T any](rows []T, n int) []T {
	pages := max(1, (len(rows)+PageRows-1)/PageRows)
	n = min(n, pages)
	lo := (n - 1) * PageRows
	return rows[lo:min(len(rows), lo+PageRows)]
}

// ranked is what an order reads of a row: its name, its visits, and how
// bad it is (lower is worse).
type ranked struct {
	name   string
	visits int64
	worse  float64
}

// sortBy orders rows as asked: "" leaves the report's own order (dead
// zones first), "worst" the lowest share first, "visits" the most first,
// "name" alphabetically.
func sortBy[T any](rows []T, order string, of func(T) ranked) {
	if order == "" {
		return
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := of(rows[i]), of(rows[j])
		switch order {
		case "visits":
			return a.visits > b.visits
		case "name":
			return strings.ToLower(a.name) < strings.ToLower(b.name)
		}
		return a.worse < b.worse
	})
}

// sortAreas orders the areas; worst is dead zones, then by their share
// of workable visits.
func sortAreas(rows []report.AreaRow, order string) {
	sortBy(rows, order, func(r report.AreaRow) ranked {
		worse := r.Pct
		if r.DeadZone {
			worse -= 1000
		}
		return ranked{r.Area, r.Visits, worse}
	})
}

// sortDevices orders the devices; worst is by their share of workable
// visits (a device with none is not among the worst).
func sortDevices(rows []report.Row, order string) {
	sortBy(rows, order, func(r report.Row) ranked {
		worse := 101.0
		if r.WorkableVisitsPct != nil {
			worse = *r.WorkableVisitsPct
		}
		return ranked{r.Key, r.Visits, worse}
	})
}

var pagerTmpl = template.Must(template.New("pager").Parse(`<p class="pager">{{.What}} {{.From}}–{{.To}} of {{.Of}}{{if .Search}} matching “{{.Search}}”{{end}}{{if .Prev}} · <a href="{{.Prev}}">previous {{.Size}}</a>{{end}}{{if .Next}} · <a href="{{.Next}}">next {{.Size}}</a>{{end}}</p>`))

// pager is the line under a paged table: where the page is, and links to
// the pages either side.
func (p *paging) pager(what, key string, page, total, shown int, link func(k, v string) string) template.HTML {
	if total <= PageRows && p.search == "" {
		return ""
	}
	pages := max(1, (total+PageRows-1)/PageRows)
	page = min(page, pages)
	from := (page-1)*PageRows + 1
	if shown == 0 {
		from = 0
	}
	d := map[string]any{"What": what, "From": from, "To": from + max(shown-1, 0), "Of": total, "Search": p.search, "Size": PageRows}
	if page > 1 {
		d["Prev"] = link(key, strconv.Itoa(page-1))
	}
	if page < pages {
		d["Next"] = link(key, strconv.Itoa(page+1))
	}
	var b strings.Builder
	pagerTmpl.Execute(&b, d)
	return template.HTML(b.String())
}

// presets are the periods a manager asks for most, as links.
func presets(today string, link func(since, until string) string) template.HTML {
	var b strings.Builder
	b.WriteString(`<p class="presets">Show: `)
	for i, p := range periodPresets(today) {
		if i > 0 {
			b.WriteString(" · ")
		}
		fmt.Fprintf(&b, `<a href="%s">%s</a>`, template.HTMLEscapeString(link(p.since, p.until)), p.name)
	}
	b.WriteString("</p>")
	return template.HTML(b.String())
}
