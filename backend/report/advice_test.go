package report

import (
	"strings"
	"testing"
)

func TestRecommend(t *testing.T) {
	cell := func(net string, visits, workable int64) Cell {
		return Cell{Network: net, Kind: "cellular", Visits: visits, Workable: workable, Pct: pct(workable, visits)}
	}
	wifi := Cell{Network: "Patient's Wi-Fi", Kind: "wifi", Visits: 300, Workable: 300, Pct: 100}
	cases := []struct {
		name string
		row  AreaRow
		want string
	}{
		{"a clear winner", AreaRow{Area: "Kings Heath", Cells: []Cell{cell("EE", 190, 89), cell("Vodafone", 212, 193), wifi}},
			"Kings Heath: Vodafone workable in 91% of 212 visits, EE 47% of 190 — prefer Vodafone SIMs here"},
		{"alike", AreaRow{Area: "Selly Oak", Cells: []Cell{cell("EE", 100, 90), cell("O2", 100, 85)}},
			"Selly Oak: EE workable in 90% of 100 visits, O2 85% of 100 — EE and O2 are alike here"},
		{"too few visits to judge one", AreaRow{Area: "Moseley", Cells: []Cell{cell("EE", 100, 95), cell("Three", 19, 19)}},
			"Moseley: EE workable in 95% of 100 visits — the only operator with enough visits to judge"},
		{"none workable enough", AreaRow{Area: "Lickey Hills", Cells: []Cell{cell("EE", 40, 10), cell("O2", 30, 3)}},
			"Lickey Hills: EE workable in 25% of 40 visits, O2 10% of 30 — no SIM is workable here often enough: plan to work offline"},
		{"nobody has enough visits", AreaRow{Area: "Hall Green", Cells: []Cell{cell("EE", 5, 5), wifi}}, ""},
	}
	for _, c := range cases {
		if got := c.row.Recommend(0.8); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

// TestAdviceIsWritten: the text and HTML reports carry the advice.
func TestAdviceIsWritten(t *testing.T) {
	row := AreaRow{Area: "Kings Heath", Visits: 402, Cells: []Cell{
		{Network: "EE", Kind: "cellular", Visits: 190, Workable: 89, Pct: pct(89, 190)},
		{Network: "Vodafone", Kind: "cellular", Visits: 212, Workable: 193, Pct: pct(193, 212)}}}
	row.Advice = row.Recommend(0.8)
	r := &Report{Matrix: Matrix{Networks: []string{"EE", "Vodafone"}, Rows: []AreaRow{row}}}
	for name, write := range map[string]func(*strings.Builder) error{
		"text": func(b *strings.Builder) error { return r.WriteTable(b) },
		"html": func(b *strings.Builder) error { return r.WriteHTML(b) },
	} {
		var b strings.Builder
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "Which SIMs, area by area") || !strings.Contains(b.String(), "prefer Vodafone SIMs here") {
			t.Errorf("%s report lacks the advice:\n%s", name, b.String())
		}
	}
}
