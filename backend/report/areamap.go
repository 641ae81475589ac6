package report

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"
)

// The map of areas: each area with a position drawn where it is, its
// colour its share of workable visits, its size its visits, its title
// (hover) and its link (tap) saying the best operator there. Drawn by the
// server as inline SVG: a hospital's server has no internet, so no map
// tiles are fetched from anywhere; the operator × area table under it is
// the same figures as text.
const (
	// MapAreas bounds the areas drawn: the busiest, so that a fleet in
	// 10,000 areas still makes a page a browser opens at once.
	MapAreas = 400
	// MapLabels is how many of the busiest areas are named on the map.
	MapLabels          = 12
	mapW, mapH, mapPad = 900.0, 520.0, 30.0
)

// heatLevel words a share of workable visits the way the page's cells
// colour it.
func heatLevel(pct float64) (fill, words string) {
	switch {
	case pct >= 80:
		return "#2e7d32", "workable in 80% of visits or more"
	case pct >= 50:
		return "#f9a825", "workable in 50-80% of visits"
	}
	return "#c62828", "workable in under 50% of visits"
}

// AreaMap draws the areas that have a position; "" when none has. href,
// when set, links each area to its own page.
func AreaMap(rows []AreaRow, href func(area string) string) template.HTML {
	var placed []AreaRow
	for _, r := range rows {
		if r.Where != nil && r.Visits > 0 {
			placed = append(placed, r)
		}
	}
	if len(placed) == 0 {
		return ""
	}
	sort.SliceStable(placed, func(i, j int) bool { return placed[i].Visits > placed[j].Visits })
	left := len(placed) - MapAreas
	placed = placed[:min(len(placed), MapAreas)]
	pr := project(placed)
	maxV := float64(placed[0].Visits)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="map" role="img" aria-label="Map of %d areas: colour is the share of visits workable, size the visits" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" font-size="11">`,
		len(placed), mapW, mapH+40, mapW, mapH+40)
	b.WriteString(`<rect width="100%" height="100%" fill="#f7f7f7"/>`)
	// The biggest first, so that small areas are drawn over them.
	for i := len(placed) - 1; i >= 0; i-- {
		r := placed[i]
		x, y := pr(r.Where)
		rad := 4 + 18*math.Sqrt(float64(r.Visits)/maxV)
		fill, _ := heatLevel(r.Pct)
		dash := ""
		if r.DeadZone {
			dash = ` stroke-dasharray="3 2" stroke-width="2.5"`
		}
		title := fmt.Sprintf("%s: workable in %.0f%% of %s", r.Area, r.Pct, plural(r.Visits, "visit"))
		if r.Best != "" {
			title += fmt.Sprintf("; best %s, %.0f%%", r.Best, r.BestPct)
		}
		if r.DeadZone {
			title += "; a dead zone"
		}
		circle := fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s" fill-opacity="0.75" stroke="#222"%s><title>%s</title></circle>`,
			x, y, rad, fill, dash, template.HTMLEscapeString(title))
		if href != nil {
			circle = fmt.Sprintf(`<a href="%s">%s</a>`, template.HTMLEscapeString(href(r.Area)), circle)
		}
		b.WriteString(circle)
		if i < MapLabels {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`, x+rad+2, y+4, template.HTMLEscapeString(r.Area))
		}
	}
	legendY := mapH + 22
	for i, pct := range []float64{90, 60, 10} {
		fill, words := heatLevel(pct)
		x := 10 + float64(i)*250
		fmt.Fprintf(&b, `<circle cx="%.0f" cy="%.0f" r="7" fill="%s" fill-opacity="0.75" stroke="#222"/><text x="%.0f" y="%.0f">%s</text>`,
			x, legendY, fill, x+12, legendY+4, words)
	}
	fmt.Fprintf(&b, `<circle cx="760" cy="%.0f" r="7" fill="none" stroke="#222" stroke-dasharray="3 2" stroke-width="2.5"/><text x="772" y="%.0f">dead zone</text>`,
		legendY, legendY+4)
	b.WriteString(`</svg>`)
	if left > 0 {
		fmt.Fprintf(&b, `<p class="note">The %d areas with the most visits; %d more are in the table.</p>`, len(placed), left)
	}
	return template.HTML(b.String())
}

// project fits the areas' positions to the map: longitude shrunk by the
// latitude's cosine (so a kilometre is a kilometre both ways), scaled to
// fit, north up.
func project(rows []AreaRow) func(*Position) (float64, float64) {
	minLat, maxLat, minLon, maxLon := 90.0, -90.0, 180.0, -180.0
	for _, r := range rows {
		minLat, maxLat = min(minLat, r.Where.Lat), max(maxLat, r.Where.Lat)
		minLon, maxLon = min(minLon, r.Where.Lon), max(maxLon, r.Where.Lon)
	}
	k := math.Cos((minLat + maxLat) / 2 * math.Pi / 180)
	spanX := max((maxLon-minLon)*k, 0.01)
	spanY := max(maxLat-minLat, 0.01)
	scale := min((mapW-2*mapPad)/spanX, (mapH-2*mapPad)/spanY)
	offX := (mapW - spanX*scale) / 2
	offY := (mapH - spanY*scale) / 2
	return func(p *Position) (float64, float64) {
		return offX + (p.Lon-minLon)*k*scale, offY + (maxLat-p.Lat)*scale
	}
}
