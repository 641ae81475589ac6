package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

func opt(v *float64, unit string) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', -1, 64) + unit
}

func fnum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// WriteTable writes the report as plain-text tables.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	period := "all recorded days"
	if r.Since != "" || r.Until != "" {
		period = fmt.Sprintf("%s to %s", orDash(r.Since), orDash(r.Until))
	}
	fmt.Fprintf(&b, "fieldlink report: %s\n\n", period)
	fmt.Fprintf(&b, "%s\n", r.Headline.Text)
	if r.Headline.Devices > 0 {
		fmt.Fprintf(&b, "(%d of %d visits workable; a visit is workable when its link was at least amber with probes passing for %s%% of it)\n",
			r.Headline.Workable, r.Headline.Visits, trim(100*r.Headline.VisitShare))
	}
	const (
		network = iota
		area
		visits
	)
	section := func(title string, rows []Row, kind int) {
		fmt.Fprintf(&b, "\n%s\n", title)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		head := "\tsessions\thours\tgreen%\tamber%\tred%\tworkable%"
		switch kind {
		case visits:
			head += "\tvisits\tworkable visits%\tfailovers"
		case network:
			head += "\tconnect s\tsignal\tSINR dB"
		case area:
			head = "\thours\tgreen%\tamber%\tred%\tsignal"
		}
		fmt.Fprintln(tw, head+"\t")
		for _, row := range rows {
			line := fmt.Sprintf("%s\t%d\t%s\t%s\t%s\t%s\t%s", row.Key, row.Sessions, fnum(row.ConnectedHours), fnum(row.GreenPct),
				fnum(row.AmberPct), fnum(row.RedPct), fnum(row.WorkablePct))
			switch kind {
			case visits:
				line += fmt.Sprintf("\t%d\t%s\t%d", row.Visits, opt(row.WorkableVisitsPct, ""), row.Failovers)
			case network:
				line += fmt.Sprintf("\t%s\t%s\t%s", opt(row.MedianConnectS, ""), opt(row.MedianSignal, " "+row.SignalUnit), opt(row.MedianSINR, ""))
			case area:
				line = fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", row.Key, fnum(row.ConnectedHours), fnum(row.GreenPct), fnum(row.AmberPct),
					fnum(row.RedPct), opt(row.MedianSignal, " "+row.SignalUnit))
			}
			fmt.Fprintln(tw, line+"\t")
		}
		tw.Flush()
	}
	section("By operator / network", r.Networks, network)
	section("By area", r.Areas, area)
	section("By device", r.Devices, visits)
	section("By week", r.Weeks, visits)
	section("By day", r.Days, visits)
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteCSV writes every breakdown as rows of one CSV, the first column
// naming the breakdown.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"breakdown", "key", "kind", "sessions", "connected_hours", "green_pct", "amber_pct", "red_pct", "workable_pct",
		"visits", "workable_visits", "workable_visits_pct", "failovers", "median_connect_s", "median_signal", "signal_unit", "median_sinr_db"})
	o := func(v *float64) string {
		if v == nil {
			return ""
		}
		return fnum(*v)
	}
	for _, s := range []struct {
		name string
		rows []Row
	}{{"operator", r.Networks}, {"area", r.Areas}, {"device", r.Devices}, {"week", r.Weeks}, {"day", r.Days}} {
		for _, row := range s.rows {
			cw.Write([]string{s.name, row.Key, row.Kind, strconv.FormatInt(row.Sessions, 10), fnum(row.ConnectedHours),
				fnum(row.GreenPct), fnum(row.AmberPct), fnum(row.RedPct), fnum(row.WorkablePct), strconv.FormatInt(row.Visits, 10),
				strconv.FormatInt(row.WorkableVisits, 10), o(row.WorkableVisitsPct), strconv.FormatInt(row.Failovers, 10),
				o(row.MedianConnectS), o(row.MedianSignal), row.SignalUnit, o(row.MedianSINR)})
		}
	}
	cw.Write([]string{"headline", r.Headline.Text, "", "", "", "", "", "", "", strconv.FormatInt(r.Headline.Visits, 10),
		strconv.FormatInt(r.Headline.Workable, 10), fnum(r.Headline.Pct), "", "", "", "", ""})
	cw.Flush()
	return cw.Error()
}

