package report

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fieldlink/fieldlink/backend/areas"
)

// How periods of use are found, for a device whose clinician never marked
// a visit: the time on site is then the time fieldlink had a network
// connected, in stretches.
const (
	// periodGap joins sessions less than this apart into one period (a
	// failover, a short drive between two flats of one block).
	periodGap = 15 * time.Minute
	// periodMin is the shortest period counted: less is a check of the
	// screen, not time on site.
	periodMin = 5 * time.Minute
)

// PeriodsHow says how periods of use are found, in the report's words.
var PeriodsHow = fmt.Sprintf("a period of use is a stretch of at least %d minutes with a network connected, "+
	"breaks under %d minutes joined; it is workable when the work could go through for the visit share of it, "+
	"time with nothing usable counting against it", int(periodMin.Minutes()), int(periodGap.Minutes()))

// Periods is time on site by periods of use, reported when no visit was
// marked.
type Periods struct {
	Count    int     `json:"count"`
	Workable int     `json:"workable"`
	Pct      float64 `json:"workable_pct"`
	Hours    float64 `json:"hours"`
	// ByArea is the periods per area they were mostly in, worst first.
	ByArea []PeriodArea `json:"by_area,omitempty"`
	How    string       `json:"how"`
	Text   string       `json:"text"`
}

// PeriodArea is the periods of use in one area.
type PeriodArea struct {
	Area     string  `json:"area"`
	Count    int     `json:"count"`
	Workable int     `json:"workable"`
	Pct      float64 `json:"workable_pct"`
}

// usePeriod is one stretch being joined.
type usePeriod struct {
	start, end int64
	workable   int64
	byArea     map[string]int64
}

// periodsOfUse finds the periods of use in the closed sessions of the
// devices (all when none) whose start falls in [lo, hi] (days).
func periodsOfUse(ctx context.Context, db *sql.DB, lo, hi int64, devices []string, share float64, names *areas.Map) (*Periods, error) {
	q := `SELECT device_id, start_ms, end_ms, workable_ms, area FROM session WHERE end_ms IS NOT NULL AND start_ms >= ? AND start_ms < ?`
	args := []any{lo * 86400000, (hi + 1) * 86400000}
	if len(devices) > 0 {
		q += ` AND device_id IN (?` + strings.Repeat(",?", len(devices)-1) + `)`
		for _, d := range devices {
			args = append(args, d)
		}
	}
	rows, err := db.QueryContext(ctx, q+` ORDER BY device_id, start_ms`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var done []usePeriod
	var cur *usePeriod
	lastDev := ""
	for rows.Next() {
		var dev, area string
		var start, end, workable int64
		if err := rows.Scan(&dev, &start, &end, &workable, &area); err != nil {
			return nil, err
		}
		if cur != nil && (dev != lastDev || start > cur.end+periodGap.Milliseconds()) {
			done = append(done, *cur)
			cur = nil
		}
		if cur == nil {
			cur = &usePeriod{start: start, end: end, byArea: map[string]int64{}}
		}
		lastDev = dev
		cur.end = max(cur.end, end)
		cur.workable += workable
		cur.byArea[placeOf(area, names)] += end - start
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		done = append(done, *cur)
	}
	return summarize(done, share), nil
}

// placeOf is a session's area as the report names it: the area map's
// name, else the code without its cell.
func placeOf(code string, names *areas.Map) string {
	code, _, _ = strings.Cut(code, " cell ")
	if n := names.Name(code); n != "" {
		return n
	}
	if code == "" {
		return "unknown area"
	}
	return code
}

// summarize counts the periods long enough to be time on site.
func summarize(ps []usePeriod, share float64) *Periods {
	out := &Periods{How: PeriodsHow}
	by := map[string]*PeriodArea{}
	var ms int64
	for _, p := range ps {
		d := p.end - p.start
		if d < periodMin.Milliseconds() {
			continue
		}
		out.Count++
		ms += d
		ok := float64(min(p.workable, d)) >= share*float64(d)
		if ok {
			out.Workable++
		}
		area, most := "", int64(-1)
		for a, t := range p.byArea {
			if t > most || (t == most && a < area) {
				area, most = a, t
			}
		}
		pa := by[area]
		if pa == nil {
			pa = &PeriodArea{Area: area}
			by[area] = pa
		}
		pa.Count++
		if ok {
			pa.Workable++
		}
	}
	out.Pct = pct(int64(out.Workable), int64(out.Count))
	out.Hours = hours(ms)
	for _, pa := range by {
		pa.Pct = pct(int64(pa.Workable), int64(pa.Count))
		out.ByArea = append(out.ByArea, *pa)
	}
	sort.Slice(out.ByArea, func(i, j int) bool {
		a, b := out.ByArea[i], out.ByArea[j]
		if a.Pct != b.Pct {
			return a.Pct < b.Pct
		}
		return a.Area < b.Area
	})
	if out.Count == 0 {
		out.Text = "No visits were marked and no period of use was found (" + PeriodsHow + ")."
		return out
	}
	out.Text = fmt.Sprintf("No visits were marked (v): by periods of use instead, %s of %s workable (%s%%), %s h on site",
		count(int64(out.Workable)), count(int64(out.Count)), trim(out.Pct), trim(out.Hours))
	return out
}
