package report

import (
	"fmt"
	"github.com/fieldlink/fieldlink/backend/areas"
	"sort"
	"time"

	"github.com/fieldlink/fieldlink/backend/journal"
)

// assemble turns fetched roll-ups into the report.
func assemble(q Query, d *Data, known []DeviceInfo, ids []string) *Report {
	r := &Report{Generated: time.Now().UTC()}
	bin := int(q.VisitShare*100 + 0.5)
	selected := map[string]bool{}
	for _, id := range ids {
		selected[id] = true
	}
	info := map[string]DeviceInfo{}
	for _, dv := range known {
		info[dv.ID] = dv
		if dv.Demo && (len(ids) == 0 || selected[dv.ID]) {
			r.Demo = true
		}
	}

	// Networks are labelled alike in every table, with their MCC-MNC.
	codes := map[[2]string][2]string{}
	for _, n := range d.Nets {
		codes[[2]string{n.Kind, n.Network}] = [2]string{n.MCC, n.MNC}
	}
	for _, c := range d.Cells {
		if k := [2]string{c.Kind, c.Network}; codes[k][0] == "" && c.MCC != "" {
			codes[k] = [2]string{c.MCC, c.MNC}
		}
	}
	netLabel := func(kind, network string) string {
		c := codes[[2]string{kind, network}]
		return label(kind, network, c[0], c[1])
	}
	// A code is named alike in every row: by today's map, else by any name
	// recorded with it (a code the map named only lately has earlier rows
	// without one).
	recorded := map[string]string{}
	note := func(code, name string) {
		if name > recorded[code] {
			recorded[code] = name
		}
	}
	for _, c := range d.Cells {
		note(c.Area, c.AreaName)
	}
	for _, a := range d.Areas {
		note(a.Area, a.AreaName)
	}
	areaLabel := func(code, _ string) (string, bool) {
		name := q.Areas.Name(code)
		if name == "" {
			name = recorded[code]
		}
		if name != "" {
			return name, true
		}
		return code, false
	}

	r.Networks = networkRows(d, netLabel)
	r.Areas = areaRows(d, netLabel, areaLabel)
	r.Devices, r.Headline = deviceRows(q, d, info, bin)
	r.Days, r.Weeks = dayRows(d, bin)
	r.Matrix, r.Operators, r.DeadZones = matrix(q, d, netLabel, areaLabel, bin)
	r.Unnamed = unnamed(d, netLabel, areaLabel)
	r.Period = period(q, d)
	if r.Headline.Devices > 0 {
		r.Headline.Text += ", " + r.Period.Text
	}
	share := trim(100 * q.VisitShare)
	r.Bases = Bases{
		Visits: "A visit counts as workable on a network when that network was usable (at least MARGINAL with probes passing) for at least " +
			share + "% of its connected time during the visit; under " + AllNetworks + ", when the link carrying the work was workable for at least " +
			share + "% of the visit.",
		Connected: "GO, MARGINAL, DO NOT PROCEED and usable are shares of connected time.",
		InUse:     "Workable is the share of in-use time (while the link carried the work) that it was workable; - for a network that never carried the work.",
		DeadZone: "A dead zone is an area where neither the visits there (" + AllNetworks + ") nor any mobile operator were workable in at least " +
			trim(100*q.DeviceShare) + "% of visits.",
	}
	return r
}

// timeRow is a row of time figures on the common bases.
func timeRow(key, kind string, t Times) Row {
	return Row{Key: key, Kind: kind, Sessions: t.Sessions, ConnectedHours: hours(t.Connected),
		GreenPct: pct(t.Green, t.Connected), AmberPct: pct(t.Amber, t.Connected), RedPct: pct(t.Red, t.Connected),
		UsablePct: pct(t.Usable, t.Connected), InUseHours: hours(t.InUse), WorkablePct: optPct(t.Workable, t.InUse)}
}

func median(h journal.Hist, per float64) *float64 {
	m, ok := h.Median()
	if !ok {
		return nil
	}
	v := round(float64(m)*per, 1)
	return &v
}

