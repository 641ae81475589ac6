package report

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Ahead is the fleet's answer for the areas a device works in, which it
// carries offline: per named area, the operators ranked by their share of
// workable visits there, with the counts. The fleet server makes it at
// each sync (a few KB; no patient data: areas, networks and counts), the
// device keeps it in its journal and shows, for the area it is in, what
// the fleet found there.
type Ahead struct {
	// Made is when the server made it, Devices how many devices' visits
	// it counts, Period the days it covers.
	Made    time.Time `json:"made"`
	Devices int       `json:"devices"`
	Period  Period    `json:"period"`
	// Areas are the device's areas of recent weeks that the fleet has
	// visits for, in the fleet's report rows.
	Areas []AreaRow `json:"areas"`
}

// AheadWeeks is how far back a device's areas are taken: the areas of its
// recent weeks are where it is likely to go again.
const AheadWeeks = 8

// MaxAheadAreas bounds the areas in one summary (a few KB).
const MaxAheadAreas = 60

// AheadFor picks the rows of the fleet's report for the areas given.
func AheadFor(fleet *Report, areas []string, now time.Time) *Ahead {
	want := map[string]bool{}
	for _, a := range areas {
		want[a] = true
	}
	out := &Ahead{Made: now.UTC(), Devices: fleet.Headline.Devices, Period: fleet.Period}
	for _, row := range fleet.Matrix.Rows {
		if want[row.Area] && len(out.Areas) < MaxAheadAreas {
			out.Areas = append(out.Areas, row)
		}
	}
	return out
}

// Find returns an area's row, nil when the summary has none.
func (a *Ahead) Find(area string) *AreaRow {
	if a == nil || area == "" {
		return nil
	}
	for i := range a.Areas {
		if strings.EqualFold(a.Areas[i].Area, area) {
			return &a.Areas[i]
		}
	}
	return nil
}

// Line is what the fleet found in an area, in words: the comparison of
// the operators with enough visits there, else the visits workable
// whatever carried them; "" when the summary has nothing for it.
func (a *Ahead) Line(area string) string {
	row := a.Find(area)
	if row == nil || row.Visits == 0 {
		return ""
	}
	if c := row.Compare(); c != "" {
		return c
	}
	return fmt.Sprintf("%s: workable in %.0f%% of %s (no operator with %d visits yet)", row.Area, row.Pct,
		plural(row.Visits, "visit"), MinVisitsToRank)
}

// Source says where a summary comes from: "the fleet, 1,204 devices, made
// 6 Dec 2026".
func (a *Ahead) Source(loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	return fmt.Sprintf("the fleet, %s, made %s", plural(int64(a.Devices), "device"), a.Made.In(loc).Format("2 Jan 2006 15:04"))
}

// WriteText writes the summary as a person reads it: where it comes
// from, then per area what the fleet found, with the advice where the
// operators have enough visits to give one.
func (a *Ahead) WriteText(w io.Writer, loc *time.Location) error {
	var b strings.Builder
	fmt.Fprintf(&b, "What the fleet found in your areas (%s; visits %s)\n\n", a.Source(loc), a.Period.Text)
	if len(a.Areas) == 0 {
		b.WriteString("  The fleet has no visits yet in the areas this device worked in over its last weeks.\n")
	}
	for _, row := range a.Areas {
		line := row.Advice
		if line == "" {
			line = a.Line(row.Area)
		}
		if row.DeadZone {
			line += " (a dead zone: plan to work offline)"
		}
		fmt.Fprintf(&b, "  %s\n", line)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
