package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/fieldlink/fieldlink/backend/journal"
)

func opt(v *float64, unit string) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', -1, 64) + unit
}

// signalText is a row's signal with its spread: "-97 dBm (-109…-88)", the
// median, then the figures a tenth of the samples fell below and above.
func signalText(r Row) string {
	s := opt(r.MedianSignal, " "+r.SignalUnit)
	if r.SignalLow != nil && r.SignalHigh != nil && *r.SignalLow != *r.SignalHigh {
		s += " (" + opt(r.SignalLow, "") + "…" + opt(r.SignalHigh, "") + ")"
	}
	return s
}

// techText is a network's time in an area by radio generation, the most
// used first: "4G 81% · 5G 19%"; "" when the devices did not say.
func techText(r Row) string {
	gens := make([]string, 0, len(r.TechShare))
	for g := range r.TechShare {
		gens = append(gens, g)
	}
	sort.Slice(gens, func(i, j int) bool {
		if a, b := r.TechShare[gens[i]], r.TechShare[gens[j]]; a != b {
			return a > b
		}
		return gens[i] > gens[j]
	})
	parts := make([]string, len(gens))
	for i, g := range gens {
		parts[i] = fmt.Sprintf("%s %.0f%%", g, r.TechShare[g])
	}
	return strings.Join(parts, " · ")
}

func fnum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// cellText is one cell of the operator × area table: "92% of 61".
func cellText(workable, visits int64) string {
	if visits == 0 {
		return "-"
	}
	return trim(pct(workable, visits)) + "% of " + count(visits)
}

// DemoNote is what marks simulated data in every rendering.
const DemoNote = "DEMO: simulated data from fieldlink's demo, not real devices; do not merge it into a fleet's figures"

// find is the cell of a network in an area's row.
func (a AreaRow) find(network string) (Cell, bool) {
	for _, c := range a.Cells {
		if c.Network == network {
			return c, true
		}
	}
	return Cell{}, false
}

// WriteTable writes the report as plain text: the answer first.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "fieldlink report: %s\n", r.Period.Text)
	if r.Demo {
		fmt.Fprintf(&b, "%s\n", DemoNote)
	}
	fmt.Fprintf(&b, "\n%s\n", r.Headline.Text)
	if r.Headline.Devices > 0 {
		fmt.Fprintf(&b, "(%s of %s visits workable)\n", count(r.Headline.Workable), count(r.Headline.Visits))
	}
	r.writePeriods(&b)
	r.writeMatrix(&b)
	if len(r.Operators) > 0 {
		fmt.Fprintf(&b, "\nBy operator and network, over all areas\n")
		for _, o := range r.Operators {
			fmt.Fprintf(&b, "  %s\n", o.Text)
		}
	}
	if len(r.DeadZones) > 0 {
		fmt.Fprintf(&b, "\nDead zones (plan to work offline there): %s\n", strings.Join(r.DeadZones, ", "))
	}
	r.writeAdvice(&b)
	r.writeUnnamed(&b)
	fmt.Fprintf(&b, "\nBases\n  %s\n  %s\n  %s\n  %s\n", r.Bases.Visits, r.Bases.Connected, r.Bases.InUse, r.Bases.DeadZone)
	writeSection(&b, "Time by network", r.Networks, byNetwork)
	writeSection(&b, "Time by area and network", r.Areas, byArea)
	writeSection(&b, "By device", r.Devices, byVisits)
	writeSection(&b, "By week", r.Weeks, byVisits)
	writeSection(&b, "By day", r.Days, byVisits)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMatrix writes the operator × area table of workable visits.
