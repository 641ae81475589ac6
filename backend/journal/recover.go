package journal

import (
	"context"
	"database/sql"
	"math"
	"strings"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// recover closes what a previous run left open (a crash, a power cut):
// sessions are ended at their last sample with figures rebuilt from their
// samples, visits at the last thing recorded after their start.
func (r *Recorder) recover(ctx context.Context, now time.Time) error {
	db := r.j.db
	rows, err := db.QueryContext(ctx, `SELECT uuid, device_id, kind, network, mcc, mnc, start_ms, id FROM session WHERE end_ms IS NULL`)
	if err != nil {
		return err
	}
	type open struct {
		uuid, dev, kind, network, mcc, mnc string
		start, id                          int64
	}
	var opens []open
	for rows.Next() {
		var o open
		if err := rows.Scan(&o.uuid, &o.dev, &o.kind, &o.network, &o.mcc, &o.mnc, &o.start, &o.id); err != nil {
			rows.Close()
			return err
		}
		opens = append(opens, o)
	}
	rows.Close()
	var batch []op
	for _, o := range opens {
		c, err := rebuild(ctx, db, o.id, o.start)
		if err != nil {
			return err
		}
		c.uuid, c.dev, c.kind, c.network, c.mcc, c.mnc = o.uuid, o.dev, o.kind, o.network, o.mcc, o.mnc
		c.day, c.reason = o.start/86400000, "fieldlink stopped unexpectedly"
		batch = append(batch, c)
	}
	// A VPN session left open by a crash ends at its last re-make or its
	// first up: its time up since is not known, and not guessed.
	if _, err := db.ExecContext(ctx, `UPDATE vpn_session SET end_ms = MAX(start_ms, COALESCE(up_first_ms, start_ms),
		COALESCE((SELECT MAX(t_ms + took_ms) FROM vpn_remake WHERE session_uuid = uuid), 0)), end_reason = 'fieldlink stopped unexpectedly'
		WHERE end_ms IS NULL`); err != nil {
		return err
	}
	vrows, err := db.QueryContext(ctx, `SELECT uuid, device_id, start_ms, alive_ms, paused_ms, total_ms, workable_ms FROM visit
		WHERE end_ms IS NULL ORDER BY start_ms DESC`)
	if err != nil {
		return err
	}
	// Read them all before querying further: the writer has one
	// connection, and an open cursor holds it.
	var visits []dangling
	for vrows.Next() {
		var v dangling
		if err := vrows.Scan(&v.uuid, &v.dev, &v.start, &v.alive, &v.paused, &v.total, &v.workable); err != nil {
			vrows.Close()
			return err
		}
		visits = append(visits, v)
	}
	vrows.Close()
	var resumed *openVisit
	for i, v := range visits {
		nets, err := loadVisitNets(ctx, db, v.dev, v.uuid)
		if err != nil {
			return err
		}
		stopped, reason := v.stopped()
		if !stopped.Valid {
			// Written before alive times were kept: as far as the samples go.
			batch = append(batch, visitFromSamples(ctx, db, v.uuid, v.dev, v.start))
			continue
		}
		// The newest visit of this device goes on if fieldlink is back in
		// time; the time it was away is in no figure.
		if i == 0 && r.visit == nil && v.dev == r.dev() && now.Sub(time.UnixMilli(stopped.Int64)) <= r.opt.ResumeVisit {
			resumed = &openVisit{uuid: v.uuid, start: time.UnixMilli(v.start), lastT: now, resumedAt: now,
				total: time.Duration(v.total) * time.Millisecond, workTime: time.Duration(v.workable) * time.Millisecond,
				nets: nets, written: time.UnixMilli(stopped.Int64)}
			batch = append(batch, opVisitResume{uuid: v.uuid})
			continue
		}
		ov := &openVisit{nets: nets}
		batch = append(batch, opVisitClose{uuid: v.uuid, dev: v.dev, day: v.start / 86400000, end: time.UnixMilli(stopped.Int64),
			reason: reason, total: time.Duration(v.total) * time.Millisecond, workable: time.Duration(v.workable) * time.Millisecond,
			nets: ov.rows(r.opt.Areas)})
	}
	if len(batch) == 0 {
		return nil
	}
	if err := r.commit(ctx, batch); err != nil {
		return err
	}
	if resumed != nil {
		r.visit = resumed
		r.setVisitOpen(true, resumed.start)
	}
	return nil
}

// dangling is a visit a previous run left open.
type dangling struct {
	uuid, dev       string
	start           int64
	alive, paused   sql.NullInt64
	total, workable int64
}

// stopped is when fieldlink stopped during a visit, and how: asked to
// (paused), or by a crash or power cut (the last time it was known to run).
func (v dangling) stopped() (sql.NullInt64, string) {
	if v.paused.Valid {
		return v.paused, "fieldlink stopped"
	}
	return v.alive, "fieldlink stopped unexpectedly"
}

// loadVisitNets reads a visit's figures per network and area as written.
func loadVisitNets(ctx context.Context, db *sql.DB, dev, u string) (map[visitKey]*visitNet, error) {
	rows, err := db.QueryContext(ctx, `SELECT kind, network, area, mcc, mnc, connected_ms, usable_ms FROM visit_net
		WHERE device_id = ? AND visit_uuid = ?`, dev, u)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[visitKey]*visitNet{}
	for rows.Next() {
		var k visitKey
		var n visitNet
		var conn, usable int64
		if err := rows.Scan(&k.kind, &k.network, &k.area, &n.mcc, &n.mnc, &conn, &usable); err != nil {
			return nil, err
		}
		n.connected, n.usable = time.Duration(conn)*time.Millisecond, time.Duration(usable)*time.Millisecond
		out[k] = &n
	}
	return out, rows.Err()
}

type opVisitResume struct{ uuid string }

func (o opVisitResume) exec(ctx context.Context, tx *batchTx, _ map[string]int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE visit SET paused_ms = NULL WHERE uuid = ?`, o.uuid)
	return err
}

// rebuild recomputes a session's figures from its samples: each sample's
// state holds until the next.
func rebuild(ctx context.Context, db *sql.DB, id, start int64) (opClose, error) {
	c := opClose{hSignal: Hist{}, hSINR: Hist{}, areas: map[string]*areaAcc{}}
	rows, err := db.QueryContext(ctx, `SELECT t_ms, level, in_use, strength, rsrp, sinr, rscp, rtt, probe, area, tech FROM sample
		WHERE session_id = ? ORDER BY t_ms`, id)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	hS, hR, hN, hC, hT := Hist{}, Hist{}, Hist{}, Hist{}, Hist{}
	var prevT int64 = -1
	var prevLevel, prevInUse, prevGen int
	var prevProbe sql.NullInt64
	prevArea := ""
	last := start
	credit := func(until int64) {
		if prevT < 0 || until <= prevT {
			return
		}
		dt := time.Duration(until-prevT) * time.Millisecond
		lv := netstate.Level(prevLevel)
		work := prevInUse == 1 && lv >= netstate.LevelAmber && (!prevProbe.Valid || prevProbe.Int64 == 1)
		a := c.areas[prevArea]
		if a == nil {
			a = newAreaAcc()
			c.areas[prevArea] = a
		}
		a.conn += dt
		a.creditTech(prevGen, dt)
		switch lv {
		case netstate.LevelGreen:
			c.green += dt
			a.green += dt
		case netstate.LevelAmber:
			c.amber += dt
			a.amber += dt
		case netstate.LevelRed:
			c.red += dt
			a.red += dt
		}
		if prevInUse == 1 {
			c.inUse += dt
		}
		if work {
			c.workable += dt
			a.workable += dt
		}
	}
	for rows.Next() {
		var t int64
		var level, inUse int
		var strength, rsrp, sinr, rscp, rtt sql.NullFloat64
		var probe sql.NullInt64
		var area, tech string
		if err := rows.Scan(&t, &level, &inUse, &strength, &rsrp, &sinr, &rscp, &rtt, &probe, &area, &tech); err != nil {
			return c, err
		}
		credit(t)
		c.samples++
		if probe.Valid {
			c.probes++
			c.probesOK += probe.Int64
		}
		bin := func(h Hist, v sql.NullFloat64, per float64) {
			if v.Valid {
				h[int(math.Round(v.Float64/per))]++
			}
		}
		bin(hS, strength, 1)
		bin(hR, rsrp, 1)
		bin(hN, sinr, 1)
		bin(hC, rscp, 1)
		bin(hT, rtt, 10)
		if area == "" && c.samples > 1 {
			area = prevArea // unchanged since the previous sample
		} else {
			area = strings.SplitN(area, " cell ", 2)[0]
		}
		sig := rsrp
		if strength.Valid {
			sig = strength
		}
		bin(c.hSignal, sig, 1)
		bin(c.hSINR, sinr, 1)
		if c.areas[area] == nil {
			c.areas[area] = newAreaAcc()
		}
		if tech != "" || c.samples == 1 {
			prevGen = generations[tech] // "" repeats the previous sample's
		}
		bin(c.areas[area].hSignal, sig, 1)
		prevT, prevLevel, prevInUse, prevProbe, prevArea, last = t, level, inUse, probe, area, t
	}
	if err := rows.Err(); err != nil {
		return c, err
	}
	c.end = time.UnixMilli(last)
	c.dur = time.Duration(last-start) * time.Millisecond
	c.medStrength, c.medRSRP, c.medSINR, c.medRSCP, c.medRTT = median(hS, 1), median(hR, 1), median(hN, 1), median(hC, 1), median(hT, 10)
	return c, nil
}

func visitFromSamples(ctx context.Context, db *sql.DB, u, dev string, start int64) opVisitClose {
	end := start
	db.QueryRowContext(ctx, `SELECT MAX(t) FROM (SELECT MAX(t_ms) AS t FROM sample WHERE t_ms >= ? UNION ALL
		SELECT MAX(t_ms) FROM event WHERE t_ms >= ?)`, start, start).Scan(&end)
	if end < start {
		end = start
	}
	var workable sql.NullInt64
	// Samples of the link in use, each holding until the next.
	db.QueryRowContext(ctx, `SELECT SUM(dt) FROM (SELECT (LEAD(t_ms, 1, t_ms) OVER (ORDER BY t_ms) - t_ms) AS dt, level, probe
		FROM sample WHERE in_use = 1 AND t_ms BETWEEN ? AND ?) WHERE level >= 2 AND (probe IS NULL OR probe = 1)`, start, end).Scan(&workable)
	return opVisitClose{uuid: u, dev: dev, day: start / 86400000, end: time.UnixMilli(end),
		total: time.Duration(end-start) * time.Millisecond, workable: time.Duration(workable.Int64) * time.Millisecond}
}

// retention deletes samples and events older than the retention period;
// their figures live on in their sessions and the roll-ups.
func (r *Recorder) retention(ctx context.Context, now time.Time) {
	cutoff := now.Add(-r.opt.Retention).UnixMilli()
	if _, err := r.j.db.ExecContext(ctx, `DELETE FROM sample WHERE session_id IN (SELECT id FROM session WHERE start_ms < ?1) AND t_ms < ?1`, cutoff); err != nil {
		r.setProblem(err)
		return
	}
	if _, err := r.j.db.ExecContext(ctx, `DELETE FROM event WHERE t_ms < ?`, cutoff); err != nil {
		r.setProblem(err)
	}
}
