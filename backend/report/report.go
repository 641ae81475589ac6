// Package report turns journals into what IT asks for: which operators and
// areas give workable signal, per device, per day and week, and the
// headline managers quote ("87% of devices had workable signal in 85% of
// their visits"). It reads only the daily roll-ups, so a year of a fleet
// reports in well under a second.
package report

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fieldlink/fieldlink/backend/journal"
)

// Query selects what to report on.
type Query struct {
	// Since and Until bound the days reported (zero: everything).
	Since, Until time.Time
	// VisitShare: a visit counts as workable when its link was at least
	// amber with probes passing for at least this share of it (default 0.8).
	VisitShare float64
	// DeviceShare is the X of the headline: the share of a device's visits
	// that must be workable for it to count (default 0.85).
	DeviceShare float64
	// Device limits the report to one device ("" for all).
	Device string
	// Recent asks for this many of the newest sessions too.
	Recent int
}

// Row is one line of a breakdown.
type Row struct {
	Key            string  `json:"key"`
	Kind           string  `json:"kind,omitempty"`
	Sessions       int64   `json:"sessions"`
	ConnectedHours float64 `json:"connected_hours"`
	GreenPct       float64 `json:"green_pct"`
	AmberPct       float64 `json:"amber_pct"`
	RedPct         float64 `json:"red_pct"`
	// WorkablePct is the share of the time a link carried the work in
	// which it was workable.
	WorkablePct       float64  `json:"workable_pct"`
	Visits            int64    `json:"visits,omitempty"`
	WorkableVisits    int64    `json:"workable_visits,omitempty"`
	WorkableVisitsPct *float64 `json:"workable_visits_pct,omitempty"`
	Failovers         int64    `json:"failovers,omitempty"`
	MedianConnectS    *float64 `json:"median_connect_s,omitempty"`
	MedianSignal      *float64 `json:"median_signal,omitempty"`
	SignalUnit        string   `json:"signal_unit,omitempty"`
	MedianSINR        *float64 `json:"median_sinr_db,omitempty"`
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

// Report is a whole report.
type Report struct {
	Generated time.Time `json:"generated"`
	Since     string    `json:"since,omitempty"`
	Until     string    `json:"until,omitempty"`
	Headline  Headline  `json:"headline"`
	Networks  []Row     `json:"by_operator"`
	Areas     []Row     `json:"by_area"`
	Devices   []Row     `json:"by_device"`
	Days      []Row     `json:"by_day"`
	Weeks     []Row     `json:"by_week"`
	// Recent are the newest sessions, when the query asks for them (the
	// TUI's reports view).
	Recent []Session `json:"recent_sessions,omitempty"`
}

type acc struct {
	row                          Row
	green, amber, red, inUse, wk int64
	conn                         int64
	hConnect, hSignal, hSINR     journal.Hist
	hVisit                       journal.Hist
}

func newAcc(key, kind string) *acc {
	return &acc{row: Row{Key: key, Kind: kind}, hConnect: journal.Hist{}, hSignal: journal.Hist{}, hSINR: journal.Hist{}, hVisit: journal.Hist{}}
}

func (a *acc) finish(q Query) Row {
	r := a.row
	r.ConnectedHours = round(float64(a.conn)/3.6e6, 2)
	if lv := a.green + a.amber + a.red; lv > 0 {
		r.GreenPct = pct(a.green, lv)
		r.AmberPct = pct(a.amber, lv)
		r.RedPct = pct(a.red, lv)
	}
	if a.inUse > 0 {
		r.WorkablePct = pct(a.wk, a.inUse)
	}
	if n := a.hVisit.Count(); n > 0 {
		r.Visits = n
		r.WorkableVisits = a.hVisit.AtLeast(int(q.VisitShare*100 + 0.5))
		v := pct(r.WorkableVisits, n)
		r.WorkableVisitsPct = &v
	}
	if m, ok := a.hConnect.Median(); ok {
		v := round(float64(m)/10, 1)
		r.MedianConnectS = &v
	}
	if m, ok := a.hSignal.Median(); ok {
		v := float64(m)
		r.MedianSignal = &v
		r.SignalUnit = "dBm"
		if r.Kind == "wifi" {
			r.SignalUnit = "%"
		}
	}
	if m, ok := a.hSINR.Median(); ok {
		v := float64(m)
		r.MedianSINR = &v
	}
	return r
}

func pct(a, b int64) float64 { return round(100*float64(a)/float64(b), 1) }

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

func dayRange(q Query) (int64, int64) {
	lo, hi := int64(-1<<62), int64(1<<62)
	if !q.Since.IsZero() {
		lo = q.Since.UTC().UnixMilli() / 86400000
	}
	if !q.Until.IsZero() {
		hi = (q.Until.UTC().UnixMilli() - 1) / 86400000
	}
	return lo, hi
}

func dayString(d int64) string { return time.UnixMilli(d * 86400000).UTC().Format("2006-01-02") }

func weekString(d int64) string {
	y, w := time.UnixMilli(d * 86400000).UTC().ISOWeek()
	return fmt.Sprintf("%d-W%02d", y, w)
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
		return "Wired " + network
	}
	return kind + " " + network
}

