package server

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fieldlink/fieldlink/backend/report"
)

// aheadEvery is how old the fleet's report a summary is cut from may be:
// the areas' figures move slowly, and one report serves every device.
const aheadEvery = 10 * time.Minute

// aheadMonths is the months the fleet's figures cover: this one and the
// two before, whole.
const aheadMonths = 3

// timed is a value made at most every aheadEvery (the fleet's figures
// move slowly, and one making serves every device and every page).
type timed[T any] struct {
	mu   sync.Mutex
	made time.Time
	val  T
	have bool
}

// get returns the value kept, or makes it afresh when it is older than
// aheadEvery (or the clock went back).
func (c *timed[T]) get(now time.Time, build func() (T, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.have && now.Sub(c.made) < aheadEvery && !now.Before(c.made) {
		return c.val, nil
	}
	v, err := build()
	if err != nil {
		return v, err
	}
	c.val, c.made, c.have = v, now, true
	return v, nil
}

// ahead answers a device with the fleet's summary of the areas it worked
// in over its recent weeks (report.Ahead): no patient data, a few KB.
func (s *Server) ahead(w http.ResponseWriter, r *http.Request) {
	e, ok := s.device(w, r, "ahead")
	if !ok {
		return
	}
	now := s.store.Now()
	sum := &report.Ahead{Made: now.UTC()}
	if e.Device != "" {
		var err error
		if sum, err = s.summaryFor(r.Context(), e.Device, now); err != nil {
			s.opt.Log.Printf("ahead for %s: %v", e.Name, err)
			fail(w, http.StatusServiceUnavailable, "the fleet database is not answering; try again later")
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(sum)
}

// summaryFor cuts the fleet's report to the areas a device worked in.
func (s *Server) summaryFor(ctx context.Context, device string, now time.Time) (*report.Ahead, error) {
	mine, _, err := report.From(ctx, s.store.Fetcher(), report.Query{Device: device, Since: now.AddDate(0, 0, -7*report.AheadWeeks),
		VisitShare: s.opt.VisitShare, DeviceShare: s.opt.DeviceShare, Areas: s.opt.Areas})
	if err != nil {
		return nil, err
	}
	var areas []string
	for _, row := range mine.Matrix.Rows {
		areas = append(areas, row.Area)
	}
	fleet, err := s.fleetReport(ctx, now)
	if err != nil {
		return nil, err
	}
	return report.AheadFor(fleet, areas, now), nil
}

// fleetReport is the fleet's report over aheadMonths, made afresh when the
// one kept is older than aheadEvery.
func (s *Server) fleetReport(ctx context.Context, now time.Time) (*report.Report, error) {
	return s.fleet.get(now, func() (*report.Report, error) {
		y, m, _ := now.UTC().Date()
		since := time.Date(y, m-aheadMonths+1, 1, 0, 0, 0, 0, time.UTC)
		rep, _, err := report.From(ctx, s.store.Fetcher(), report.Query{Since: since, VisitShare: s.opt.VisitShare,
			DeviceShare: s.opt.DeviceShare, Areas: s.opt.Areas})
		return rep, err
	})
}

// QuietDays is how long a device may go without uploading before the
// page lists it as silent.
const QuietDays = 3

// healthTmpl lists the devices not heard from: a laptop in a drawer, or a
// sync that is broken.
var healthTmpl = template.Must(template.New("health").Parse(`<h2>Devices not heard from in {{.Days}} days</h2>
<table class="data"><thead><tr><th class="left">Device</th><th class="left">Group</th><th>Last upload</th><th class="left">Last area</th><th class="left">Verdict there</th></tr></thead><tbody>
{{range .Rows}}<tr><td class="left">{{.Name}}</td><td class="left">{{.Group}}</td><td>{{.Last}}</td><td class="left">{{.Area}}</td><td class="left">{{.Verdict}}</td></tr>
{{end}}</tbody></table>{{if .More}}<p class="note">and {{.More}} more: <code>fieldlink serve devices</code> lists them all.</p>{{end}}
`))

// maxHealthRows bounds the silent devices listed on the page.
const maxHealthRows = 50

// health is the page's section on silent devices; "" when none is.
func (s *Server) health(ctx context.Context, now time.Time) template.HTML {
	devs, err := s.store.Devices(ctx)
	if err != nil {
		s.opt.Log.Printf("devices: %v", err)
		return ""
	}
	type row struct{ Name, Group, Last, Area, Verdict string }
	var rows []row
	more := 0
	for _, d := range devs {
		if !d.Silent(now, QuietDays*24*time.Hour) {
			continue
		}
		if len(rows) == maxHealthRows {
			more++
			continue
		}
		last := "never"
		if !d.LastUpload.IsZero() {
			last = fmt.Sprintf("%s (%d days ago)", d.LastUpload.UTC().Format("2 Jan 2006"), int(now.Sub(d.LastUpload).Hours()/24))
		}
		area := d.LastArea
		if n := s.opt.Areas.Name(area); n != "" {
			area = n
		}
		rows = append(rows, row{Name: d.Name, Group: d.Group, Last: last, Area: area, Verdict: d.LastVerdict})
	}
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	healthTmpl.Execute(&b, map[string]any{"Days": QuietDays, "Rows": rows, "More": more})
	return template.HTML(b.String())
}
