package store

// migrations are the fleet store's schema, in order; the store runs the
// ones a database has not had, each in its own transaction, and records
// the version. Never edit one that has shipped: add another.
var migrations = []string{
	// 1: devices and who may write and read; the records devices upload
	// (as in their journals, keyed by device); the day roll-ups,
	// partitioned by month so a year is dropped or archived by detaching
	// twelve tables; and the small pre-aggregates the report reads. A
	// month's visit cells also hold their workable visits at the server's
	// visit share (share_bin, in percent), so the usual report reads two
	// numbers per cell rather than a histogram.
	`
CREATE TABLE enrollment (
	token_hash  BYTEA PRIMARY KEY,
	name        TEXT NOT NULL,
	grp         TEXT NOT NULL DEFAULT '',
	device_id   TEXT UNIQUE,
	created     TIMESTAMPTZ NOT NULL DEFAULT now(),
	last_upload TIMESTAMPTZ
);
CREATE TABLE viewer (
	token_hash BYTEA PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	created    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE device (
	id         TEXT PRIMARY KEY,
	hostname   TEXT NOT NULL DEFAULT '',
	created_ms BIGINT NOT NULL DEFAULT 0,
	demo       BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE session (
	device_id TEXT NOT NULL, uuid TEXT NOT NULL, link TEXT NOT NULL, kind TEXT NOT NULL, interface TEXT NOT NULL,
	profile TEXT NOT NULL, network TEXT NOT NULL, mcc TEXT NOT NULL, mnc TEXT NOT NULL, tech TEXT NOT NULL,
	roaming BIGINT NOT NULL, area TEXT NOT NULL, start_ms BIGINT NOT NULL, end_ms BIGINT, end_reason TEXT NOT NULL,
	connect_ms BIGINT, green_ms BIGINT NOT NULL, amber_ms BIGINT NOT NULL, red_ms BIGINT NOT NULL, in_use_ms BIGINT NOT NULL,
	workable_ms BIGINT NOT NULL, samples BIGINT NOT NULL, probes_ok BIGINT NOT NULL, probes BIGINT NOT NULL,
	med_strength DOUBLE PRECISION, med_rsrp DOUBLE PRECISION, med_sinr DOUBLE PRECISION, med_rscp DOUBLE PRECISION,
	med_rtt DOUBLE PRECISION, usable_ms BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (device_id, uuid)
);
CREATE TABLE event (
	device_id TEXT NOT NULL, seq BIGINT NOT NULL, t_ms BIGINT NOT NULL, kind TEXT NOT NULL, link TEXT NOT NULL,
	level BIGINT NOT NULL, text TEXT NOT NULL,
	PRIMARY KEY (device_id, seq)
);
CREATE TABLE visit (
	device_id TEXT NOT NULL, uuid TEXT NOT NULL, start_ms BIGINT NOT NULL, end_ms BIGINT, total_ms BIGINT NOT NULL,
	workable_ms BIGINT NOT NULL, end_reason TEXT NOT NULL DEFAULT '', alive_ms BIGINT, paused_ms BIGINT,
	PRIMARY KEY (device_id, uuid)
);
CREATE TABLE visit_net (
	device_id TEXT NOT NULL, visit_uuid TEXT NOT NULL, kind TEXT NOT NULL, network TEXT NOT NULL, area TEXT NOT NULL,
	mcc TEXT NOT NULL, mnc TEXT NOT NULL, area_name TEXT NOT NULL, connected_ms BIGINT NOT NULL, usable_ms BIGINT NOT NULL,
	PRIMARY KEY (device_id, visit_uuid, kind, network, area)
);
CREATE TABLE day_net (
	device_id TEXT NOT NULL, day INTEGER NOT NULL, kind TEXT NOT NULL, network TEXT NOT NULL, mcc TEXT NOT NULL, mnc TEXT NOT NULL,
	sessions BIGINT NOT NULL, connected_ms BIGINT NOT NULL, green_ms BIGINT NOT NULL, amber_ms BIGINT NOT NULL, red_ms BIGINT NOT NULL,
	in_use_ms BIGINT NOT NULL, workable_ms BIGINT NOT NULL, h_connect TEXT NOT NULL, h_signal TEXT NOT NULL, h_sinr TEXT NOT NULL,
	usable_ms BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (day, device_id, kind, network)
) PARTITION BY RANGE (day);
CREATE TABLE day_area (
	device_id TEXT NOT NULL, day INTEGER NOT NULL, kind TEXT NOT NULL, network TEXT NOT NULL, area TEXT NOT NULL,
	connected_ms BIGINT NOT NULL, green_ms BIGINT NOT NULL, amber_ms BIGINT NOT NULL, red_ms BIGINT NOT NULL,
	workable_ms BIGINT NOT NULL, h_signal TEXT NOT NULL, usable_ms BIGINT NOT NULL DEFAULT 0, in_use_ms BIGINT NOT NULL DEFAULT 0,
	area_name TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (day, device_id, kind, network, area)
) PARTITION BY RANGE (day);
CREATE TABLE day_visit (
	device_id TEXT NOT NULL, day INTEGER NOT NULL, kind TEXT NOT NULL, network TEXT NOT NULL, area TEXT NOT NULL,
	mcc TEXT NOT NULL, mnc TEXT NOT NULL, area_name TEXT NOT NULL, visits BIGINT NOT NULL, h_share TEXT NOT NULL,
	PRIMARY KEY (day, device_id, kind, network, area)
) PARTITION BY RANGE (day);
CREATE TABLE day_device (
	device_id TEXT NOT NULL, day INTEGER NOT NULL, failovers BIGINT NOT NULL, visits BIGINT NOT NULL, h_visit TEXT NOT NULL,
	PRIMARY KEY (day, device_id)
) PARTITION BY RANGE (day);
CREATE TABLE fleet_day_net (
	day INTEGER NOT NULL, kind TEXT NOT NULL, network TEXT NOT NULL, mcc TEXT NOT NULL, mnc TEXT NOT NULL,
	sessions BIGINT NOT NULL, connected_ms BIGINT NOT NULL, green_ms BIGINT NOT NULL, amber_ms BIGINT NOT NULL, red_ms BIGINT NOT NULL,
	usable_ms BIGINT NOT NULL, in_use_ms BIGINT NOT NULL, workable_ms BIGINT NOT NULL,
	h_connect TEXT NOT NULL, h_signal TEXT NOT NULL, h_sinr TEXT NOT NULL,
	PRIMARY KEY (day, kind, network)
);
CREATE TABLE fleet_day_device (
	day INTEGER PRIMARY KEY, failovers BIGINT NOT NULL, h_visit TEXT NOT NULL
);
CREATE TABLE device_month (
	month TEXT NOT NULL, device_id TEXT NOT NULL,
	sessions BIGINT NOT NULL, connected_ms BIGINT NOT NULL, green_ms BIGINT NOT NULL, amber_ms BIGINT NOT NULL, red_ms BIGINT NOT NULL,
	usable_ms BIGINT NOT NULL, in_use_ms BIGINT NOT NULL, workable_ms BIGINT NOT NULL, failovers BIGINT NOT NULL, h_visit TEXT NOT NULL,
	PRIMARY KEY (month, device_id)
);
CREATE TABLE month_area (
	month TEXT NOT NULL, kind TEXT NOT NULL, network TEXT NOT NULL, area TEXT NOT NULL, area_name TEXT NOT NULL,
	connected_ms BIGINT NOT NULL, green_ms BIGINT NOT NULL, amber_ms BIGINT NOT NULL, red_ms BIGINT NOT NULL,
	usable_ms BIGINT NOT NULL, in_use_ms BIGINT NOT NULL, workable_ms BIGINT NOT NULL, h_signal TEXT NOT NULL,
	PRIMARY KEY (month, kind, network, area)
);
CREATE TABLE month_visit (
	month TEXT NOT NULL, kind TEXT NOT NULL, network TEXT NOT NULL, area TEXT NOT NULL, mcc TEXT NOT NULL, mnc TEXT NOT NULL,
	area_name TEXT NOT NULL, visits BIGINT NOT NULL, h_share TEXT NOT NULL,
	share_bin INTEGER NOT NULL DEFAULT -1, workable BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (month, kind, network, area)
);
CREATE TABLE stale_day (day INTEGER PRIMARY KEY);
CREATE TABLE stale_device_month (month TEXT NOT NULL, device_id TEXT NOT NULL, PRIMARY KEY (month, device_id));
CREATE TABLE stale_month (month TEXT PRIMARY KEY);
CREATE TABLE refreshed (what TEXT PRIMARY KEY, at TIMESTAMPTZ NOT NULL)
`,
	// 2: what an upload may cost a device's day; viewers' sessions, each
	// with its own expiring secret (the viewer's token signs in only).
	`
CREATE TABLE upload_quota (
	device_id TEXT NOT NULL, day INTEGER NOT NULL, records BIGINT NOT NULL,
	PRIMARY KEY (device_id, day)
);
CREATE TABLE viewer_session (
	secret_hash BYTEA PRIMARY KEY,
	viewer      TEXT NOT NULL,
	expires     TIMESTAMPTZ NOT NULL
);
CREATE INDEX viewer_session_expires ON viewer_session (expires)
`,
	// 3: one device's days found by device: a drill-down, and the areas a
	// device worked in for its summary ahead, read its own rows rather
	// than every device's days in the period (the day tables are keyed by
	// day first). Made on the parents, so every month's partition, past
	// and future, has them. A device's last session, for its health.
	`
CREATE INDEX day_net_device ON day_net (device_id, day);
CREATE INDEX day_area_device ON day_area (device_id, day);
CREATE INDEX day_visit_device ON day_visit (device_id, day);
CREATE INDEX day_device_device ON day_device (device_id, day);
CREATE INDEX session_device_start ON session (device_id, start_ms)
`,
	// 4: the fleet's days per area and per area's visits, summed over the
	// devices: a period's ragged ends read a day's few fleet rows, not
	// every device's, and a month of areas is summed from its days'
	// fleet rows (cheap enough to keep current at every refresh, so the
	// headline and the area table of one moment agree). The days already
	// stored are marked for the next refresh to sum once.
	`
CREATE TABLE fleet_day_area (
	day INTEGER NOT NULL, kind TEXT NOT NULL, network TEXT NOT NULL, area TEXT NOT NULL, area_name TEXT NOT NULL,
	connected_ms BIGINT NOT NULL, green_ms BIGINT NOT NULL, amber_ms BIGINT NOT NULL, red_ms BIGINT NOT NULL,
	usable_ms BIGINT NOT NULL, in_use_ms BIGINT NOT NULL, workable_ms BIGINT NOT NULL, h_signal TEXT NOT NULL,
	PRIMARY KEY (day, kind, network, area)
);
CREATE TABLE fleet_day_visit (
	day INTEGER NOT NULL, kind TEXT NOT NULL, network TEXT NOT NULL, area TEXT NOT NULL, mcc TEXT NOT NULL, mnc TEXT NOT NULL,
	area_name TEXT NOT NULL, visits BIGINT NOT NULL, h_share TEXT NOT NULL,
	PRIMARY KEY (day, kind, network, area)
);
INSERT INTO stale_day SELECT DISTINCT day FROM day_area ON CONFLICT DO NOTHING;
INSERT INTO stale_day SELECT DISTINCT day FROM day_visit ON CONFLICT DO NOTHING
`,
	// 5: running totals, so that any period costs the same: per day and
	// key, everything the key had up to that day, for every day from the
	// key's first to the fleet's last; a period is the rows of its last
	// day less those of the day before its first (two ranges of the
	// primary key), whatever its ends. Per device (from its day
	// roll-ups), per network × area (from the fleet's days) and per
	// network × area's visits; days counts the days with something, so a
	// key idle all period is left out. Visits are also counted ahead at
	// the server's visit share (share_bin, workable), so the usual report
	// subtracts numbers, not histograms. They replace the month
	// pre-aggregates (whole months only, with ragged ends read from the
	// days). Everything stored is marked for the next refresh to total.
	`
CREATE TABLE device_cum (
	day INTEGER NOT NULL, device_id TEXT NOT NULL, days BIGINT NOT NULL,
	sessions BIGINT NOT NULL, connected_ms BIGINT NOT NULL, green_ms BIGINT NOT NULL, amber_ms BIGINT NOT NULL, red_ms BIGINT NOT NULL,
	usable_ms BIGINT NOT NULL, in_use_ms BIGINT NOT NULL, workable_ms BIGINT NOT NULL, failovers BIGINT NOT NULL,
	visits BIGINT NOT NULL, workable BIGINT NOT NULL, share_bin INTEGER NOT NULL, h_visit TEXT NOT NULL,
	PRIMARY KEY (day, device_id)
);
CREATE TABLE area_cum (
	day INTEGER NOT NULL, kind TEXT NOT NULL, network TEXT NOT NULL, area TEXT NOT NULL, days BIGINT NOT NULL, area_name TEXT NOT NULL,
	connected_ms BIGINT NOT NULL, green_ms BIGINT NOT NULL, amber_ms BIGINT NOT NULL, red_ms BIGINT NOT NULL,
	usable_ms BIGINT NOT NULL, in_use_ms BIGINT NOT NULL, workable_ms BIGINT NOT NULL, h_signal TEXT NOT NULL,
	PRIMARY KEY (day, kind, network, area)
);
CREATE TABLE cell_cum (
	day INTEGER NOT NULL, kind TEXT NOT NULL, network TEXT NOT NULL, area TEXT NOT NULL, days BIGINT NOT NULL,
	mcc TEXT NOT NULL, mnc TEXT NOT NULL, area_name TEXT NOT NULL, visits BIGINT NOT NULL, workable BIGINT NOT NULL,
	share_bin INTEGER NOT NULL, h_share TEXT NOT NULL,
	PRIMARY KEY (day, kind, network, area)
);
CREATE TABLE stale_device_cum (device_id TEXT PRIMARY KEY, day INTEGER NOT NULL);
CREATE TABLE stale_fleet_cum (one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), day INTEGER NOT NULL);
CREATE TABLE cum_share (one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), share_bin INTEGER NOT NULL);
DROP TABLE device_month, month_area, month_visit, stale_device_month, stale_month
`,
	// 6: an area's connected time by radio generation, as devices send
	// it (milliseconds in bins 2 to 5: 2G to 5G), summed like the signal:
	// the technology share per operator and area. Days sent before have
	// none.
	`
ALTER TABLE day_area ADD COLUMN h_tech TEXT NOT NULL DEFAULT '';
ALTER TABLE fleet_day_area ADD COLUMN h_tech TEXT NOT NULL DEFAULT '';
ALTER TABLE area_cum ADD COLUMN h_tech TEXT NOT NULL DEFAULT ''
`,
}
