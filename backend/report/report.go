// Package report turns journals into what IT asks for. It opens with the
// question a deployment exists to answer, which operators give workable
// signal in which areas, per visit: a table of areas by network, each cell
// "workable in 92% of 61 visits", dead zones first. Then a line per
// operator, the managers' headline ("87% of clinicians' devices had
// workable signal in at least 85% of their visits, 1 Sep – 30 Nov 2026"),
// and the time breakdowns. Every figure says its base, and the bases are
// the same in every table: visits; connected time (GO, MARGINAL, DO NOT
// PROCEED and usable); in-use time (workable). It reads only the daily
// roll-ups, so a fleet's year reports in well under a second.
package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/journal"
)

// Query selects what to report on.
type Query struct {
	// Since and Until bound the time reported, Until excluded (zero:
	// unbounded); whole UTC days are reported.
	Since, Until time.Time
	// VisitShare: a visit counts as workable on a network when the network
	// was usable (at least MARGINAL with probes passing) for at least this
	// share of its connected time in the visit (default 0.8); for the whole
	// visit, when the link carrying the work was workable this share of it.
	VisitShare float64
	// DeviceShare is the X of the headline and of dead zones: the share of
	// visits that must be workable (default 0.85).
	DeviceShare float64
	// Device limits the report to one device: a hostname, an id or a
	// unique prefix of one ("" for all).
	Device string
	// Devices limits the report to these device ids (a group), when
	// Device does not name one.
	Devices []string
	// Recent asks for this many of the newest sessions too.
	Recent int
	// Areas names the codes; nil: the names recorded with them.
	Areas *areas.Map
	// PeriodsOfUse: when no visit was marked, report time on site by
	// periods of use, read from the sessions (a device's own journal;
	// the fleet's reports count marked visits only).
	PeriodsOfUse bool
}

// ErrPeriod is a period that ends before it starts.
var ErrPeriod = errors.New("report: the period ends before it starts")

// DeviceError is a --device that names no device, or more than one.
type DeviceError struct {
	Asked string
	Known []string
	// Ambiguous lists the devices a prefix matched, when it matched several.
	Ambiguous []string
}

func (e *DeviceError) Error() string {
	if len(e.Ambiguous) > 0 {
		return fmt.Sprintf("device %q matches %d devices (%s): give more of the id", e.Asked, len(e.Ambiguous), strings.Join(e.Ambiguous, ", "))
	}
	known := e.Known
	more := ""
	if len(known) > 8 {
		known, more = known[:8], fmt.Sprintf(" and %d more", len(e.Known)-8)
	}
	if len(known) == 0 {
		return fmt.Sprintf("no device %q: this journal holds no devices", e.Asked)
	}
	return fmt.Sprintf("no device %q in this journal (it holds %s%s)", e.Asked, strings.Join(known, ", "), more)
}

// Row is one line of a time breakdown. Percentages of time state their
// base: GO, MARGINAL, DO NOT PROCEED and usable are shares of connected
// time; workable is the share of in-use time (the time the link carried
// the work), nil for a network that never carried it.
type Row struct {
	Key string `json:"key"`
	// ID is a device row's device id.
	ID string `json:"id,omitempty"`
	// Network is the network of an area's row.
	Network        string   `json:"network,omitempty"`
	Kind           string   `json:"kind,omitempty"`
	Sessions       int64    `json:"sessions,omitempty"`
	ConnectedHours float64  `json:"connected_hours"`
	GreenPct       float64  `json:"go_pct"`
	AmberPct       float64  `json:"marginal_pct"`
	RedPct         float64  `json:"do_not_proceed_pct"`
	UsablePct      float64  `json:"usable_pct"`
	InUseHours     float64  `json:"in_use_hours"`
	WorkablePct    *float64 `json:"workable_pct"`
	// Visits and WorkableVisits count the visits of a device, day or week.
	Visits            int64    `json:"visits,omitempty"`
	WorkableVisits    int64    `json:"workable_visits,omitempty"`
	WorkableVisitsPct *float64 `json:"workable_visits_pct,omitempty"`
	Failovers         int64    `json:"failovers,omitempty"`
	MedianConnectS    *float64 `json:"median_connect_s,omitempty"`
	MedianSignal      *float64 `json:"median_signal,omitempty"`
	// SignalLow and SignalHigh spread the signal: a tenth of the samples
	// were at or below the low figure, nine tenths at or below the high.
	SignalLow  *float64 `json:"signal_p10,omitempty"`
	SignalHigh *float64 `json:"signal_p90,omitempty"`
	SignalUnit string   `json:"signal_unit,omitempty"`
	MedianSINR *float64 `json:"median_sinr_db,omitempty"`
	// TechShare is a cellular network's connected time in an area by
	// radio generation, in percent ("4G": 81.2), where the devices said.
	TechShare map[string]float64 `json:"tech_share_pct,omitempty"`
}

// Cell is one network's visits in one area.
type Cell struct {
	Network  string  `json:"network"`
	Kind     string  `json:"kind"`
	Visits   int64   `json:"visits"`
	Workable int64   `json:"workable_visits"`
	Pct      float64 `json:"workable_pct"`
}

