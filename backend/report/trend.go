package report

import (
	"fmt"
	"html/template"
	"strings"
)

// Trend is one operator's (or one operator's in one area) share of
// workable visits month by month: is it getting better?
type Trend struct {
	Network string `json:"network"`
	// Area is "" for the operator over every area.
	Area   string   `json:"area,omitempty"`
	Months []string `json:"months"`
	// Pct is the share each month, nil where it had no visit.
	Pct    []*float64 `json:"workable_pct"`
	Visits []int64    `json:"visits"`
	// Change is the last month with visits against the one before with
	// visits, in points; nil without two such months.
	Change *float64 `json:"change_points,omitempty"`
	Text   string   `json:"text"`
}

// MonthFigures is what a month's report says, for trends: each operator's
// visits and workable visits, over every area and per area.
type MonthFigures struct {
	Month     string
	Operators map[string][2]int64            // network: visits, workable
	Areas     map[string]map[string][2]int64 // area: network: visits, workable
}

// FiguresOf reads a month's report for trends.
func FiguresOf(month string, r *Report) MonthFigures {
	f := MonthFigures{Month: month, Operators: map[string][2]int64{}, Areas: map[string]map[string][2]int64{}}
	for _, o := range r.Operators {
		f.Operators[o.Network] = [2]int64{o.Visits, o.Workable}
	}
	for _, row := range r.Matrix.Rows {
		m := map[string][2]int64{}
		for _, c := range row.Cells {
			m[c.Network] = [2]int64{c.Visits, c.Workable}
		}
		f.Areas[row.Area] = m
	}
	return f
}

// Trends makes the operators' trends over the months given (oldest
// first), over every area, or in one area.
func Trends(months []MonthFigures, area string) []Trend {
	var nets []string
	seen := map[string]bool{}
	figs := func(m MonthFigures) map[string][2]int64 {
		if area == "" {
			return m.Operators
		}
		return m.Areas[area]
	}
	for _, m := range months {
		for n := range figs(m) {
			if !seen[n] {
				seen[n] = true
				nets = append(nets, n)
			}
		}
	}
	var out []Trend
	for _, n := range nets {
		t := Trend{Network: n, Area: area}
		for _, m := range months {
			v := figs(m)[n]
			t.Months = append(t.Months, m.Month)
			t.Visits = append(t.Visits, v[0])
			if v[0] > 0 {
				p := pct(v[1], v[0])
				t.Pct = append(t.Pct, &p)
			} else {
				t.Pct = append(t.Pct, nil)
			}
		}
		t.Change, t.Text = change(t)
		out = append(out, t)
	}
	return out
}

// change compares the last month with visits to the one before it.
func change(t Trend) (*float64, string) {
	last, prev := -1, -1
	for i := len(t.Pct) - 1; i >= 0; i-- {
		if t.Pct[i] == nil {
			continue
		}
		if last < 0 {
			last = i
		} else {
			prev = i
			break
		}
	}
	name := t.Network
	if t.Area != "" {
		name += " in " + t.Area
	}
	switch {
	case last < 0:
		return nil, name + ": no visits in these months"
	case prev < 0:
		return nil, fmt.Sprintf("%s: workable in %.0f%% of %s in %s", name, *t.Pct[last], plural(t.Visits[last], "visit"), t.Months[last])
	}
	d := *t.Pct[last] - *t.Pct[prev]
	word := "better"
	if d < 0 {
		word = "worse"
	}
	if d > -0.5 && d < 0.5 {
		return &d, fmt.Sprintf("%s: workable in %.0f%% of %s in %s, as in %s", name, *t.Pct[last], plural(t.Visits[last], "visit"),
			t.Months[last], t.Months[prev])
	}
	return &d, fmt.Sprintf("%s: workable in %.0f%% of %s in %s, %.0f points %s than %s", name, *t.Pct[last],
		plural(t.Visits[last], "visit"), t.Months[last], abs(d), word, t.Months[prev])
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Spark draws a trend as a small line chart (0-100 %), its months' shares
// in its title: months without visits break the line.
func (t Trend) Spark() template.HTML {
	const w, h, step = 120.0, 28.0, 20.0
	var b strings.Builder
	var titles []string
	fmt.Fprintf(&b, `<svg class="spark" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f">`,
		template.HTMLEscapeString(t.Text), w, h)
	fmt.Fprintf(&b, `<line x1="0" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#bbb" stroke-dasharray="2 2"/>`, h-2-0.8*(h-4), w, h-2-0.8*(h-4))
	var pts []string
	flush := func() {
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="#1565c0" stroke-width="2" points="%s"/>`, strings.Join(pts, " "))
		}
		pts = nil
	}
	for i, p := range t.Pct {
		if p == nil {
			flush()
			titles = append(titles, t.Months[i]+": no visits")
			continue
		}
		x, y := 4+float64(i)*step, h-2-*p/100*(h-4)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2" fill="#1565c0"/>`, x, y)
		titles = append(titles, fmt.Sprintf("%s: %.0f%% of %d", t.Months[i], *p, t.Visits[i]))
	}
	flush()
	fmt.Fprintf(&b, `<title>%s</title></svg>`, template.HTMLEscapeString(strings.Join(titles, "; ")))
	return template.HTML(b.String())
}
