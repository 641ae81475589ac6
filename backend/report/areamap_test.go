package report

import (
	"strings"
	"testing"
)

// TestAreaMap: areas with a position are drawn, sized by visits and
// coloured by their share with the words in the legend (never colour
// alone: a dead zone is dashed, each area titled with its figures); areas
// without one are left to the table; nothing at all is drawn when none
// has a position.
func TestAreaMap(t *testing.T) {
	rows := []AreaRow{
		{Area: "Kings Heath", Visits: 402, Pct: 91, Best: "Vodafone", BestPct: 91, Where: &Position{Lat: 52.43, Lon: -1.89}},
		{Area: "Lickey Hills", Visits: 40, Pct: 20, DeadZone: true, Where: &Position{Lat: 52.37, Lon: -2.00}},
		{Area: "Selly Oak", Visits: 100, Pct: 60},
	}
	svg := string(AreaMap(rows, func(a string) string { return "/report?area=" + a }))
	for _, want := range []string{`<svg class="map"`, "Kings Heath: workable in 91% of 402 visits; best Vodafone, 91%",
		"Lickey Hills: workable in 20% of 40 visits; a dead zone", `stroke-dasharray="3 2"`, `href="/report?area=Kings Heath"`,
		"workable in 80% of visits or more", "workable in under 50% of visits", ">dead zone<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the map lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "Selly Oak") || strings.Contains(svg, "http") && !strings.Contains(svg, "http://www.w3.org/2000/svg") {
		t.Errorf("an area with no position is drawn, or something is fetched:\n%s", svg)
	}
	if got := strings.Count(svg, "<circle"); got != 2+4 {
		t.Errorf("%d circles, want 2 areas and 4 in the legend", got)
	}
	if AreaMap([]AreaRow{{Area: "Selly Oak", Visits: 100}}, nil) != "" {
		t.Error("a map was drawn with no area placed")
	}
}
