package journal

// The export format is fieldlink's fleet interface: one JSON object per
// line, each with "record" naming its type, keyed so that exports taken
// again and again merge without duplicates (see README, "Journal export").
// Fields are only ever added, never renamed or removed.

// colType is how a column travels.
type colType int

const (
	colInt colType = iota
	colReal
	colText
)

type column struct {
	name string // in the export, and the table's column unless sqlExpr says otherwise
	typ  colType
	null bool   // may be null
	expr string // export SELECT expression (default: the name)
	in   string // import placeholder expression (default: "?")
	dest string // import column (default: the name)
	skip bool   // exported only
	// added: a field a later fieldlink added; an older export without it
	// imports with the zero value (or null, where allowed).
	added bool
	// dur: a duration or count, never negative; at: a time (ms since the
	// epoch), written in ISO 8601 in a CSV.
	dur, at bool
	// enum lists the values a text field may take (empty: any).
	enum []string
}

// recordSpec describes one record type of the export.
type recordSpec struct {
	record string
	table  string
	from   string // FROM clause of the export
	since  string // expression compared with the since/until bounds (ms); "" for none
	order  string
	cols   []column
	// upsert is the conflict target (the record's key); events instead
	// insert only when absent (their key is not a column of the table).
	upsert []string
	insert string // a whole insert statement, when upsert cannot say it
}

var kinds = []string{"ethernet", "wifi", "cellular", "vpn", "other"}

// visitKinds adds the visit's own row: "work" is whatever carried the work,
// credited to the place the device was (see journal.WorkKind).
var visitKinds = append(append([]string(nil), kinds...), WorkKind)

// d and at are a duration and a time column.
func d(name string) column { return column{name: name, typ: colInt, dur: true} }

func at(name string) column { return column{name: name, typ: colInt, at: true} }

const dayExpr = "strftime('%Y-%m-%d', day * 86400, 'unixepoch')"

const dayIn = "CAST(julianday(?) - 2440587.5 AS INTEGER)"

const dayMS = "day * 86400000"