// AreaRow is one area of the operator × area table.
type AreaRow struct {
	// Area is the area map's name, or the code where the map has none.
	Area  string   `json:"area"`
	Named bool     `json:"named"`
	Codes []string `json:"codes,omitempty"`
	// Visits and Workable are the visits there whatever carried the work
	// (or nothing did): workable when the work was workable for the
	// visit share of the time.
	Visits   int64   `json:"visits"`
	Workable int64   `json:"workable_visits"`
	Pct      float64 `json:"workable_pct"`
	// Best is the network workable in the largest share of visits there.
	Best     string  `json:"best_network,omitempty"`
	BestPct  float64 `json:"best_pct"`
	DeadZone bool    `json:"dead_zone"`
	// Cells are the networks seen there, in the order of Matrix.Networks.
	Cells []Cell `json:"networks"`
	// Advice compares the operators with enough visits there and says
	// which SIMs to prefer (Recommend); "" until one has enough.
	Advice string `json:"advice,omitempty"`
	// Where is the area on a map: the area map's boxes, else the 1 km
	// positions its codes carry; nil when neither is known.
	Where *Position `json:"position,omitempty"`
}

// Position is a point in degrees (about 1 km: positions are rounded
// before anything stores them).
type Position struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Matrix is the operator × area table of visits: the report's answer.
type Matrix struct {
	Networks []string  `json:"networks"`
	Rows     []AreaRow `json:"areas"`
}

// Operator is a network's line: its visits over every area.
type Operator struct {
	Network  string  `json:"network"`
	Kind     string  `json:"kind"`
	Visits   int64   `json:"visits"`
	Workable int64   `json:"workable_visits"`
	Pct      float64 `json:"workable_pct"`
	Areas    int     `json:"areas"`
	Text     string  `json:"text"`
}

// Unnamed is a code the area map does not name, with how much it was
// seen: what IT names next.
type Unnamed struct {
	Code           string   `json:"code"`
	Visits         int64    `json:"visits"`
	ConnectedHours float64  `json:"connected_hours"`
	Networks       []string `json:"networks,omitempty"`
}

// Period is the days reported, both included.
type Period struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	Text string `json:"text"`
}

// Headline is the managers' figure.
type Headline struct {
	Devices     int     `json:"devices"`
	Qualifying  int     `json:"qualifying_devices"`
	Pct         float64 `json:"pct"`
	Visits      int64   `json:"visits"`
	Workable    int64   `json:"workable_visits"`
	VisitShare  float64 `json:"visit_share"`
	DeviceShare float64 `json:"device_share"`
	Text        string  `json:"text"`
}

// Bases say what each kind of figure is a share of.
type Bases struct {
	Visits    string `json:"visits"`
	Connected string `json:"connected_time"`
	InUse     string `json:"in_use_time"`
	DeadZone  string `json:"dead_zone"`
}

// Report is a whole report.
type Report struct {
	Generated time.Time `json:"generated"`
	Period    Period    `json:"period"`
	// Demo marks simulated data: a demo's journal, or a fleet holding one.
	Demo      bool       `json:"demo,omitempty"`
	Headline  Headline   `json:"headline"`
	Matrix    Matrix     `json:"operator_by_area"`
	DeadZones []string   `json:"dead_zones"`
	Operators []Operator `json:"operators"`
	Unnamed   []Unnamed  `json:"unnamed_codes,omitempty"`
	Bases     Bases      `json:"bases"`
	Networks  []Row      `json:"by_network"`
	Areas     []Row      `json:"by_area"`
	Devices   []Row      `json:"by_device"`
	Days      []Row      `json:"by_day"`
	Weeks     []Row      `json:"by_week"`
	// Recent are the newest sessions, when the query asks for them (the
	// TUI's reports view).
	Recent []Session `json:"recent_sessions,omitempty"`
	// Trends are the operators' shares of workable visits month by month
	// (a fleet server's report adds them: over every area, or in the one
	// area asked for).
	Trends []Trend `json:"trends,omitempty"`
	// Periods is time on site by periods of use, for a journal in which
	// no visit was marked in the period (see PeriodsHow).
	Periods *Periods `json:"periods_of_use,omitempty"`
}

// Build reads the roll-ups of a journal (one device's, or a fleet's after
// `fieldlink journal import`) and builds the report.
func Build(ctx context.Context, db *sql.DB, q Query) (*Report, error) {
	r, devs, err := From(ctx, SQLite{db}, q)
	if err != nil {
		return nil, err
	}
	if q.PeriodsOfUse && r.Headline.Visits == 0 {
		lo, hi := dayRange(q)
		if r.Periods, err = periodsOfUse(ctx, db, lo, hi, devs, r.Headline.VisitShare, q.Areas); err != nil {
			return nil, err
		}
	}
	if q.Recent > 0 {
		one := ""
		if len(devs) == 1 {
			one = devs[0]
		}
		rec, err := Recent(ctx, db, one, q.Recent)
		if err != nil {
			return nil, err
		}
		r.Recent = rec
	}
	return r, nil
}