func (r *Report) writeMatrix(b *strings.Builder) {
	fmt.Fprintf(b, "\nWorkable visits by area and network (visits with workable signal, of the visits there)\n")
	if len(r.Matrix.Rows) == 0 {
		fmt.Fprintf(b, "  no visits with a known area in this period\n")
		return
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	head := "  \tArea\t" + AllNetworks
	for _, n := range r.Matrix.Networks {
		head += "\t" + n
	}
	fmt.Fprintln(tw, head+"\t")
	for _, row := range r.Matrix.Rows {
		mark := ""
		if row.DeadZone {
			mark = "DEAD ZONE"
		}
		line := mark + "\t" + row.Area + "\t" + cellText(row.Workable, row.Visits)
		for _, n := range r.Matrix.Networks {
			c, _ := row.find(n)
			line += "\t" + cellText(c.Workable, c.Visits)
		}
		fmt.Fprintln(tw, line+"\t")
	}
	tw.Flush()
}

// writeAdvice says, area by area, which SIMs to prefer.
func (r *Report) writeAdvice(b *strings.Builder) {
	var lines []string
	for _, row := range r.Matrix.Rows {
		if row.Advice != "" {
			lines = append(lines, row.Advice)
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "\nWhich SIMs, area by area (operators with at least %d visits there)\n", MinVisitsToRank)
	for _, l := range lines {
		fmt.Fprintf(b, "  %s\n", l)
	}
}

// writeUnnamed lists the codes IT has yet to name.
func (r *Report) writeUnnamed(b *strings.Builder) {
	if len(r.Unnamed) == 0 {
		return
	}
	fmt.Fprintf(b, "\nCodes the area map does not name yet (name them in the area map)\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  Code\tvisits\tconnected h\tnetworks\t")
	for _, u := range r.Unnamed {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", u.Code, count(u.Visits), fnum(u.ConnectedHours), strings.Join(u.Networks, ", "))
	}
	tw.Flush()
}

// sectionKind is which columns a time section has besides the times.
type sectionKind int

const (
	byNetwork sectionKind = iota
	byArea
	byVisits
)

// writeSection writes one table of time figures.
func writeSection(b *strings.Builder, title string, rows []Row, kind sectionKind) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s\n", title)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "\tconnected h\tGO %\tMARGINAL %\tDO NOT PROCEED %\tusable %\tin use h\tworkable %"
	switch kind {
	case byNetwork:
		head = "\tsessions" + head + "\tconnect s\tsignal\tSINR dB"
	case byArea:
		head = "\tnetwork" + head + "\tsignal\ttechnology"
	case byVisits:
		head += "\tvisits\tworkable visits%\tfailovers"
	}
	fmt.Fprintln(tw, head+"\t")
	for _, row := range rows {
		figs := fmt.Sprintf("\t%s\t%s\t%s\t%s\t%s\t%s\t%s", fnum(row.ConnectedHours), fnum(row.GreenPct), fnum(row.AmberPct),
			fnum(row.RedPct), fnum(row.UsablePct), fnum(row.InUseHours), opt(row.WorkablePct, ""))
		var line string
		switch kind {
		case byNetwork:
			line = fmt.Sprintf("%s\t%d%s\t%s\t%s\t%s", row.Key, row.Sessions, figs, opt(row.MedianConnectS, ""),
				opt(row.MedianSignal, " "+row.SignalUnit), opt(row.MedianSINR, ""))
		case byArea:
			line = fmt.Sprintf("%s\t%s%s\t%s\t%s", row.Key, row.Network, figs, signalText(row), techText(row))
		case byVisits:
			line = fmt.Sprintf("%s%s\t%d\t%s\t%d", row.Key, figs, row.Visits, opt(row.WorkableVisitsPct, ""), row.Failovers)
		}
		fmt.Fprintln(tw, line+"\t")
	}
	tw.Flush()
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// csvHeader is the one header of the report's CSV; each row's section says
// which columns it fills.
var csvHeader = []string{"section", "area", "network", "kind", "visits", "workable_visits", "workable_visits_pct",
	"sessions", "connected_hours", "go_pct", "marginal_pct", "do_not_proceed_pct", "usable_pct", "in_use_hours", "workable_pct",
	"failovers", "median_connect_s", "median_signal", "signal_p10", "signal_p90", "signal_unit", "median_sinr_db", "tech_share", "note"}

// WriteCSV writes every table as rows of one CSV, the first column naming
// the table, the answer first. Text that a spreadsheet would take for a
// formula (a Wi-Fi network named "=HYPERLINK(...)") is neutralized.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	o := func(v *float64) string {
		if v == nil {
			return ""
		}
		return fnum(*v)
	}
	safe := journal.SafeCell
	row := func(m map[string]string) {
		out := make([]string, len(csvHeader))
		for i, h := range csvHeader {
			out[i] = m[h]
		}
		cw.Write(out)
	}
	cw.Write(csvHeader)
	row(map[string]string{"section": "period", "note": safe(r.Period.Text), "area": r.Period.From, "network": r.Period.To})
	if r.Demo {
		row(map[string]string{"section": "demo", "note": DemoNote})
	}
	row(map[string]string{"section": "headline", "note": safe(r.Headline.Text), "visits": strconv.FormatInt(r.Headline.Visits, 10),
		"workable_visits": strconv.FormatInt(r.Headline.Workable, 10), "workable_visits_pct": fnum(r.Headline.Pct)})
	for _, a := range r.Matrix.Rows {
		note := ""
		if a.DeadZone {
			note = "dead zone"
		}
		row(map[string]string{"section": "area_visits", "area": safe(a.Area), "network": AllNetworks, "visits": strconv.FormatInt(a.Visits, 10),
			"workable_visits": strconv.FormatInt(a.Workable, 10), "workable_visits_pct": fnum(a.Pct), "note": note})
		for _, c := range a.Cells {
			row(map[string]string{"section": "area_visits", "area": safe(a.Area), "network": safe(c.Network), "kind": c.Kind,
				"visits": strconv.FormatInt(c.Visits, 10), "workable_visits": strconv.FormatInt(c.Workable, 10), "workable_visits_pct": fnum(c.Pct)})
		}
	}
	for _, op := range r.Operators {
		row(map[string]string{"section": "operator_visits", "network": safe(op.Network), "kind": op.Kind, "visits": strconv.FormatInt(op.Visits, 10),
			"workable_visits": strconv.FormatInt(op.Workable, 10), "workable_visits_pct": fnum(op.Pct), "note": fmt.Sprintf("%d areas", op.Areas)})
	}
	for _, u := range r.Unnamed {
		row(map[string]string{"section": "unnamed_code", "area": safe(u.Code), "network": safe(strings.Join(u.Networks, "; ")),
			"visits": strconv.FormatInt(u.Visits, 10), "connected_hours": fnum(u.ConnectedHours)})
	}
	times := func(section string, rows []Row, withArea bool) {
		for _, x := range rows {
			m := map[string]string{"section": section, "network": safe(x.Key), "kind": x.Kind,
				"sessions": strconv.FormatInt(x.Sessions, 10), "connected_hours": fnum(x.ConnectedHours), "go_pct": fnum(x.GreenPct),
				"marginal_pct": fnum(x.AmberPct), "do_not_proceed_pct": fnum(x.RedPct), "usable_pct": fnum(x.UsablePct),
				"in_use_hours": fnum(x.InUseHours), "workable_pct": o(x.WorkablePct), "median_connect_s": o(x.MedianConnectS),
				"median_signal": o(x.MedianSignal), "signal_p10": o(x.SignalLow), "signal_p90": o(x.SignalHigh), "signal_unit": x.SignalUnit, "median_sinr_db": o(x.MedianSINR),
				"tech_share": strings.ReplaceAll(techText(x), " · ", "; ")}
			if withArea {
				m["area"], m["network"] = safe(x.Key), safe(x.Network)
			}
			if x.Visits > 0 || section != "network_time" && section != "area_time" {
				m["visits"] = strconv.FormatInt(x.Visits, 10)
				m["workable_visits"] = strconv.FormatInt(x.WorkableVisits, 10)
				m["workable_visits_pct"] = o(x.WorkableVisitsPct)
				m["failovers"] = strconv.FormatInt(x.Failovers, 10)
			}
			row(m)
		}
	}
	times("network_time", r.Networks, false)
	times("area_time", r.Areas, true)
	times("device", r.Devices, false)
	times("week", r.Weeks, false)
	times("day", r.Days, false)
	for _, n := range []string{r.Bases.Visits, r.Bases.Connected, r.Bases.InUse, r.Bases.DeadZone} {
		row(map[string]string{"section": "base", "note": n})
	}
	cw.Flush()
	return cw.Error()
}