// bar is one stacked bar of the per-operator chart.
type bar struct {
	Label                string
	Y                    int
	GreenW, AmberW, RedW float64
	AmberX, RedX         float64
	GreenPct, Hours      float64
}

type point struct{ X, Y float64 }

// WriteHTML writes one self-contained HTML file: no scripts, fonts or
// images fetched; charts are inline SVG; it prints cleanly.
func (r *Report) WriteHTML(w io.Writer) error {
	const width = 520.0
	var bars []bar
	for i, row := range r.Networks {
		g, a := width*row.GreenPct/100, width*row.AmberPct/100
		bars = append(bars, bar{Label: row.Key, Y: 8 + i*28, GreenW: g, AmberW: a, RedW: width * row.RedPct / 100,
			AmberX: 200 + g, RedX: 200 + g + a, GreenPct: row.GreenPct, Hours: row.ConnectedHours})
	}
	var trend []point
	var poly strings.Builder
	n := len(r.Days)
	for i, d := range r.Days {
		x := 40.0
		if n > 1 {
			x += float64(i) * 640 / float64(n-1)
		}
		y := 10 + 180*(1-d.GreenPct/100)
		trend = append(trend, point{x, y})
		fmt.Fprintf(&poly, "%.1f,%.1f ", x, y)
	}
	data := map[string]any{
		"R": r, "Bars": bars, "BarsHeight": 16 + 28*len(bars), "Trend": trend, "Poly": strings.TrimSpace(poly.String()),
		"FirstDay": first(r.Days), "LastDay": last(r.Days),
	}
	return htmlTmpl.Execute(w, data)
}

func first(rows []Row) string {
	if len(rows) == 0 {
		return ""
	}
	return rows[0].Key
}

func last(rows []Row) string {
	if len(rows) == 0 {
		return ""
	}
	return rows[len(rows)-1].Key
}

