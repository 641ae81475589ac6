package report

import (
	"fmt"
	"sort"
	"strings"
)

// Which operator to buy SIMs from, area by area: the operators ranked by
// their share of workable visits there, and a recommendation in words
// once each has enough visits to say so.
const (
	// MinVisitsToRank is the fewest visits an operator needs in an area
	// before its share there is ranked: fewer is an anecdote.
	MinVisitsToRank = 20
	// ClearLead is how many points ahead the first must be for the
	// advice to prefer it; closer, they are alike here.
	ClearLead = 10.0
)

// Ranked are the cellular operators of an area with at least
// MinVisitsToRank visits, best share first (ties: more visits first).
func (r AreaRow) Ranked() []Cell {
	var out []Cell
	for _, c := range r.Cells {
		if c.Kind == "cellular" && c.Visits >= MinVisitsToRank {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Pct != out[j].Pct {
			return out[i].Pct > out[j].Pct
		}
		return out[i].Visits > out[j].Visits
	})
	return out
}

// Compare is the operators' figures in an area in words: "Kings Heath:
// Vodafone workable in 91% of 212 visits, EE 47% of 190".
func (r AreaRow) Compare() string {
	ranked := r.Ranked()
	if len(ranked) == 0 {
		return ""
	}
	parts := make([]string, len(ranked))
	for i, c := range ranked {
		if i == 0 {
			parts[i] = fmt.Sprintf("%s workable in %.0f%% of %s", c.Network, c.Pct, plural(c.Visits, "visit"))
		} else {
			parts[i] = fmt.Sprintf("%s %.0f%% of %d", c.Network, c.Pct, c.Visits)
		}
	}
	return r.Area + ": " + strings.Join(parts, ", ")
}

// Recommend is the advice for an area in words, "" while no operator has
// enough visits there: the comparison, then which SIMs to prefer (or that
// they are alike, or that none is workable often enough at mark).
func (r AreaRow) Recommend(mark float64) string {
	ranked := r.Ranked()
	if len(ranked) == 0 {
		return ""
	}
	first := ranked[0]
	var advice string
	switch {
	case first.Pct < mark*100:
		advice = "no SIM is workable here often enough: plan to work offline"
	case len(ranked) == 1:
		advice = "the only operator with enough visits to judge"
	case first.Pct-ranked[1].Pct >= ClearLead:
		advice = "prefer " + first.Network + " SIMs here"
	default:
		advice = first.Network + " and " + ranked[1].Network + " are alike here"
	}
	return r.Compare() + " — " + advice
}