// heat is a cell's class: five steps whose lightness alone orders them, so
// a grayscale print still reads (and the share is written in the cell).
func heat(workable, visits int64) string {
	if visits == 0 {
		return "none"
	}
	p := pct(workable, visits)
	switch {
	case p >= 90:
		return "h4"
	case p >= 80:
		return "h3"
	case p >= 65:
		return "h2"
	case p >= 50:
		return "h1"
	}
	return "h0"
}

// hbar is one horizontal bar with its label beside it, not on it.
type hbar struct {
	Label      string
	Y, TextY   int
	W          float64
	ValueX     float64
	Value      string
	Go, Mg, Rd float64 // stacked widths, for the time bars
	MgX, RdX   float64
}

// WriteHTML writes one self-contained HTML file (no scripts, fonts or
// images fetched; charts are inline SVG) that prints: the period heads
// every printed page, dead zones come first, every share is written as a
// number beside its colour.
func (r *Report) WriteHTML(w io.Writer) error { return r.WriteHTMLPage(w, Page{}) }

// Page is what a web page adds to the printable report: a form of
// filters above it, and links from areas and devices to their details.
type Page struct {
	Form       template.HTML
	AreaHref   func(area string) string
	DeviceHref func(id string) string
	// Note says how current the figures are ("as of 12:40").
	Note string
	// Health is the fleet server's section on devices not heard from.
	Health template.HTML
	// AreaPager and DevicePager say which page of the areas and of the
	// devices is shown, with links to the others (a fleet's page).
	AreaPager, DevicePager template.HTML
	// Map is the map of areas when the page drew it from more areas than
	// it shows (a fleet's page, before paging); else it is drawn here.
	Map template.HTML
}