// signal sets a row's signal figures: the median and the spread of the
// samples around it (Ofcom-style: not one figure for a network whose
// signal swings from street to street).
func signal(row *Row, h journal.Hist) {
	if row.MedianSignal = median(h, 1); row.MedianSignal != nil {
		row.SignalUnit = "dBm"
		if row.Kind == "wifi" {
			row.SignalUnit = "%"
		}
		row.SignalLow, row.SignalHigh = quantile(h, 0.1), quantile(h, 0.9)
	}
}

// techShare is time by radio generation (bins 2 to 5) in percent of the
// time the generation was known; nil when it never was.
func techShare(h journal.Hist) map[string]float64 {
	total := h.Count()
	if total <= 0 {
		return nil
	}
	out := map[string]float64{}
	for g, ms := range h {
		if g >= 2 && g <= 5 && ms > 0 {
			out[fmt.Sprintf("%dG", g)] = round(100*float64(ms)/float64(total), 1)
		}
	}
	return out
}

func quantile(h journal.Hist, q float64) *float64 {
	b, ok := h.Quantile(q)
	if !ok {
		return nil
	}
	v := float64(b)
	return &v
}

func networkRows(d *Data, netLabel func(kind, network string) string) []Row {
	type acc struct {
		t                        Times
		kind                     string
		hConnect, hSignal, hSINR journal.Hist
	}
	m := map[string]*acc{}
	for _, n := range d.Nets {
		key := netLabel(n.Kind, n.Network)
		a := m[key]
		if a == nil {
			a = &acc{kind: n.Kind, hConnect: journal.Hist{}, hSignal: journal.Hist{}, hSINR: journal.Hist{}}
			m[key] = a
		}
		a.t.add(n.Times)
		a.hConnect.Merge(n.HConnect)
		a.hSignal.Merge(n.HSignal)
		a.hSINR.Merge(n.HSINR)
	}
	out := make([]Row, 0, len(m))
	for key, a := range m {
		row := timeRow(key, a.kind, a.t)
		row.MedianConnectS = median(a.hConnect, 0.1)
		signal(&row, a.hSignal)
		row.MedianSINR = median(a.hSINR, 1)
		out = append(out, row)
	}
	sortRows(out, func(a, b Row) bool {
		if a.Kind != b.Kind {
			return kindRank(a.Kind) < kindRank(b.Kind)
		}
		if a.ConnectedHours != b.ConnectedHours {
			return a.ConnectedHours > b.ConnectedHours
		}
		return a.Key < b.Key
	})
	return out
}

func areaRows(d *Data, netLabel func(kind, network string) string, areaLabel func(code, recorded string) (string, bool)) []Row {
	type acc struct {
		t       Times
		kind    string
		net     string
		hSignal journal.Hist
		hTech   journal.Hist
	}
	m := map[[2]string]*acc{}
	for _, x := range d.Areas {
		area, _ := areaLabel(x.Area, x.AreaName)
		net := netLabel(x.Kind, x.Network)
		a := m[[2]string{area, net}]
		if a == nil {
			a = &acc{kind: x.Kind, net: net, hSignal: journal.Hist{}, hTech: journal.Hist{}}
			m[[2]string{area, net}] = a
		}
		a.t.add(x.Times)
		a.hSignal.Merge(x.HSignal)
		a.hTech.Merge(x.HTech)
	}
	out := make([]Row, 0, len(m))
	for k, a := range m {
		row := timeRow(k[0], a.kind, a.t)
		row.Sessions = 0
		row.Network = a.net
		signal(&row, a.hSignal)
		row.TechShare = techShare(a.hTech)
		out = append(out, row)
	}
	sortRows(out, func(a, b Row) bool {
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if a.ConnectedHours != b.ConnectedHours {
			return a.ConnectedHours > b.ConnectedHours
		}
		return a.Network < b.Network
	})
	return out
}