func orNone(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return s
}

// Build reads the roll-ups of a journal (one device's, or a fleet's after
// `fieldlink journal import`) and builds the report.
func Build(ctx context.Context, db *sql.DB, q Query) (*Report, error) {
	if q.VisitShare <= 0 {
		q.VisitShare = 0.8
	}
	if q.DeviceShare <= 0 {
		q.DeviceShare = 0.85
	}
	lo, hi := dayRange(q)
	rep := &Report{Generated: time.Now().UTC()}
	if !q.Since.IsZero() {
		rep.Since = q.Since.UTC().Format("2006-01-02")
	}
	if !q.Until.IsZero() {
		rep.Until = q.Until.UTC().Format("2006-01-02")
	}
	hosts := map[string]string{}
	if rows, err := db.QueryContext(ctx, `SELECT id, hostname FROM device`); err == nil {
		for rows.Next() {
			var id, h string
			rows.Scan(&id, &h)
			hosts[id] = h
		}
		rows.Close()
	}
	devName := func(id string) string {
		if h := hosts[id]; h != "" {
			return h + " (" + short(id) + ")"
		}
		return short(id)
	}

	nets, devs, days, weeks := map[string]*acc{}, map[string]*acc{}, map[int64]*acc{}, map[string]*acc{}
	get := func(m map[string]*acc, key, kind string) *acc {
		a := m[key]
		if a == nil {
			a = newAcc(key, kind)
			m[key] = a
		}
		return a
	}
	getDay := func(d int64) *acc {
		a := days[d]
		if a == nil {
			a = newAcc(dayString(d), "")
			days[d] = a
		}
		return a
	}
	devFilter, devArgs := "", []any{lo, hi}
	if q.Device != "" {
		devFilter, devArgs = " AND device_id = ?", append(devArgs, q.Device)
	}
	// Each breakdown is grouped in SQL, in parallel: a fleet's year is a
	// million roll-up rows, too many to scan one by one through the
	// driver, while SQLite streams the groups in key order.
	where := " WHERE day BETWEEN ? AND ?" + devFilter
	const sums = `SUM(sessions), SUM(connected_ms), SUM(green_ms), SUM(amber_ms), SUM(red_ms), SUM(in_use_ms), SUM(workable_ms)`
	const hists = `group_concat(h_connect), group_concat(h_signal), group_concat(h_sinr)`
	type netRow struct {
		group                            string
		day                              int64
		kind, network, mcc, mnc          string
		sessions, conn, g, a, r, use, wk int64
		hc, hs, hn                       string
	}
	type areaRow struct {
		kind, network, area string
		conn, g, a, r, wk   int64
		hs                  string
	}
	type visitRow struct {
		group string
		dev   string
		day   int64
		fo    int64
		hv    string
	}
	var netRows []netRow
	var areaRows []areaRow
	var visitRows []visitRow
	var mu sync.Mutex
	queries := []struct {
		sql  string
		scan func(*sql.Rows) error
	}{
		{`SELECT 'net', 0, kind, network, MAX(mcc), MAX(mnc), ` + sums + `, ` + hists + ` FROM day_net` + where + ` GROUP BY kind, network`, nil},
		{`SELECT 'dev', 0, device_id, '', '', '', ` + sums + `, '', '', '' FROM day_net` + where + ` GROUP BY device_id`, nil},
		{`SELECT 'day', day, '', '', '', '', ` + sums + `, '', '', '' FROM day_net` + where + ` GROUP BY day`, nil},
		{`SELECT kind, network, area, SUM(connected_ms), SUM(green_ms), SUM(amber_ms), SUM(red_ms), SUM(workable_ms), group_concat(h_signal)
			FROM day_area` + where + ` GROUP BY kind, network, area`, func(rows *sql.Rows) error {
			var x areaRow
			if err := rows.Scan(&x.kind, &x.network, &x.area, &x.conn, &x.g, &x.a, &x.r, &x.wk, &x.hs); err != nil {
				return err
			}
			mu.Lock()
			areaRows = append(areaRows, x)
			mu.Unlock()
			return nil
		}},
		{`SELECT 'dev', device_id, 0, SUM(failovers), group_concat(h_visit) FROM day_device` + where + ` GROUP BY device_id`, nil},
		{`SELECT 'day', '', day, SUM(failovers), group_concat(h_visit) FROM day_device` + where + ` GROUP BY day`, nil},
	}
	for i := range queries {
		if queries[i].scan != nil {
			continue
		}
		if strings.Contains(queries[i].sql, "day_device") {
			queries[i].scan = func(rows *sql.Rows) error {
				var x visitRow
				var hv sql.NullString
				if err := rows.Scan(&x.group, &x.dev, &x.day, &x.fo, &hv); err != nil {
					return err
				}
				x.hv = hv.String
				mu.Lock()
				visitRows = append(visitRows, x)
				mu.Unlock()
				return nil
			}
			continue
		}
		queries[i].scan = func(rows *sql.Rows) error {
			var x netRow
			var hc, hs, hn sql.NullString
			if err := rows.Scan(&x.group, &x.day, &x.kind, &x.network, &x.mcc, &x.mnc, &x.sessions, &x.conn, &x.g, &x.a, &x.r, &x.use, &x.wk,
				&hc, &hs, &hn); err != nil {
				return err
			}
			x.hc, x.hs, x.hn = hc.String, hs.String, hn.String
			mu.Lock()
			netRows = append(netRows, x)
			mu.Unlock()
			return nil
		}
	}
	errs := make(chan error, len(queries))
	for _, qq := range queries {
		go func() {
			rows, err := db.QueryContext(ctx, qq.sql, devArgs...)
			if err != nil {
				errs <- err
				return
			}
			defer rows.Close()
			for rows.Next() {
				if err := qq.scan(rows); err != nil {
					errs <- err
					return
				}
			}
			errs <- rows.Err()
		}()
	}
	for range queries {
		if err := <-errs; err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
	}

	for _, x := range netRows {
		add := func(a *acc) {
			a.row.Sessions += x.sessions
			a.conn += x.conn
			a.green += x.g
			a.amber += x.a
			a.red += x.r
			a.inUse += x.use
			a.wk += x.wk
		}
		switch x.group {
		case "net":
			a := get(nets, x.kind+"\x00"+label(x.kind, x.network, x.mcc, x.mnc), x.kind)
			add(a)
			a.hConnect.Merge(journal.ParseHist(x.hc))
			a.hSignal.Merge(journal.ParseHist(x.hs))
			a.hSINR.Merge(journal.ParseHist(x.hn))
		case "dev":
			add(get(devs, x.kind, ""))
		case "day":
			add(getDay(x.day))
			add(get(weeks, weekString(x.day), ""))
		}
	}
	areas := map[string]*acc{}
	for _, x := range areaRows {
		key := x.area
		if x.kind != "cellular" {
			key = label(x.kind, x.network, "", "")
		}
		a := get(areas, x.kind+"\x00"+key, x.kind)
		a.conn += x.conn
		a.green += x.g
		a.amber += x.a
		a.red += x.r
		a.wk += x.wk
		a.inUse += x.conn
		a.hSignal.Merge(journal.ParseHist(x.hs))
	}
	for _, x := range visitRows {
		h := journal.ParseHist(x.hv)
		var targets []*acc
		if x.group == "dev" {
			targets = []*acc{get(devs, x.dev, "")}
		} else {
			targets = []*acc{getDay(x.day), get(weeks, weekString(x.day), "")}
		}
		for _, a := range targets {
			a.row.Failovers += x.fo
			a.hVisit.Merge(h)
		}
	}

	rep.Networks = finishAll(nets, q, func(a, b Row) bool {
		if a.Kind != b.Kind {
			return kindRank(a.Kind) < kindRank(b.Kind)
		}
		return a.ConnectedHours > b.ConnectedHours || a.ConnectedHours == b.ConnectedHours && a.Key < b.Key
	})
	for i := range rep.Networks {
		rep.Networks[i].Key = rep.Networks[i].Key[strings.IndexByte(rep.Networks[i].Key, 0)+1:]
	}
	rep.Areas = finishAll(areas, q, func(a, b Row) bool {
		return a.ConnectedHours > b.ConnectedHours || a.ConnectedHours == b.ConnectedHours && a.Key < b.Key
	})
	for i := range rep.Areas {
		rep.Areas[i].Key = rep.Areas[i].Key[strings.IndexByte(rep.Areas[i].Key, 0)+1:]
	}
	rep.Devices = finishAll(devs, q, func(a, b Row) bool { return a.Key < b.Key })
	// The headline: devices whose share of workable visits reaches the mark.
	h := Headline{VisitShare: q.VisitShare, DeviceShare: q.DeviceShare}
	for i := range rep.Devices {
		d := &rep.Devices[i]
		if d.Visits == 0 {
			d.Key = devName(d.Key)
			continue
		}
		h.Devices++
		h.Visits += d.Visits
		h.Workable += d.WorkableVisits
		if float64(d.WorkableVisits) >= q.DeviceShare*float64(d.Visits)-1e-9 {
			h.Qualifying++
		}
		d.Key = devName(d.Key)
	}
	if h.Devices > 0 {
		h.Pct = round(100*float64(h.Qualifying)/float64(h.Devices), 1)
		h.Text = fmt.Sprintf("%s%% of devices (%d of %d) had workable signal in at least %s%% of their visits",
			trim(h.Pct), h.Qualifying, h.Devices, trim(100*q.DeviceShare))
	} else {
		h.Text = "No visits recorded in this period (press v in fieldlink to mark arrival and departure)"
	}
	rep.Headline = h
	dayKeys := make([]int64, 0, len(days))
	for d := range days {
		dayKeys = append(dayKeys, d)
	}
	sort.Slice(dayKeys, func(i, j int) bool { return dayKeys[i] < dayKeys[j] })
	for _, d := range dayKeys {
		rep.Days = append(rep.Days, days[d].finish(q))
	}
	rep.Weeks = finishAll(weeks, q, func(a, b Row) bool { return a.Key < b.Key })
	if q.Recent > 0 {
		r, err := Recent(ctx, db, q.Device, q.Recent)
		if err != nil {
			return nil, err
		}
		rep.Recent = r
	}
	return rep, nil
}

func trim(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
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

func finishAll(m map[string]*acc, q Query, less func(a, b Row) bool) []Row {
	out := make([]Row, 0, len(m))
	for _, a := range m {
		out = append(out, a.finish(q))
	}
	sort.Slice(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out
}