// From builds a report from any fetcher; it also returns the device ids
// the query selected (none: all).
func From(ctx context.Context, src Fetcher, q Query) (*Report, []string, error) {
	if q.VisitShare <= 0 {
		q.VisitShare = 0.8
	}
	if q.DeviceShare <= 0 {
		q.DeviceShare = 0.85
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return nil, nil, fmt.Errorf("%w: --since %s is not before --until %s", ErrPeriod,
			q.Since.UTC().Format(time.DateOnly), q.Until.UTC().Format(time.DateOnly))
	}
	known, err := src.Devices(ctx)
	if err != nil {
		return nil, nil, err
	}
	ids := q.Devices
	if q.Device != "" {
		if ids, err = resolveDevice(q.Device, known); err != nil {
			return nil, nil, err
		}
	}
	lo, hi := dayRange(q)
	d, err := src.Fetch(ctx, Filter{DayLo: lo, DayHi: hi, Devices: ids, VisitBin: int(q.VisitShare*100 + 0.5)})
	if err != nil {
		return nil, nil, err
	}
	r := assemble(q, d, known, ids)
	return r, ids, nil
}

// resolveDevice finds the devices a --device means: an id, a hostname
// (every id it had: a re-imaged laptop keeps its name), or a unique id
// prefix.
func resolveDevice(asked string, known []DeviceInfo) ([]string, error) {
	var byName, byPrefix []string
	for _, d := range known {
		if d.ID == asked {
			return []string{d.ID}, nil
		}
		if strings.EqualFold(d.Hostname, asked) {
			byName = append(byName, d.ID)
		}
		if strings.HasPrefix(strings.ToLower(d.ID), strings.ToLower(asked)) {
			byPrefix = append(byPrefix, d.ID)
		}
	}
	switch {
	case len(byName) > 0:
		return byName, nil
	case len(byPrefix) == 1:
		return byPrefix, nil
	case len(byPrefix) > 1:
		return nil, &DeviceError{Asked: asked, Ambiguous: byPrefix}
	}
	e := &DeviceError{Asked: asked}
	for _, d := range known {
		e.Known = append(e.Known, devLabel(d))
	}
	return nil, e
}

func devLabel(d DeviceInfo) string {
	if d.Hostname != "" {
		return d.Hostname + " (" + short(d.ID) + ")"
	}
	return short(d.ID)
}

func dayRange(q Query) (int64, int64) {
	lo, hi := int64(-1<<40), int64(1<<40)
	if !q.Since.IsZero() {
		lo = q.Since.UTC().UnixMilli() / 86400000
	}
	if !q.Until.IsZero() {
		hi = (q.Until.UTC().UnixMilli() - 1) / 86400000
	}
	return lo, hi
}

func dayTime(d int64) time.Time { return time.UnixMilli(d * 86400000).UTC() }

func dayString(d int64) string { return dayTime(d).Format(time.DateOnly) }

func weekString(d int64) string {
	y, w := dayTime(d).ISOWeek()
	return fmt.Sprintf("%d-W%02d", y, w)
}

// periodText writes a period as a person would: "1 Sep – 30 Nov 2026",
// "15 Dec 2025 – 14 Jan 2026", "30 Nov 2026".
func periodText(from, to int64) string {
	a, b := dayTime(from), dayTime(to)
	switch {
	case from == to:
		return a.Format("2 Jan 2006")
	case a.Year() != b.Year():
		return a.Format("2 Jan 2006") + " – " + b.Format("2 Jan 2006")
	case a.Month() != b.Month():
		return a.Format("2 Jan") + " – " + b.Format("2 Jan 2006")
	}
	return a.Format("2") + " – " + b.Format("2 Jan 2006")
}

func label(kind, network, mcc, mnc string) string {
	switch kind {
	case "cellular":
		if mcc != "" {
			return fmt.Sprintf("%s (%s-%s)", orNone(network), mcc, mnc)
		}
		return orNone(network)
	case "wifi":
		return "Wi-Fi " + orNone(network)
	case "ethernet":
		return "Wired " + orNone(network)
	case journal.WorkKind:
		return AllNetworks
	}
	return kind + " " + network
}

// AllNetworks is the matrix's column for the visit itself: whatever
// carried the work, or nothing.
const AllNetworks = "All networks"

func orNone(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return s
}

func pct(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return round(100*float64(a)/float64(b), 1)
}

func optPct(a, b int64) *float64 {
	if b <= 0 {
		return nil
	}
	v := pct(a, b)
	return &v
}

func round(v float64, places int) float64 {
	p := 1.0
	for i := 0; i < places; i++ {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}

func hours(ms int64) float64 { return round(float64(ms)/3.6e6, 2) }

func trim(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}

// count writes a count with thousands separators: "1,204".
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func kindRank(k string) int {
	switch k {
	case "cellular":
		return 0
	case "wifi":
		return 1
	case "ethernet":
		return 2
	}
	return 3
}

func sortRows(rows []Row, less func(a, b Row) bool) {
	sort.SliceStable(rows, func(i, j int) bool { return less(rows[i], rows[j]) })
}