func visitFigures(row *Row, h journal.Hist, bin int) {
	if n := h.Count(); n > 0 {
		row.Visits = n
		row.WorkableVisits = h.AtLeast(bin)
		row.WorkableVisitsPct = optPct(row.WorkableVisits, n)
	}
}

// deviceRows are the devices' figures and, from them, the headline: the
// devices whose share of workable visits reaches the mark.
func deviceRows(q Query, d *Data, info map[string]DeviceInfo, bin int) ([]Row, Headline) {
	times := map[string]Times{}
	for _, x := range d.DeviceTimes {
		t := times[x.Device]
		t.add(x.Times)
		times[x.Device] = t
	}
	visits := map[string]*VisitSum{}
	for i := range d.DeviceVisits {
		x := &d.DeviceVisits[i]
		if v := visits[x.Device]; v != nil {
			v.Failovers += x.Failovers
			v.H.Merge(x.H)
		} else {
			visits[x.Device] = &VisitSum{Device: x.Device, Failovers: x.Failovers, H: journal.Hist{}}
			visits[x.Device].H.Merge(x.H)
		}
	}
	ids := map[string]bool{}
	for id := range times {
		ids[id] = true
	}
	for id := range visits {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	names := make(map[string]string, len(sorted))
	for _, id := range sorted {
		if dv, ok := info[id]; ok {
			names[id] = devLabel(dv)
		} else {
			names[id] = short(id)
		}
	}
	name := func(id string) string { return names[id] }
	sort.Slice(sorted, func(i, j int) bool { return names[sorted[i]] < names[sorted[j]] })
	h := Headline{VisitShare: q.VisitShare, DeviceShare: q.DeviceShare}
	var out []Row
	for _, id := range sorted {
		row := timeRow(name(id), "", times[id])
		row.ID = id
		if v := visits[id]; v != nil {
			row.Failovers = v.Failovers
			visitFigures(&row, v.H, bin)
		}
		out = append(out, row)
		if row.Visits == 0 {
			continue
		}
		h.Devices++
		h.Visits += row.Visits
		h.Workable += row.WorkableVisits
		if float64(row.WorkableVisits) >= q.DeviceShare*float64(row.Visits)-1e-9 {
			h.Qualifying++
		}
	}
	if h.Devices > 0 {
		h.Pct = round(100*float64(h.Qualifying)/float64(h.Devices), 1)
		h.Text = fmt.Sprintf("%s%% of clinicians' devices (%d of %d) had workable signal in at least %s%% of their visits",
			trim(h.Pct), h.Qualifying, h.Devices, trim(100*q.DeviceShare))
	} else {
		h.Text = "No visits recorded in this period (press v in fieldlink on arrival and on leaving)"
	}
	return out, h
}

func dayRows(d *Data, bin int) (days, weeks []Row) {
	type acc struct {
		t         Times
		failovers int64
		h         journal.Hist
	}
	byDay := map[int64]*acc{}
	get := func(day int64) *acc {
		a := byDay[day]
		if a == nil {
			a = &acc{h: journal.Hist{}}
			byDay[day] = a
		}
		return a
	}
	for _, x := range d.DayTimes {
		get(x.Day).t.add(x.Times)
	}
	for _, x := range d.DayVisits {
		a := get(x.Day)
		a.failovers += x.Failovers
		a.h.Merge(x.H)
	}
	keys := make([]int64, 0, len(byDay))
	for k := range byDay {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	byWeek := map[string]*acc{}
	var weekKeys []string
	for _, k := range keys {
		a := byDay[k]
		row := timeRow(dayString(k), "", a.t)
		row.Failovers = a.failovers
		visitFigures(&row, a.h, bin)
		days = append(days, row)
		w := weekString(k)
		wa := byWeek[w]
		if wa == nil {
			wa = &acc{h: journal.Hist{}}
			byWeek[w] = wa
			weekKeys = append(weekKeys, w)
		}
		wa.t.add(a.t)
		wa.failovers += a.failovers
		wa.h.Merge(a.h)
	}
	for _, w := range weekKeys {
		a := byWeek[w]
		row := timeRow(w, "", a.t)
		row.Failovers = a.failovers
		visitFigures(&row, a.h, bin)
		weeks = append(weeks, row)
	}
	return days, weeks
}

// matrix builds the operator × area table, the operators' lines and the
// dead zones.
func matrix(q Query, d *Data, netLabel func(kind, network string) string, areaLabel func(code, recorded string) (string, bool),
	bin int) (Matrix, []Operator, []string) {
	t := tallyCells(d.Cells, netLabel, areaLabel)
	m := Matrix{Networks: t.rankedNetworks()}
	operators := t.operatorLines(m.Networks, bin)
	for name, a := range t.byArea {
		row := a.row(name, m.Networks, bin, q.DeviceShare)
		row.Where = whereIs(q.Areas, row)
		m.Rows = append(m.Rows, row)
	}
	sort.Slice(m.Rows, func(i, j int) bool {
		a, b := m.Rows[i], m.Rows[j]
		if a.DeadZone != b.DeadZone {
			return a.DeadZone
		}
		if a.Visits != b.Visits {
			return a.Visits > b.Visits
		}
		return a.Area < b.Area
	})
	dead := []string{}
	for _, row := range m.Rows {
		if row.DeadZone {
			dead = append(dead, row.Area)
		}
	}
	return m, operators, dead
}

// cellAcc sums one network's visits (or the visits themselves) somewhere.
type cellAcc struct {
	kind   string
	visits int64
	h      journal.Hist
}

func (c *cellAcc) add(x VisitCell) {
	c.visits += x.Visits
	c.h.Merge(x.H)
}

// areaAcc is one named area's visits and its networks' cells.
type areaAcc struct {
	named bool
	codes map[string]bool
	work  cellAcc
	cells map[string]*cellAcc
}

// opAcc is one network over every area.
type opAcc struct {
	cellAcc
	areas map[string]bool
}

// cellTally is the visit cells summed by area name and by network.
type cellTally struct {
	byArea map[string]*areaAcc
	ops    map[string]*opAcc
}

// tallyCells sums the visit cells under the areas' names (codes the map
// names alike fall together) and the networks' labels.
func tallyCells(cells []VisitCell, netLabel func(kind, network string) string, areaLabel func(code, recorded string) (string, bool)) cellTally {
	t := cellTally{byArea: map[string]*areaAcc{}, ops: map[string]*opAcc{}}
	for _, x := range cells {
		net := netLabel(x.Kind, x.Network)
		if x.Area == "" {
			if x.Kind != journal.WorkKind {
				t.op(x.Kind, net).add(x)
			}
			continue
		}
		name, named := areaLabel(x.Area, x.AreaName)
		a := t.byArea[name]
		if a == nil {
			a = &areaAcc{codes: map[string]bool{}, cells: map[string]*cellAcc{}, work: cellAcc{h: journal.Hist{}}}
			t.byArea[name] = a
		}
		a.named = a.named || named
		a.codes[x.Area] = true
		if x.Kind == journal.WorkKind {
			a.work.add(x)
			continue
		}
		c := a.cells[net]
		if c == nil {
			c = &cellAcc{kind: x.Kind, h: journal.Hist{}}
			a.cells[net] = c
		}
		c.add(x)
		t.op(x.Kind, net).areas[name] = true
	}
	return t
}

func (t cellTally) op(kind, net string) *opAcc {
	o := t.ops[net]
	if o == nil {
		o = &opAcc{cellAcc: cellAcc{kind: kind, h: journal.Hist{}}, areas: map[string]bool{}}
		t.ops[net] = o
	}
	return o
}

// rankedNetworks orders the table's columns: by kind, then most visits.
func (t cellTally) rankedNetworks() []string {
	var nets []string
	for net := range t.ops {
		nets = append(nets, net)
	}
	sort.Slice(nets, func(i, j int) bool {
		a, b := t.ops[nets[i]], t.ops[nets[j]]
		if a.kind != b.kind {
			return kindRank(a.kind) < kindRank(b.kind)
		}
		if a.visits != b.visits {
			return a.visits > b.visits
		}
		return nets[i] < nets[j]
	})
	return nets
}

// operatorLines are the networks' lines under the table.
func (t cellTally) operatorLines(nets []string, bin int) []Operator {
	var operators []Operator
	for _, net := range nets {
		o := t.ops[net]
		w := o.h.AtLeast(bin)
		line := Operator{Network: net, Kind: o.kind, Visits: o.visits, Workable: w, Pct: pct(w, o.visits), Areas: len(o.areas)}
		areasWord := "areas"
		if line.Areas == 1 {
			areasWord = "area"
		}
		line.Text = fmt.Sprintf("%s: workable in %s%% of %s, %d %s", net, trim(line.Pct), plural(line.Visits, "visit"), line.Areas, areasWord)
		operators = append(operators, line)
	}
	return operators
}

// row is an area's line of the table: its visits, a cell per network, the
// best network there, and whether it is a dead zone at the mark.
func (a *areaAcc) row(name string, nets []string, bin int, mark float64) AreaRow {
	row := AreaRow{Area: name, Named: a.named, Visits: a.work.visits}
	for c := range a.codes {
		row.Codes = append(row.Codes, c)
	}
	sort.Strings(row.Codes)
	row.Workable = a.work.h.AtLeast(bin)
	row.Pct = pct(row.Workable, row.Visits)
	best, bestMobile := -1.0, 0.0
	for _, net := range nets {
		c := a.cells[net]
		if c == nil {
			continue
		}
		w := c.h.AtLeast(bin)
		row.Cells = append(row.Cells, Cell{Network: net, Kind: c.kind, Visits: c.visits, Workable: w, Pct: pct(w, c.visits)})
		share := float64(w) / float64(max(c.visits, 1))
		if share > best {
			best, row.Best, row.BestPct = share, net, pct(w, c.visits)
		}
		if c.kind == "cellular" {
			bestMobile = max(bestMobile, share)
		}
	}
	// Neither the visits there nor any SIM one could buy were workable
	// often enough: where clinicians plan to work offline. A Wi-Fi
	// network seen there on one visit (a patient's home) rescues nothing,
	// so Wi-Fi counts only through the visits themselves.
	visitsShare := float64(row.Workable) / float64(max(row.Visits, 1))
	row.DeadZone = visitsShare < mark-1e-9 && bestMobile < mark-1e-9
	row.Advice = row.Recommend(mark)
	return row
}

// whereIs places an area: the centre of its boxes on the area map, else
// the average of the (1 km) positions its codes carry.
func whereIs(names *areas.Map, row AreaRow) *Position {
	if lat, lon, ok := names.Center(row.Area); ok {
		return &Position{Lat: lat, Lon: lon}
	}
	var lat, lon float64
	n := 0
	for _, c := range row.Codes {
		if p := areas.ParseCode(c); p.GPS {
			lat, lon, n = lat+p.Lat, lon+p.Lon, n+1
		}
	}
	if n == 0 {
		return nil
	}
	return &Position{Lat: areas.Round(lat / float64(n)), Lon: areas.Round(lon / float64(n))}
}

// unnamed lists the codes the area map does not name, most seen first.
func unnamed(d *Data, netLabel func(kind, network string) string, areaLabel func(code, recorded string) (string, bool)) []Unnamed {
	type acc struct {
		visits int64
		conn   int64
		nets   map[string]bool
	}
	m := map[string]*acc{}
	get := func(code string) *acc {
		a := m[code]
		if a == nil {
			a = &acc{nets: map[string]bool{}}
			m[code] = a
		}
		return a
	}
	for _, x := range d.Cells {
		if x.Area == "" {
			continue
		}
		if _, named := areaLabel(x.Area, x.AreaName); named {
			continue
		}
		a := get(x.Area)
		if x.Kind == journal.WorkKind {
			a.visits += x.Visits
		} else {
			a.nets[netLabel(x.Kind, x.Network)] = true
		}
	}
	for _, x := range d.Areas {
		if _, named := areaLabel(x.Area, x.AreaName); named || x.Area == "" {
			continue
		}
		a := get(x.Area)
		a.conn += x.Connected
		a.nets[netLabel(x.Kind, x.Network)] = true
	}
	var out []Unnamed
	for code, a := range m {
		u := Unnamed{Code: code, Visits: a.visits, ConnectedHours: hours(a.conn)}
		for n := range a.nets {
			u.Networks = append(u.Networks, n)
		}
		sort.Strings(u.Networks)
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Visits != b.Visits {
			return a.Visits > b.Visits
		}
		if a.ConnectedHours != b.ConnectedHours {
			return a.ConnectedHours > b.ConnectedHours
		}
		return a.Code < b.Code
	})
	return out
}

// period is the days the report covers: as asked, and where a bound was
// not given, the first or last day with records.
func period(q Query, d *Data) Period {
	first, last := int64(1<<62), int64(-1<<62)
	see := func(day int64) {
		first, last = min(first, day), max(last, day)
	}
	for _, x := range d.DayTimes {
		see(x.Day)
	}
	for _, x := range d.DayVisits {
		see(x.Day)
	}
	lo, hi := dayRange(q)
	if !q.Since.IsZero() {
		first = lo
	}
	if !q.Until.IsZero() {
		last = hi
	}
	switch {
	case first <= last:
		return Period{From: dayString(first), To: dayString(last), Text: periodText(first, last)}
	case !q.Since.IsZero():
		return Period{From: dayString(lo), Text: "from " + dayTime(lo).Format("2 Jan 2006") + " (nothing recorded since)"}
	case !q.Until.IsZero():
		return Period{To: dayString(hi), Text: "up to " + dayTime(hi).Format("2 Jan 2006") + " (nothing recorded before)"}
	}
	return Period{Text: "no days recorded"}
}

// plural is "1 visit", "2 visits".
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return count(n) + " " + word + "s"
}

