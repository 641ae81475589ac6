package journal

// migrations, in order; PRAGMA user_version counts those applied. Never
// edit one that has shipped: add another. Times are UTC milliseconds since
// the epoch; days are UTC days since the epoch.
var migrations = []string{
	// 1: the record itself.
	`
CREATE TABLE device (
	id         TEXT PRIMARY KEY,
	hostname   TEXT NOT NULL,
	created_ms INTEGER NOT NULL
);
CREATE TABLE session (
	id          INTEGER PRIMARY KEY,
	uuid        TEXT NOT NULL UNIQUE,
	device_id   TEXT NOT NULL REFERENCES device(id),
	link        TEXT NOT NULL,
	kind        TEXT NOT NULL,
	interface   TEXT NOT NULL DEFAULT '',
	profile     TEXT NOT NULL DEFAULT '',
	network     TEXT NOT NULL DEFAULT '',
	mcc         TEXT NOT NULL DEFAULT '',
	mnc         TEXT NOT NULL DEFAULT '',
	tech        TEXT NOT NULL DEFAULT '',
	roaming     INTEGER NOT NULL DEFAULT 0,
	area        TEXT NOT NULL DEFAULT '',
	start_ms    INTEGER NOT NULL,
	end_ms      INTEGER,
	end_reason  TEXT NOT NULL DEFAULT '',
	connect_ms  INTEGER,
	green_ms    INTEGER NOT NULL DEFAULT 0,
	amber_ms    INTEGER NOT NULL DEFAULT 0,
	red_ms      INTEGER NOT NULL DEFAULT 0,
	in_use_ms   INTEGER NOT NULL DEFAULT 0,
	workable_ms INTEGER NOT NULL DEFAULT 0,
	samples     INTEGER NOT NULL DEFAULT 0,
	probes_ok   INTEGER NOT NULL DEFAULT 0,
	probes      INTEGER NOT NULL DEFAULT 0,
	med_strength REAL,
	med_rsrp    REAL,
	med_sinr    REAL,
	med_rscp    REAL,
	med_rtt     REAL
);
CREATE INDEX session_start ON session(start_ms);
CREATE INDEX session_open ON session(end_ms) WHERE end_ms IS NULL;
CREATE TABLE sample (
	session_id INTEGER NOT NULL REFERENCES session(id) ON DELETE CASCADE,
	t_ms       INTEGER NOT NULL,
	level      INTEGER NOT NULL,
	in_use     INTEGER NOT NULL,
	strength   REAL,
	rsrp       REAL,
	rsrq       REAL,
	sinr       REAL,
	rscp       REAL,
	rtt        REAL,
	probe      INTEGER,
	tech       TEXT NOT NULL DEFAULT '',
	area       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (session_id, t_ms)
) WITHOUT ROWID;
CREATE INDEX sample_t ON sample(t_ms);
CREATE TABLE event (
	id        INTEGER PRIMARY KEY,
	device_id TEXT NOT NULL REFERENCES device(id),
	t_ms      INTEGER NOT NULL,
	kind      TEXT NOT NULL,
	link      TEXT NOT NULL DEFAULT '',
	level     INTEGER NOT NULL DEFAULT 0,
	text      TEXT NOT NULL
);
CREATE INDEX event_t ON event(t_ms);
CREATE TABLE visit (
	id          INTEGER PRIMARY KEY,
	uuid        TEXT NOT NULL UNIQUE,
	device_id   TEXT NOT NULL REFERENCES device(id),
	start_ms    INTEGER NOT NULL,
	end_ms      INTEGER,
	total_ms    INTEGER NOT NULL DEFAULT 0,
	workable_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX visit_start ON visit(start_ms)
`,
	// 2: daily roll-ups, kept up to date as sessions and visits close, so
	// that reports do not read every session. Medians come from the
	// histograms (bins of 1 dB, 1 %, 10 ms, 100 ms), encoded "bin:count,...".
	`
CREATE TABLE day_net (
	device_id   TEXT NOT NULL,
	day         INTEGER NOT NULL,
	kind        TEXT NOT NULL,
	network     TEXT NOT NULL,
	mcc         TEXT NOT NULL DEFAULT '',
	mnc         TEXT NOT NULL DEFAULT '',
	sessions    INTEGER NOT NULL DEFAULT 0,
	connected_ms INTEGER NOT NULL DEFAULT 0,
	green_ms    INTEGER NOT NULL DEFAULT 0,
	amber_ms    INTEGER NOT NULL DEFAULT 0,
	red_ms      INTEGER NOT NULL DEFAULT 0,
	in_use_ms   INTEGER NOT NULL DEFAULT 0,
	workable_ms INTEGER NOT NULL DEFAULT 0,
	h_connect   TEXT NOT NULL DEFAULT '',
	h_signal    TEXT NOT NULL DEFAULT '',
	h_sinr      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (device_id, day, kind, network)
) WITHOUT ROWID;
CREATE TABLE day_area (
	device_id   TEXT NOT NULL,
	day         INTEGER NOT NULL,
	kind        TEXT NOT NULL,
	network     TEXT NOT NULL,
	area        TEXT NOT NULL,
	connected_ms INTEGER NOT NULL DEFAULT 0,
	green_ms    INTEGER NOT NULL DEFAULT 0,
	amber_ms    INTEGER NOT NULL DEFAULT 0,
	red_ms      INTEGER NOT NULL DEFAULT 0,
	workable_ms INTEGER NOT NULL DEFAULT 0,
	h_signal    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (device_id, day, kind, network, area)
) WITHOUT ROWID;
CREATE TABLE day_device (
	device_id  TEXT NOT NULL,
	day        INTEGER NOT NULL,
	failovers  INTEGER NOT NULL DEFAULT 0,
	visits     INTEGER NOT NULL DEFAULT 0,
	h_visit    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (device_id, day)
) WITHOUT ROWID;
INSERT INTO day_net(device_id, day, kind, network, mcc, mnc, sessions, connected_ms, green_ms, amber_ms, red_ms, in_use_ms, workable_ms)
	SELECT device_id, start_ms / 86400000, kind, network, MAX(mcc), MAX(mnc), COUNT(*),
		SUM(COALESCE(end_ms, start_ms) - start_ms), SUM(green_ms), SUM(amber_ms), SUM(red_ms), SUM(in_use_ms), SUM(workable_ms)
	FROM session GROUP BY device_id, start_ms / 86400000, kind, network;
INSERT INTO day_area(device_id, day, kind, network, area, connected_ms, green_ms, amber_ms, red_ms, workable_ms)
	SELECT device_id, start_ms / 86400000, kind, network, area, SUM(COALESCE(end_ms, start_ms) - start_ms),
		SUM(green_ms), SUM(amber_ms), SUM(red_ms), SUM(workable_ms)
	FROM session GROUP BY device_id, start_ms / 86400000, kind, network, area;
INSERT INTO day_device(device_id, day, visits)
	SELECT device_id, start_ms / 86400000, COUNT(*) FROM visit WHERE end_ms IS NOT NULL GROUP BY device_id, start_ms / 86400000;
INSERT OR IGNORE INTO day_device(device_id, day, failovers)
	SELECT device_id, t_ms / 86400000, 0 FROM event WHERE kind = 'failover' GROUP BY device_id, t_ms / 86400000;
UPDATE day_device SET failovers = (SELECT COUNT(*) FROM event e WHERE e.device_id = day_device.device_id
	AND e.t_ms / 86400000 = day_device.day AND e.kind = 'failover');
UPDATE day_device SET h_visit = COALESCE((SELECT group_concat(b || ':' || n) FROM (
	SELECT CAST(100 * workable_ms / MAX(total_ms, 1) AS INTEGER) AS b, COUNT(*) AS n FROM visit v
	WHERE v.device_id = day_device.device_id AND v.start_ms / 86400000 = day_device.day AND v.end_ms IS NOT NULL
	GROUP BY b)), '')
`,
	// 3: events merged from other journals keep their id there, so that
	// importing an export twice stores each event once, and the journal's
	// own device is marked.
	`
ALTER TABLE event ADD COLUMN origin INTEGER;
CREATE UNIQUE INDEX event_origin ON event(device_id, origin) WHERE origin IS NOT NULL;
-- A journal that has merged other devices' exports still knows which
-- device is its own.
ALTER TABLE device ADD COLUMN self INTEGER NOT NULL DEFAULT 0;
UPDATE device SET self = 1 WHERE id = (SELECT id FROM device ORDER BY created_ms LIMIT 1)
`, // 4: the roll-ups ordered for reports: grouping by network and area
	// then streams through the table instead of sorting a fleet's year
	// (1.6 s -> 0.3 s for 730,000 area-days). The keys are unchanged.
	`
CREATE TABLE day_net4 (
	device_id   TEXT NOT NULL,
	day         INTEGER NOT NULL,
	kind        TEXT NOT NULL,
	network     TEXT NOT NULL,
	mcc         TEXT NOT NULL DEFAULT '',
	mnc         TEXT NOT NULL DEFAULT '',
	sessions    INTEGER NOT NULL DEFAULT 0,
	connected_ms INTEGER NOT NULL DEFAULT 0,
	green_ms    INTEGER NOT NULL DEFAULT 0,
	amber_ms    INTEGER NOT NULL DEFAULT 0,
	red_ms      INTEGER NOT NULL DEFAULT 0,
	in_use_ms   INTEGER NOT NULL DEFAULT 0,
	workable_ms INTEGER NOT NULL DEFAULT 0,
	h_connect   TEXT NOT NULL DEFAULT '',
	h_signal    TEXT NOT NULL DEFAULT '',
	h_sinr      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (kind, network, day, device_id)
) WITHOUT ROWID;
INSERT INTO day_net4 SELECT device_id, day, kind, network, mcc, mnc, sessions, connected_ms, green_ms, amber_ms, red_ms, in_use_ms,
	workable_ms, h_connect, h_signal, h_sinr FROM day_net;
DROP TABLE day_net;
ALTER TABLE day_net4 RENAME TO day_net;
CREATE TABLE day_area4 (
	device_id   TEXT NOT NULL,
	day         INTEGER NOT NULL,
	kind        TEXT NOT NULL,
	network     TEXT NOT NULL,
	area        TEXT NOT NULL,
	connected_ms INTEGER NOT NULL DEFAULT 0,
	green_ms    INTEGER NOT NULL DEFAULT 0,
	amber_ms    INTEGER NOT NULL DEFAULT 0,
	red_ms      INTEGER NOT NULL DEFAULT 0,
	workable_ms INTEGER NOT NULL DEFAULT 0,
	h_signal    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (kind, network, area, day, device_id)
) WITHOUT ROWID;
INSERT INTO day_area4 SELECT device_id, day, kind, network, area, connected_ms, green_ms, amber_ms, red_ms, workable_ms, h_signal FROM day_area;
DROP TABLE day_area;
ALTER TABLE day_area4 RENAME TO day_area;
-- Samples are found by session (their key) for retention and export: an
-- index by time cost a fifth of each sample's bytes.
DROP INDEX sample_t
`,
	// 5: the same bases in every table, visits counted where they happened,
	// and demo data marked. usable_ms is the connected time a link was
	// workable (at least amber with probes passing) whether or not it
	// carried the work: the basis of "% of connected time" for networks and
	// areas alike (old rows: their time at least amber). visit_net holds
	// each visit's connected and usable time per network and area (area ''
	// is the whole visit), and day_visit the share of each visit a network
	// was usable, as a histogram, so that a report can count the visits
	// workable at whatever share it asks. A visit open when fieldlink
	// stops is paused (paused_ms) and resumed when it comes back in time;
	// alive_ms is the last moment fieldlink was known to run during it.
	// The area and visit roll-ups lead with the day, and have month
	// roll-ups over all devices beside them, so that a fleet's year is
	// read from some fifty thousand rows rather than two million; triggers
	// mark a month stale whenever its days change, and a stale month is
	// read from its days until RefreshMonths rebuilds it. (The triggers
	// test before inserting: OR IGNORE inside a trigger yields to the outer
	// statement's conflict handling, an upsert's ABORT.)
	`
ALTER TABLE device ADD COLUMN demo INTEGER NOT NULL DEFAULT 0;
ALTER TABLE session ADD COLUMN usable_ms INTEGER NOT NULL DEFAULT 0;
UPDATE session SET usable_ms = green_ms + amber_ms;
ALTER TABLE day_net ADD COLUMN usable_ms INTEGER NOT NULL DEFAULT 0;
UPDATE day_net SET usable_ms = green_ms + amber_ms;
CREATE TABLE day_area5 (
	device_id    TEXT NOT NULL,
	day          INTEGER NOT NULL,
	kind         TEXT NOT NULL,
	network      TEXT NOT NULL,
	area         TEXT NOT NULL,
	connected_ms INTEGER NOT NULL DEFAULT 0,
	green_ms     INTEGER NOT NULL DEFAULT 0,
	amber_ms     INTEGER NOT NULL DEFAULT 0,
	red_ms       INTEGER NOT NULL DEFAULT 0,
	workable_ms  INTEGER NOT NULL DEFAULT 0,
	h_signal     TEXT NOT NULL DEFAULT '',
	usable_ms    INTEGER NOT NULL DEFAULT 0,
	in_use_ms    INTEGER NOT NULL DEFAULT 0,
	area_name    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (day, device_id, kind, network, area)
) WITHOUT ROWID;
INSERT INTO day_area5 SELECT device_id, day, kind, network, area, connected_ms, green_ms, amber_ms, red_ms, workable_ms, h_signal,
	green_ms + amber_ms, 0, '' FROM day_area;
DROP TABLE day_area;
ALTER TABLE day_area5 RENAME TO day_area;
ALTER TABLE visit ADD COLUMN end_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE visit ADD COLUMN alive_ms INTEGER;
ALTER TABLE visit ADD COLUMN paused_ms INTEGER;
CREATE TABLE visit_net (
	device_id    TEXT NOT NULL,
	visit_uuid   TEXT NOT NULL,
	kind         TEXT NOT NULL,
	network      TEXT NOT NULL,
	area         TEXT NOT NULL,
	mcc          TEXT NOT NULL DEFAULT '',
	mnc          TEXT NOT NULL DEFAULT '',
	area_name    TEXT NOT NULL DEFAULT '',
	connected_ms INTEGER NOT NULL DEFAULT 0,
	usable_ms    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (device_id, visit_uuid, kind, network, area)
) WITHOUT ROWID;
CREATE TABLE day_visit (
	device_id TEXT NOT NULL,
	day       INTEGER NOT NULL,
	kind      TEXT NOT NULL,
	network   TEXT NOT NULL,
	area      TEXT NOT NULL,
	mcc       TEXT NOT NULL DEFAULT '',
	mnc       TEXT NOT NULL DEFAULT '',
	area_name TEXT NOT NULL DEFAULT '',
	visits    INTEGER NOT NULL DEFAULT 0,
	h_share   TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (day, device_id, kind, network, area)
) WITHOUT ROWID;
CREATE TABLE month_area (
	month        TEXT NOT NULL,
	kind         TEXT NOT NULL,
	network      TEXT NOT NULL,
	area         TEXT NOT NULL,
	area_name    TEXT NOT NULL DEFAULT '',
	connected_ms INTEGER NOT NULL DEFAULT 0,
	green_ms     INTEGER NOT NULL DEFAULT 0,
	amber_ms     INTEGER NOT NULL DEFAULT 0,
	red_ms       INTEGER NOT NULL DEFAULT 0,
	usable_ms    INTEGER NOT NULL DEFAULT 0,
	in_use_ms    INTEGER NOT NULL DEFAULT 0,
	workable_ms  INTEGER NOT NULL DEFAULT 0,
	h_signal     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (month, kind, network, area)
) WITHOUT ROWID;
CREATE TABLE month_visit (
	month     TEXT NOT NULL,
	kind      TEXT NOT NULL,
	network   TEXT NOT NULL,
	area      TEXT NOT NULL,
	mcc       TEXT NOT NULL DEFAULT '',
	mnc       TEXT NOT NULL DEFAULT '',
	area_name TEXT NOT NULL DEFAULT '',
	visits    INTEGER NOT NULL DEFAULT 0,
	h_share   TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (month, kind, network, area)
) WITHOUT ROWID;
CREATE TABLE month_stale (month TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TRIGGER day_area_ins AFTER INSERT ON day_area BEGIN
	INSERT INTO month_stale SELECT strftime('%Y-%m', NEW.day * 86400, 'unixepoch') WHERE NOT EXISTS (SELECT 1 FROM month_stale WHERE month = strftime('%Y-%m', NEW.day * 86400, 'unixepoch')); END;
CREATE TRIGGER day_area_upd AFTER UPDATE ON day_area BEGIN
	INSERT INTO month_stale SELECT strftime('%Y-%m', NEW.day * 86400, 'unixepoch') WHERE NOT EXISTS (SELECT 1 FROM month_stale WHERE month = strftime('%Y-%m', NEW.day * 86400, 'unixepoch')); END;
CREATE TRIGGER day_area_del AFTER DELETE ON day_area BEGIN
	INSERT INTO month_stale SELECT strftime('%Y-%m', OLD.day * 86400, 'unixepoch') WHERE NOT EXISTS (SELECT 1 FROM month_stale WHERE month = strftime('%Y-%m', OLD.day * 86400, 'unixepoch')); END;
CREATE TRIGGER day_visit_ins AFTER INSERT ON day_visit BEGIN
	INSERT INTO month_stale SELECT strftime('%Y-%m', NEW.day * 86400, 'unixepoch') WHERE NOT EXISTS (SELECT 1 FROM month_stale WHERE month = strftime('%Y-%m', NEW.day * 86400, 'unixepoch')); END;
CREATE TRIGGER day_visit_upd AFTER UPDATE ON day_visit BEGIN
	INSERT INTO month_stale SELECT strftime('%Y-%m', NEW.day * 86400, 'unixepoch') WHERE NOT EXISTS (SELECT 1 FROM month_stale WHERE month = strftime('%Y-%m', NEW.day * 86400, 'unixepoch')); END;
CREATE TRIGGER day_visit_del AFTER DELETE ON day_visit BEGIN
	INSERT INTO month_stale SELECT strftime('%Y-%m', OLD.day * 86400, 'unixepoch') WHERE NOT EXISTS (SELECT 1 FROM month_stale WHERE month = strftime('%Y-%m', OLD.day * 86400, 'unixepoch')); END;
INSERT OR IGNORE INTO month_stale SELECT DISTINCT strftime('%Y-%m', day * 86400, 'unixepoch') FROM day_area
`,
	// 6: where the journal stands with the fleet server: what it has
	// acknowledged (acked_ms: everything up to then, less a margin, is
	// known to be stored), and the last try, success and error for the
	// screens.
	`
CREATE TABLE sync_state (
	server      TEXT PRIMARY KEY,
	acked_ms    INTEGER NOT NULL DEFAULT 0,
	last_try_ms INTEGER NOT NULL DEFAULT 0,
	last_ok_ms  INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	last_sent   TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID
`,
	// 7: the VPN's own record: each session (from the first start to the
	// VPN no longer wanted, or held for the clinician), every re-make in
	// it (when the tunnel left, why, over which links, how long until it
	// was up again), and per day the sessions, re-makes, time up and
	// prompts the clinician saw.
	`
CREATE TABLE vpn_session (
	uuid       TEXT PRIMARY KEY,
	device_id  TEXT NOT NULL REFERENCES device(id),
	profile    TEXT NOT NULL,
	start_ms   INTEGER NOT NULL,
	up_first_ms INTEGER,
	end_ms     INTEGER,
	end_reason TEXT NOT NULL DEFAULT '',
	up_ms      INTEGER NOT NULL DEFAULT 0,
	remakes    INTEGER NOT NULL DEFAULT 0,
	prompts    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX vpn_session_start ON vpn_session(start_ms);
CREATE TABLE vpn_remake (
	session_uuid TEXT NOT NULL,
	t_ms         INTEGER NOT NULL,
	reason       TEXT NOT NULL DEFAULT '',
	from_link    TEXT NOT NULL DEFAULT '',
	to_link      TEXT NOT NULL DEFAULT '',
	took_ms      INTEGER NOT NULL,
	PRIMARY KEY (session_uuid, t_ms)
) WITHOUT ROWID;
CREATE TABLE day_vpn (
	day       INTEGER NOT NULL,
	device_id TEXT NOT NULL,
	profile   TEXT NOT NULL,
	sessions  INTEGER NOT NULL DEFAULT 0,
	remakes   INTEGER NOT NULL DEFAULT 0,
	up_ms     INTEGER NOT NULL DEFAULT 0,
	prompts   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (day, device_id, profile)
) WITHOUT ROWID
`,
	// 8: the fleet's summary for the areas the device works in, as the
	// fleet server last sent it (one document, replaced at each sync):
	// shown offline for the area the device is in.
	`
CREATE TABLE fleet_ahead (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	made_ms INTEGER NOT NULL,
	doc     TEXT NOT NULL
)
`,
	// 9: an area's connected time by radio generation (milliseconds in
	// bins 2 to 5): the 5G/4G/3G/2G share per operator and area. Days
	// recorded before have none.
	`
ALTER TABLE day_area ADD COLUMN h_tech TEXT NOT NULL DEFAULT '';
ALTER TABLE month_area ADD COLUMN h_tech TEXT NOT NULL DEFAULT ''
`,
}