var records = []recordSpec{
	{record: "device", table: "device", from: "device", order: "created_ms, id",
		cols: []column{{name: "device_id", typ: colText, expr: "id", dest: "id"}, {name: "hostname", typ: colText}, at("created_ms"),
			{name: "demo", typ: colInt, added: true}},
		upsert: []string{"id"}},
	{record: "session", table: "session", from: "session s", since: "COALESCE(s.end_ms, s.start_ms)", order: "s.start_ms, s.id",
		cols: []column{{name: "device_id", typ: colText}, {name: "session_uuid", typ: colText, expr: "uuid", dest: "uuid"},
			{name: "link", typ: colText}, {name: "kind", typ: colText, enum: kinds}, {name: "interface", typ: colText}, {name: "profile", typ: colText},
			{name: "network", typ: colText}, {name: "mcc", typ: colText}, {name: "mnc", typ: colText}, {name: "tech", typ: colText},
			{name: "roaming", typ: colInt}, {name: "area", typ: colText}, at("start_ms"), {name: "end_ms", typ: colInt, null: true, at: true},
			{name: "end_reason", typ: colText}, {name: "connect_ms", typ: colInt, null: true, dur: true}, d("green_ms"),
			d("amber_ms"), d("red_ms"), d("in_use_ms"), d("workable_ms"),
			d("samples"), d("probes_ok"), d("probes"),
			{name: "med_strength", typ: colReal, null: true}, {name: "med_rsrp", typ: colReal, null: true}, {name: "med_sinr", typ: colReal, null: true},
			{name: "med_rscp", typ: colReal, null: true}, {name: "med_rtt", typ: colReal, null: true},
			{name: "usable_ms", typ: colInt, dur: true, added: true}},
		upsert: []string{"uuid"}},
	{record: "sample", table: "sample", from: "sample x JOIN session s ON s.id = x.session_id", since: "COALESCE(s.end_ms, s.start_ms)", order: "s.start_ms, s.id, x.t_ms",
		cols: []column{{name: "device_id", typ: colText, expr: "s.device_id", skip: true},
			{name: "session_uuid", typ: colText, expr: "s.uuid", dest: "session_id", in: "(SELECT id FROM session WHERE uuid = ?)"},
			{name: "t_ms", typ: colInt, expr: "x.t_ms", at: true}, {name: "level", typ: colInt}, {name: "in_use", typ: colInt},
			{name: "strength", typ: colReal, null: true}, {name: "rsrp", typ: colReal, null: true}, {name: "rsrq", typ: colReal, null: true},
			{name: "sinr", typ: colReal, null: true}, {name: "rscp", typ: colReal, null: true}, {name: "rtt", typ: colReal, null: true},
			{name: "probe", typ: colInt, null: true}, {name: "tech", typ: colText, expr: "x.tech"}, {name: "area", typ: colText, expr: "x.area"}},
		upsert: []string{"session_id", "t_ms"}},
	{record: "event", table: "event", from: "event", since: "t_ms", order: "t_ms, id",
		cols: []column{{name: "device_id", typ: colText}, {name: "seq", typ: colInt, expr: "COALESCE(origin, id)", dest: "origin"},
			at("t_ms"), {name: "kind", typ: colText}, {name: "link", typ: colText}, {name: "level", typ: colInt}, {name: "text", typ: colText}},
		insert: `INSERT INTO event(device_id, origin, t_ms, kind, link, level, text) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
	WHERE NOT EXISTS (SELECT 1 FROM event WHERE device_id = ?1 AND origin = ?2)
	AND NOT EXISTS (SELECT 1 FROM event WHERE id = ?2 AND origin IS NULL AND device_id = ?1)`},
	{record: "visit", table: "visit", from: "visit", since: "COALESCE(end_ms, start_ms)", order: "start_ms, id",
		cols: []column{{name: "device_id", typ: colText}, {name: "visit_uuid", typ: colText, expr: "uuid", dest: "uuid"},
			at("start_ms"), {name: "end_ms", typ: colInt, null: true, at: true}, d("total_ms"), d("workable_ms"),
			{name: "end_reason", typ: colText, added: true}, {name: "alive_ms", typ: colInt, null: true, at: true, added: true},
			{name: "paused_ms", typ: colInt, null: true, at: true, added: true}},
		upsert: []string{"uuid"}},
	{record: "visit_net", table: "visit_net", from: "visit_net n JOIN visit v ON v.uuid = n.visit_uuid",
		since: "COALESCE(v.end_ms, v.start_ms)", order: "v.start_ms, n.visit_uuid, n.kind, n.network, n.area",
		cols: []column{{name: "device_id", typ: colText, expr: "n.device_id"}, {name: "visit_uuid", typ: colText},
			{name: "kind", typ: colText, expr: "n.kind", enum: visitKinds}, {name: "network", typ: colText}, {name: "area", typ: colText},
			{name: "mcc", typ: colText}, {name: "mnc", typ: colText}, {name: "area_name", typ: colText},
			d("connected_ms"), d("usable_ms")},
		upsert: []string{"device_id", "visit_uuid", "kind", "network", "area"}},
	{record: "day_net", table: "day_net", from: "day_net", since: dayMS, order: "day, device_id, kind, network",
		cols: []column{{name: "device_id", typ: colText}, {name: "day", typ: colText, expr: dayExpr, in: dayIn},
			{name: "kind", typ: colText, enum: kinds}, {name: "network", typ: colText}, {name: "mcc", typ: colText}, {name: "mnc", typ: colText},
			d("sessions"), d("connected_ms"), d("green_ms"), d("amber_ms"),
			d("red_ms"), d("in_use_ms"), d("workable_ms"),
			{name: "h_connect", typ: colText}, {name: "h_signal", typ: colText}, {name: "h_sinr", typ: colText},
			{name: "usable_ms", typ: colInt, dur: true, added: true}},
		upsert: []string{"device_id", "day", "kind", "network"}},
	{record: "day_area", table: "day_area", from: "day_area", since: dayMS, order: "day, device_id, kind, network, area",
		cols: []column{{name: "device_id", typ: colText}, {name: "day", typ: colText, expr: dayExpr, in: dayIn},
			{name: "kind", typ: colText, enum: kinds}, {name: "network", typ: colText}, {name: "area", typ: colText},
			d("connected_ms"), d("green_ms"), d("amber_ms"),
			d("red_ms"), d("workable_ms"), {name: "h_signal", typ: colText},
			{name: "usable_ms", typ: colInt, dur: true, added: true}, {name: "in_use_ms", typ: colInt, dur: true, added: true},
			{name: "area_name", typ: colText, added: true}, {name: "h_tech", typ: colText, added: true}},
		upsert: []string{"device_id", "day", "kind", "network", "area"}},
	{record: "day_visit", table: "day_visit", from: "day_visit", since: dayMS, order: "day, device_id, kind, network, area",
		cols: []column{{name: "device_id", typ: colText}, {name: "day", typ: colText, expr: dayExpr, in: dayIn},
			{name: "kind", typ: colText, enum: visitKinds}, {name: "network", typ: colText}, {name: "area", typ: colText},
			{name: "mcc", typ: colText}, {name: "mnc", typ: colText}, {name: "area_name", typ: colText},
			d("visits"), {name: "h_share", typ: colText}},
		upsert: []string{"kind", "network", "area", "day", "device_id"}},
	{record: "day_device", table: "day_device", from: "day_device", since: dayMS, order: "day, device_id",
		cols: []column{{name: "device_id", typ: colText}, {name: "day", typ: colText, expr: dayExpr, in: dayIn},
			d("failovers"), d("visits"), {name: "h_visit", typ: colText}},
		upsert: []string{"device_id", "day"}},
}

// RecordTypes lists the export's record types, in the order written.
func RecordTypes() []string {
	out := make([]string, len(records))
	for i, r := range records {
		out[i] = r.record
	}
	return out
}

func specFor(name string) (*recordSpec, bool) {
	for i := range records {
		if records[i].record == name {
			return &records[i], true
		}
	}
	return nil, false
}

// RecordFields lists a record type's fields in export order (nil for an
// unknown type).
func RecordFields(record string) []string {
	sp, ok := specFor(record)
	if !ok {
		return nil
	}
	var out []string
	for _, c := range sp.cols {
		if !c.skip {
			out = append(out, c.name)
		}
	}
	return out
}