// Only narrows a report to one network (its label, as in the table's
// columns) and or one area (its name or code); "" keeps all. The
// headline and the per-device figures stay the fleet's: they are about
// visits, whatever network carried them.
func (r *Report) Only(network, area string) {
	if network != "" {
		keep := func(n string) bool { return n == network }
		var nets []string
		for _, n := range r.Matrix.Networks {
			if keep(n) {
				nets = append(nets, n)
			}
		}
		r.Matrix.Networks = nets
		for i := range r.Matrix.Rows {
			var cells []Cell
			for _, c := range r.Matrix.Rows[i].Cells {
				if keep(c.Network) {
					cells = append(cells, c)
				}
			}
			r.Matrix.Rows[i].Cells = cells
		}
		var ops []Operator
		for _, o := range r.Operators {
			if keep(o.Network) {
				ops = append(ops, o)
			}
		}
		r.Operators = ops
		r.Networks = filterRows(r.Networks, func(x Row) bool { return keep(x.Key) })
		r.Areas = filterRows(r.Areas, func(x Row) bool { return keep(x.Network) })
	}
	if area != "" {
		var rows []AreaRow
		for _, a := range r.Matrix.Rows {
			if a.Area == area {
				rows = append(rows, a)
			}
		}
		r.Matrix.Rows = rows
		var dead []string
		for _, d := range r.DeadZones {
			if d == area {
				dead = append(dead, d)
			}
		}
		r.DeadZones = append([]string{}, dead...)
		r.Areas = filterRows(r.Areas, func(x Row) bool { return x.Key == area })
		var un []Unnamed
		for _, u := range r.Unnamed {
			if u.Code == area {
				un = append(un, u)
			}
		}
		r.Unnamed = un
	}
}

func filterRows(rows []Row, keep func(Row) bool) []Row {
	var out []Row
	for _, x := range rows {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}