// WriteHTMLPage writes the report as a page of a web service.
func (r *Report) WriteHTMLPage(w io.Writer, page Page) error {
	const x0, width = 230.0, 420.0
	var opBars []hbar
	for i, o := range r.Operators {
		wd := width * o.Pct / 100
		opBars = append(opBars, hbar{Label: o.Network, Y: 6 + i*26, TextY: 6 + i*26 + 14, W: wd, ValueX: x0 + width + 8,
			Value: fmt.Sprintf("%s%% of %s visits", trim(o.Pct), count(o.Visits))})
	}
	var timeBars []hbar
	for i, n := range r.Networks {
		g, a, rd := width*n.GreenPct/100, width*n.AmberPct/100, width*n.RedPct/100
		timeBars = append(timeBars, hbar{Label: n.Key, Y: 6 + i*26, TextY: 6 + i*26 + 14, Go: g, Mg: a, Rd: rd, MgX: x0 + g, RdX: x0 + g + a,
			ValueX: x0 + width + 8, Value: fmt.Sprintf("%s%% GO, %s%% MARGINAL, %s%% DO NOT PROCEED", trim(n.GreenPct), trim(n.AmberPct), trim(n.RedPct))})
	}
	var advice []string
	for _, row := range r.Matrix.Rows {
		if row.Advice != "" {
			advice = append(advice, row.Advice)
		}
	}
	areaMap := page.Map
	if areaMap == "" {
		areaMap = AreaMap(r.Matrix.Rows, page.AreaHref)
	}
	data := map[string]any{
		"Advice": advice, "MinVisits": MinVisitsToRank, "Map": areaMap,
		"R": r, "OpBars": opBars, "OpHeight": 12 + 26*len(opBars), "TimeBars": timeBars, "TimeHeight": 40 + 26*len(timeBars),
		"LegendY": 18 + 26*len(timeBars),
		"X0":      x0, "Width": width, "Demo": DemoNote, "All": AllNetworks, "Page": page,
	}
	return htmlTmpl.Execute(w, data)
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"opt": opt, "signal": signalText, "tech": techText, "num": fnum, "count": count, "trim": trim, "last": func(s []string) int { return len(s) - 1 },
	"cell": func(a AreaRow, network string) Cell { c, _ := a.find(network); return c },
	"heat": heat, "text": cellText,
	"f1": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>fieldlink report, {{.R.Period.Text}}</title>
<style>
body{font-family:sans-serif;margin:2em;color:#111}
h1{font-size:1.4em;margin-bottom:.2em}h2{font-size:1.1em;margin-top:1.6em}
.period{font-size:1.1em;margin-top:0}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #777;padding:.25em .5em;text-align:right;vertical-align:top}
th[scope=row],th.left,td.left{text-align:left}
.headline{font-size:1.3em;font-weight:bold;border:2px solid #111;padding:.6em;display:inline-block}
.demo{border:3px double #111;padding:.5em;font-weight:bold;text-transform:uppercase}
.note{color:#333;font-size:.9em;max-width:60em}
.heat td{min-width:6.5em}
.heat small{display:block;font-size:.75em}
.h4{background:#f7fcf5}.h3{background:#c7e9c0}.h2{background:#fdae6b}.h1{background:#ef6548}
.h0{background:#7f0000;color:#fff;font-weight:bold}.none{color:#777}
tr.dead th{border-left:6px solid #111}
.tag{font-size:.75em;font-weight:bold;border:1px solid #111;padding:0 .3em;margin-left:.4em;white-space:nowrap}
table.page,table.page>*>tr>td{border:0;padding:0;margin:0;text-align:left}
table.page{width:100%}
.runhead{display:none}
form.filters{margin:1em 0;padding:.5em;border:1px solid #777;display:inline-block}
form.filters label{margin-right:1em}
@media print{
 form.filters{display:none}
 @page{margin:14mm 12mm}
 body{margin:0}
 /* The period heads every printed page: the page's own table header,
    repeated by the browser on each page, so it never covers content. */
 .runhead{display:block;font-size:9pt;border-bottom:1px solid #111;padding-bottom:2pt;margin-bottom:8pt}
 h2{break-after:avoid}svg,table.heat tr,table.data tr{break-inside:avoid}
}
</style></head><body>
<table class="page"><thead><tr><td><div class="runhead">fieldlink report · {{.R.Period.Text}}{{if .R.Demo}} · DEMO, simulated data{{end}}</div></td></tr></thead><tbody><tr><td>
<h1>fieldlink report: workable signal per visit</h1>
<p class="period">Period: <strong>{{.R.Period.Text}}</strong>. Generated {{.R.Generated.Format "2 Jan 2006 15:04 MST"}}.{{with .Page.Note}} {{.}}{{end}}</p>
{{with .Page.Form}}{{.}}{{end}}
{{if .R.Demo}}<p class="demo">{{.Demo}}</p>{{end}}
<p class="headline">{{.R.Headline.Text}}</p>
{{if .R.Headline.Devices}}<p class="note">{{count .R.Headline.Workable}} of {{count .R.Headline.Visits}} visits workable.</p>{{end}}

{{with .Map}}<h2>Where the areas are</h2>
{{.}}
{{end}}<h2>Workable visits by area and network</h2>
<p class="note">Each cell: the share of visits there with workable signal on that network, and of how many visits. {{.R.Bases.Visits}} {{.R.Bases.DeadZone}} Dead zones are listed first.</p>
{{if .R.Matrix.Rows}}<table class="heat">
<thead><tr><th class="left">Area</th><th>{{.All}}</th>{{range .R.Matrix.Networks}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{range $a := .R.Matrix.Rows}}<tr{{if .DeadZone}} class="dead"{{end}}><th scope="row">{{if $.Page.AreaHref}}<a href="{{call $.Page.AreaHref .Area}}">{{.Area}}</a>{{else}}{{.Area}}{{end}}{{if .DeadZone}}<span class="tag">DEAD ZONE</span>{{end}}{{if not .Named}}<span class="tag">unnamed code</span>{{end}}</th><td class="{{heat .Workable .Visits}}">{{text .Workable .Visits}}</td>{{range $n := $.R.Matrix.Networks}}{{$c := cell $a $n}}<td class="{{heat $c.Workable $c.Visits}}">{{text $c.Workable $c.Visits}}</td>{{end}}</tr>
{{end}}</tbody></table>{{with .Page.AreaPager}}{{.}}{{end}}{{else}}<p>No visits with a known area in this period.</p>{{end}}

{{if .R.DeadZones}}<p><strong>Dead zones</strong> (plan to work offline there): {{range $i, $d := .R.DeadZones}}{{if $i}}, {{end}}{{$d}}{{end}}.</p>{{end}}{{if .Advice}}
<h2>Which SIMs, area by area</h2>
<p class="note">Operators with at least {{.MinVisits}} visits in an area, best share of workable visits first.</p>
<ul class="advice">{{range .Advice}}<li>{{.}}</li>{{end}}</ul>{{end}}{{with .Page.Health}}
{{.}}{{end}}

<h2>By operator and network, over all areas</h2>
{{if .OpBars}}<svg role="img" aria-label="Share of visits with workable signal, per network" xmlns="http://www.w3.org/2000/svg" width="900" height="{{.OpHeight}}" font-size="12">
{{range .OpBars}}<text x="0" y="{{.TextY}}">{{.Label}}</text>
<rect x="{{$.X0}}" y="{{.Y}}" width="{{$.Width}}" height="18" fill="none" stroke="#777"/>
<rect x="{{$.X0}}" y="{{.Y}}" width="{{f1 .W}}" height="18" fill="#2e7d32"/>
<text x="{{f1 .ValueX}}" y="{{.TextY}}">{{.Value}}</text>
{{end}}</svg>
<ul>{{range .R.Operators}}<li>{{.Text}}</li>{{end}}</ul>{{else}}<p>No visits in this period.</p>{{end}}{{if .R.Trends}}
<h2>Is it getting better? Month by month</h2>
<p class="note">The share of visits with workable signal on each network, each month{{with (index .R.Trends 0).Area}} in {{.}}{{end}}; the dashed line is 80%.</p>
<table class="data"><thead><tr><th class="left">Network</th><th>{{with index .R.Trends 0}}{{index .Months 0}} – {{index .Months (last .Months)}}{{end}}</th><th class="left">Latest</th></tr></thead><tbody>
{{range .R.Trends}}<tr><td class="left">{{.Network}}</td><td>{{.Spark}}</td><td class="left">{{.Text}}</td></tr>
{{end}}</tbody></table>{{end}}

{{if .R.Unnamed}}<h2>Codes the area map does not name yet</h2>
<p class="note">Add them to the area map to see them by name.</p>
<table class="data"><thead><tr><th class="left">Code</th><th>Visits</th><th>Connected hours</th><th class="left">Networks</th></tr></thead><tbody>
{{range .R.Unnamed}}<tr><td class="left">{{.Code}}</td><td>{{count .Visits}}</td><td>{{num .ConnectedHours}}</td><td class="left">{{range $i, $n := .Networks}}{{if $i}}, {{end}}{{$n}}{{end}}</td></tr>
{{end}}</tbody></table>{{end}}

<h2>Time by network</h2>
<p class="note">{{.R.Bases.Connected}} {{.R.Bases.InUse}}</p>
{{if .TimeBars}}<svg role="img" aria-label="Share of connected time GO, MARGINAL and DO NOT PROCEED, per network" xmlns="http://www.w3.org/2000/svg" width="1000" height="{{.TimeHeight}}" font-size="12">
<defs><pattern id="dnp" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/><rect width="3" height="6" fill="#c62828"/></pattern></defs>
{{range .TimeBars}}<text x="0" y="{{.TextY}}">{{.Label}}</text>
<rect x="{{$.X0}}" y="{{.Y}}" width="{{f1 .Go}}" height="18" fill="#1b5e20"/>
<rect x="{{f1 .MgX}}" y="{{.Y}}" width="{{f1 .Mg}}" height="18" fill="#fdd835"/>
<rect x="{{f1 .RdX}}" y="{{.Y}}" width="{{f1 .Rd}}" height="18" fill="url(#dnp)" stroke="#c62828"/>
<text x="{{f1 .ValueX}}" y="{{.TextY}}">{{.Value}}</text>
{{end}}<g transform="translate({{$.X0}},{{.LegendY}})"><rect width="14" height="12" fill="#1b5e20"/><text x="18" y="10">GO</text>
<rect x="60" width="14" height="12" fill="#fdd835" stroke="#777"/><text x="78" y="10">MARGINAL</text>
<rect x="160" width="14" height="12" fill="url(#dnp)" stroke="#c62828"/><text x="178" y="10">DO NOT PROCEED</text></g>
</svg>{{end}}
<table class="data"><thead><tr><th class="left">Network</th><th>Sessions</th><th>Connected hours</th><th>GO %</th><th>MARGINAL %</th><th>DO NOT PROCEED %</th><th>Usable %</th><th>In use hours</th><th>Workable % of in use</th><th>Median connect s</th><th>Median signal</th><th>Median SINR dB</th></tr></thead><tbody>
{{range .R.Networks}}<tr><td class="left">{{.Key}}</td><td>{{.Sessions}}</td><td>{{num .ConnectedHours}}</td><td>{{num .GreenPct}}</td><td>{{num .AmberPct}}</td><td>{{num .RedPct}}</td><td>{{num .UsablePct}}</td><td>{{num .InUseHours}}</td><td>{{opt .WorkablePct ""}}</td><td>{{opt .MedianConnectS ""}}</td><td>{{opt .MedianSignal .SignalUnit}}</td><td>{{opt .MedianSINR ""}}</td></tr>
{{end}}</tbody></table>

<h2>Time by area and network</h2>
<table class="data"><thead><tr><th class="left">Area</th><th class="left">Network</th><th>Connected hours</th><th>GO %</th><th>MARGINAL %</th><th>DO NOT PROCEED %</th><th>Usable %</th><th>In use hours</th><th>Workable % of in use</th><th title="the median, then the figures a tenth of the samples fell below and above">Signal (spread)</th><th title="connected time by radio generation">Technology</th></tr></thead><tbody>
{{range .R.Areas}}<tr><td class="left">{{.Key}}</td><td class="left">{{.Network}}</td><td>{{num .ConnectedHours}}</td><td>{{num .GreenPct}}</td><td>{{num .AmberPct}}</td><td>{{num .RedPct}}</td><td>{{num .UsablePct}}</td><td>{{num .InUseHours}}</td><td>{{opt .WorkablePct ""}}</td><td>{{signal .}}</td><td>{{tech .}}</td></tr>
{{end}}</tbody></table>

<h2>By device</h2>
<table class="data"><thead><tr><th class="left">Device</th><th>Connected hours</th><th>GO %</th><th>Usable %</th><th>Visits</th><th>Workable visits %</th><th>Failovers</th></tr></thead><tbody>
{{range .R.Devices}}<tr><td class="left">{{if and $.Page.DeviceHref .ID}}<a href="{{call $.Page.DeviceHref .ID}}">{{.Key}}</a>{{else}}{{.Key}}{{end}}</td><td>{{num .ConnectedHours}}</td><td>{{num .GreenPct}}</td><td>{{num .UsablePct}}</td><td>{{.Visits}}</td><td>{{opt .WorkableVisitsPct ""}}</td><td>{{.Failovers}}</td></tr>
{{end}}</tbody></table>{{with .Page.DevicePager}}{{.}}{{end}}

<h2>By week</h2>
<table class="data"><thead><tr><th class="left">Week</th><th>Connected hours</th><th>GO %</th><th>Usable %</th><th>Visits</th><th>Workable visits %</th><th>Failovers</th></tr></thead><tbody>
{{range .R.Weeks}}<tr><td class="left">{{.Key}}</td><td>{{num .ConnectedHours}}</td><td>{{num .GreenPct}}</td><td>{{num .UsablePct}}</td><td>{{.Visits}}</td><td>{{opt .WorkableVisitsPct ""}}</td><td>{{.Failovers}}</td></tr>
{{end}}</tbody></table>

<h2>By day</h2>
<table class="data"><thead><tr><th class="left">Day</th><th>Connected hours</th><th>GO %</th><th>Usable %</th><th>Visits</th><th>Workable visits %</th><th>Failovers</th></tr></thead><tbody>
{{range .R.Days}}<tr><td class="left">{{.Key}}</td><td>{{num .ConnectedHours}}</td><td>{{num .GreenPct}}</td><td>{{num .UsablePct}}</td><td>{{.Visits}}</td><td>{{opt .WorkableVisitsPct ""}}</td><td>{{.Failovers}}</td></tr>
{{end}}</tbody></table>
</td></tr></tbody></table>
</body></html>
`))

// writePeriods writes time on site by periods of use, when no visit was
// marked: how they are found, then the worst areas first.
func (r *Report) writePeriods(b *strings.Builder) {
	p := r.Periods
	if p == nil {
		return
	}
	fmt.Fprintf(b, "\n%s\n(%s)\n", p.Text, p.How)
	for _, a := range p.ByArea {
		fmt.Fprintf(b, "  %s: workable in %s%% of %s periods of use\n", a.Area, trim(a.Pct), count(int64(a.Count)))
	}
}