// shade colours an area cell by its green share, with the figure written
// in it: the colour helps, the number says.
func shade(greenPct float64) template.CSS {
	switch {
	case greenPct >= 80:
		return "background:#b7e4b7"
	case greenPct >= 50:
		return "background:#f6e3a1"
	}
	return "background:#f2b8b5"
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"opt": opt, "num": fnum, "shade": shade, "pct100": func(v float64) string { return trim(100 * v) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>fieldlink report</title>
<style>
body{font-family:sans-serif;margin:2em;color:#111}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #999;padding:.25em .5em;text-align:right}
td:first-child,th:first-child{text-align:left}
.headline{font-size:1.3em;font-weight:bold;border:2px solid #111;padding:.6em;display:inline-block}
.note{color:#444;font-size:.9em}
@media print{body{margin:0}h2{break-after:avoid}table,svg{break-inside:avoid}}
</style></head><body>
<h1>fieldlink report{{if or .R.Since .R.Until}}: {{.R.Since}} to {{.R.Until}}{{end}}</h1>
<p class="headline">{{.R.Headline.Text}}</p>
<p class="note">A visit is workable when its link was at least amber (MARGINAL) with probes passing for {{pct100 .R.Headline.VisitShare}}% of it. Generated {{.R.Generated.Format "2006-01-02 15:04 MST"}}.</p>

<h2>By operator / network: share of connected time</h2>
<svg role="img" aria-label="Share of connected time green, amber and red, per operator" xmlns="http://www.w3.org/2000/svg" width="740" height="{{.BarsHeight}}" font-size="12">
{{range .Bars}}<text x="0" y="{{.Y}}" dy="14">{{.Label}}</text>
<rect x="200" y="{{.Y}}" width="{{printf "%.1f" .GreenW}}" height="20" fill="#2e7d32"><title>green {{.GreenPct}}%</title></rect>
<rect x="{{printf "%.1f" .AmberX}}" y="{{.Y}}" width="{{printf "%.1f" .AmberW}}" height="20" fill="#f9a825"/>
<rect x="{{printf "%.1f" .RedX}}" y="{{.Y}}" width="{{printf "%.1f" .RedW}}" height="20" fill="#c62828"/>
<text x="728" y="{{.Y}}" dy="14" text-anchor="end">{{.GreenPct}}% GO</text>
{{end}}</svg>
<table><tr><th>Operator / network</th><th>Sessions</th><th>Hours</th><th>GO %</th><th>MARGINAL %</th><th>DO NOT PROCEED %</th><th>Workable %</th><th>Median connect s</th><th>Median signal</th><th>Median SINR dB</th></tr>
{{range .R.Networks}}<tr><td>{{.Key}}</td><td>{{.Sessions}}</td><td>{{num .ConnectedHours}}</td><td>{{num .GreenPct}}</td><td>{{num .AmberPct}}</td><td>{{num .RedPct}}</td><td>{{num .WorkablePct}}</td><td>{{opt .MedianConnectS ""}}</td><td>{{opt .MedianSignal .SignalUnit}}</td><td>{{opt .MedianSINR ""}}</td></tr>
{{end}}</table>

<h2>By area</h2>
<table><tr><th>Area</th><th>Hours</th><th>GO %</th><th>MARGINAL %</th><th>DO NOT PROCEED %</th><th>Median signal</th></tr>
{{range .R.Areas}}<tr><td>{{.Key}}</td><td>{{num .ConnectedHours}}</td><td style="{{shade .GreenPct}}">{{num .GreenPct}}</td><td>{{num .AmberPct}}</td><td>{{num .RedPct}}</td><td>{{opt .MedianSignal .SignalUnit}}</td></tr>
{{end}}</table>

<h2>Per day: share of connected time GO</h2>
<svg role="img" aria-label="Share of connected time GO per day" xmlns="http://www.w3.org/2000/svg" width="720" height="220" font-size="12">
<line x1="40" y1="10" x2="40" y2="190" stroke="#111"/><line x1="40" y1="190" x2="700" y2="190" stroke="#111"/>
<text x="34" y="14" text-anchor="end">100%</text><text x="34" y="194" text-anchor="end">0%</text>
{{if .Poly}}<polyline fill="none" stroke="#2e7d32" stroke-width="2" points="{{.Poly}}"/>{{end}}
{{range .Trend}}<circle cx="{{printf "%.1f" .X}}" cy="{{printf "%.1f" .Y}}" r="2.5" fill="#2e7d32"/>{{end}}
<text x="40" y="210">{{.FirstDay}}</text><text x="700" y="210" text-anchor="end">{{.LastDay}}</text>
</svg>

<h2>By device</h2>
<table><tr><th>Device</th><th>Sessions</th><th>Hours</th><th>GO %</th><th>Visits</th><th>Workable visits %</th><th>Failovers</th></tr>
{{range .R.Devices}}<tr><td>{{.Key}}</td><td>{{.Sessions}}</td><td>{{num .ConnectedHours}}</td><td>{{num .GreenPct}}</td><td>{{.Visits}}</td><td>{{opt .WorkableVisitsPct ""}}</td><td>{{.Failovers}}</td></tr>
{{end}}</table>

<h2>By week</h2>
<table><tr><th>Week</th><th>Sessions</th><th>Hours</th><th>GO %</th><th>Visits</th><th>Workable visits %</th><th>Failovers</th></tr>
{{range .R.Weeks}}<tr><td>{{.Key}}</td><td>{{.Sessions}}</td><td>{{num .ConnectedHours}}</td><td>{{num .GreenPct}}</td><td>{{.Visits}}</td><td>{{opt .WorkableVisitsPct ""}}</td><td>{{.Failovers}}</td></tr>
{{end}}</table>
</body></html>
`))
