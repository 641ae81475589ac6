package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// op is one queued write; a batch runs them in order in one transaction.
type op interface {
	exec(ctx context.Context, tx *batchTx, ids map[string]int64) error
}

type opOpen struct {
	uuid, dev, link, kind, iface, profile, network, mcc, mnc, tech, area string
	roaming                                                              bool
	start                                                                time.Time
}

func (o opOpen) exec(ctx context.Context, tx *batchTx, ids map[string]int64) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO session(uuid, device_id, link, kind, interface, profile, network, mcc, mnc, tech, roaming, area, start_ms)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)`, o.uuid, o.dev, o.link, o.kind, o.iface, o.profile, o.network, o.mcc, o.mnc, o.tech,
		boolInt(o.roaming), o.area, o.start.UnixMilli())
	if err != nil {
		return err
	}
	id, err := res.LastInsertId()
	ids[o.uuid] = id
	return err
}

func sessionID(ctx context.Context, tx *batchTx, ids map[string]int64, u string) (int64, error) {
	if id, ok := ids[u]; ok {
		return id, nil
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM session WHERE uuid = ?`, u).Scan(&id); err != nil {
		return 0, fmt.Errorf("session %s: %w", u, err)
	}
	ids[u] = id
	return id, nil
}

type opSample struct {
	uuid       string
	t          time.Time
	level      netstate.Level
	inUse      bool
	f          figures
	probe      sql.NullInt64
	tech, area string
}

func nf(f netstate.Figure) sql.NullFloat64 { return sql.NullFloat64{Float64: f.V, Valid: f.OK} }

func (o opSample) exec(ctx context.Context, tx *batchTx, ids map[string]int64) error {
	id, err := sessionID(ctx, tx, ids, o.uuid)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO sample(session_id, t_ms, level, in_use, strength, rsrp, rsrq, sinr, rscp, rtt, probe, tech, area)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)`, id, o.t.UnixMilli(), int(o.level), boolInt(o.inUse), nf(o.f.strength), nf(o.f.rsrp),
		nf(o.f.rsrq), nf(o.f.sinr), nf(o.f.rscp), nf(o.f.rtt), o.probe, o.tech, o.area)
	return err
}

type opClose struct {
	uuid, dev, kind, network, mcc, mnc, reason      string
	day                                             int64
	end                                             time.Time
	dur, green, amber, red, inUse, workable, usable time.Duration
	samples, probes, probesOK                       int64
	connect                                         sql.NullInt64
	medStrength, medRSRP, medSINR, medRSCP          sql.NullFloat64
	medRTT                                          sql.NullFloat64
	hSignal, hSINR                                  Hist
	areas                                           map[string]*areaAcc
	// names names the areas (area_name), nil for none.
	names *areas.Map
}

func (o opClose) exec(ctx context.Context, tx *batchTx, ids map[string]int64) error {
	id, err := sessionID(ctx, tx, ids, o.uuid)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE session SET end_ms=?, end_reason=?, connect_ms=?, green_ms=?, amber_ms=?, red_ms=?,
		in_use_ms=?, workable_ms=?, usable_ms=?, samples=?, probes=?, probes_ok=?, med_strength=?, med_rsrp=?, med_sinr=?, med_rscp=?, med_rtt=?
		WHERE id=?`, o.end.UnixMilli(), o.reason, o.connect, o.green.Milliseconds(), o.amber.Milliseconds(), o.red.Milliseconds(),
		o.inUse.Milliseconds(), o.workable.Milliseconds(), o.usable.Milliseconds(), o.samples, o.probes, o.probesOK, o.medStrength,
		o.medRSRP, o.medSINR, o.medRSCP, o.medRTT, id); err != nil {
		return err
	}
	delete(ids, o.uuid)
	hConnect := Hist{}
	if o.connect.Valid {
		hConnect[int(o.connect.Int64/100)] = 1
	}
	if err := addDayNet(ctx, tx, o.dev, o.day, o.kind, o.network, o.mcc, o.mnc, dayNet{sessions: 1, connected: o.dur,
		green: o.green, amber: o.amber, red: o.red, inUse: o.inUse, workable: o.workable, usable: o.usable}, hConnect, o.hSignal, o.hSINR); err != nil {
		return err
	}
	areas := make([]string, 0, len(o.areas))
	for a := range o.areas {
		areas = append(areas, a)
	}
	sort.Strings(areas)
	for _, a := range areas {
		if err := addDayArea(ctx, tx, o.dev, o.day, o.kind, o.network, a, o.names.Name(a), o.areas[a]); err != nil {
			return err
		}
	}
	return nil
}

type dayNet struct {
	sessions                                              int64
	connected, green, amber, red, inUse, workable, usable time.Duration
}

func mergeHist(ctx context.Context, tx *batchTx, query string, args []any, add ...Hist) ([]string, error) {
	cur := make([]string, len(add))
	ptrs := make([]any, len(add))
	for i := range cur {
		ptrs[i] = &cur[i]
	}
	err := tx.QueryRowContext(ctx, query, args...).Scan(ptrs...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	out := make([]string, len(add))
	for i, h := range add {
		m := ParseHist(cur[i])
		m.Merge(h)
		out[i] = m.String()
	}
	return out, nil
}

func addDayNet(ctx context.Context, tx *batchTx, dev string, day int64, kind, network, mcc, mnc string, d dayNet, hConnect, hSignal, hSINR Hist) error {
	h, err := mergeHist(ctx, tx, `SELECT h_connect, h_signal, h_sinr FROM day_net WHERE device_id=? AND day=? AND kind=? AND network=?`,
		[]any{dev, day, kind, network}, hConnect, hSignal, hSINR)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO day_net(device_id, day, kind, network, mcc, mnc, sessions, connected_ms, green_ms, amber_ms, red_ms,
		in_use_ms, workable_ms, usable_ms, h_connect, h_signal, h_sinr) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(device_id, day, kind, network) DO UPDATE SET sessions=sessions+excluded.sessions,
		connected_ms=connected_ms+excluded.connected_ms, green_ms=green_ms+excluded.green_ms, amber_ms=amber_ms+excluded.amber_ms,
		red_ms=red_ms+excluded.red_ms, in_use_ms=in_use_ms+excluded.in_use_ms, workable_ms=workable_ms+excluded.workable_ms,
		usable_ms=usable_ms+excluded.usable_ms, h_connect=excluded.h_connect, h_signal=excluded.h_signal, h_sinr=excluded.h_sinr`,
		dev, day, kind, network, mcc, mnc, d.sessions, d.connected.Milliseconds(), d.green.Milliseconds(), d.amber.Milliseconds(),
		d.red.Milliseconds(), d.inUse.Milliseconds(), d.workable.Milliseconds(), d.usable.Milliseconds(), h[0], h[1], h[2])
	return err
}

func addDayArea(ctx context.Context, tx *batchTx, dev string, day int64, kind, network, area, name string, acc *areaAcc) error {
	h, err := mergeHist(ctx, tx, `SELECT h_signal, h_tech FROM day_area WHERE device_id=? AND day=? AND kind=? AND network=? AND area=?`,
		[]any{dev, day, kind, network, area}, acc.hSignal, acc.hTech)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO day_area(device_id, day, kind, network, area, connected_ms, green_ms, amber_ms, red_ms,
		workable_ms, usable_ms, in_use_ms, area_name, h_signal, h_tech) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(device_id, day, kind, network, area) DO UPDATE SET
		connected_ms=connected_ms+excluded.connected_ms, green_ms=green_ms+excluded.green_ms, amber_ms=amber_ms+excluded.amber_ms,
		red_ms=red_ms+excluded.red_ms, workable_ms=workable_ms+excluded.workable_ms, usable_ms=usable_ms+excluded.usable_ms,
		in_use_ms=in_use_ms+excluded.in_use_ms, area_name=excluded.area_name, h_signal=excluded.h_signal, h_tech=excluded.h_tech`,
		dev, day, kind, network, area, acc.conn.Milliseconds(), acc.green.Milliseconds(), acc.amber.Milliseconds(), acc.red.Milliseconds(),
		acc.workable.Milliseconds(), acc.usable.Milliseconds(), acc.inUse.Milliseconds(), name, h[0], h[1])
	return err
}

type opEvent struct {
	dev string
	ev  netstate.Event
}

func (o opEvent) exec(ctx context.Context, tx *batchTx, _ map[string]int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO event(device_id, t_ms, kind, link, level, text) VALUES(?,?,?,?,?,?)`,
		o.dev, o.ev.Time.UnixMilli(), string(o.ev.Kind), o.ev.Link, int(o.ev.Level), o.ev.Text); err != nil {
		return err
	}
	if o.ev.Kind == netstate.EventFailover {
		_, err := tx.ExecContext(ctx, `INSERT INTO day_device(device_id, day, failovers) VALUES(?,?,1)
			ON CONFLICT(device_id, day) DO UPDATE SET failovers=failovers+1`, o.dev, dayOf(o.ev.Time))
		return err
	}
	return nil
}

type opVisitOpen struct {
	uuid, dev string
	start     time.Time
}

func (o opVisitOpen) exec(ctx context.Context, tx *batchTx, _ map[string]int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO visit(uuid, device_id, start_ms) VALUES(?,?,?)`, o.uuid, o.dev, o.start.UnixMilli())
	return err
}

// visitNetRow is a visit's connected and usable time on one network in one
// area ("" for the whole visit).
type visitNetRow struct {
	kind, network, area, mcc, mnc, areaName string
	connected, usable                       time.Duration
}

// share is the percentage of the time on the network that it was usable:
// the visit is workable on it when that reaches the report's visit share.
func (v visitNetRow) share() int {
	if v.connected <= 0 {
		return 0
	}
	return int(100 * v.usable / v.connected)
}

func writeVisitNets(ctx context.Context, tx *batchTx, dev, u string, rows []visitNetRow) error {
	for _, n := range rows {
		if _, err := tx.ExecContext(ctx, `INSERT INTO visit_net(device_id, visit_uuid, kind, network, area, mcc, mnc, area_name,
			connected_ms, usable_ms) VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(device_id, visit_uuid, kind, network, area) DO UPDATE SET
			connected_ms=excluded.connected_ms, usable_ms=excluded.usable_ms, area_name=excluded.area_name`,
			dev, u, n.kind, n.network, n.area, n.mcc, n.mnc, n.areaName, n.connected.Milliseconds(), n.usable.Milliseconds()); err != nil {
			return err
		}
	}
	return nil
}

// opVisitProgress writes a visit in progress as far as it has got, so that
// a crash or a stop loses none of it: alive is the last moment fieldlink
// was known to run; paused marks a stop (fieldlink quit with it open).
type opVisitProgress struct {
	uuid, dev       string
	alive           time.Time
	paused          bool
	total, workable time.Duration
	nets            []visitNetRow
}

func (o opVisitProgress) exec(ctx context.Context, tx *batchTx, _ map[string]int64) error {
	paused := sql.NullInt64{}
	if o.paused {
		paused = sql.NullInt64{Int64: o.alive.UnixMilli(), Valid: true}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE visit SET alive_ms=?, paused_ms=?, total_ms=?, workable_ms=? WHERE uuid=?`,
		o.alive.UnixMilli(), paused, o.total.Milliseconds(), o.workable.Milliseconds(), o.uuid); err != nil {
		return err
	}
	return writeVisitNets(ctx, tx, o.dev, o.uuid, o.nets)
}

type opVisitClose struct {
	uuid, dev, reason string
	day               int64
	end               time.Time
	total, workable   time.Duration
	nets              []visitNetRow
}

func (o opVisitClose) exec(ctx context.Context, tx *batchTx, _ map[string]int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE visit SET end_ms=?, total_ms=?, workable_ms=?, end_reason=?, paused_ms=NULL WHERE uuid=?`,
		o.end.UnixMilli(), o.total.Milliseconds(), o.workable.Milliseconds(), o.reason, o.uuid); err != nil {
		return err
	}
	if err := writeVisitNets(ctx, tx, o.dev, o.uuid, o.nets); err != nil {
		return err
	}
	for _, n := range o.nets {
		if err := addDayVisit(ctx, tx, o.dev, o.day, n); err != nil {
			return err
		}
	}
	bin := 0
	if o.total > 0 {
		bin = int(100 * o.workable / o.total)
	}
	h, err := mergeHist(ctx, tx, `SELECT h_visit FROM day_device WHERE device_id=? AND day=?`, []any{o.dev, o.day}, Hist{bin: 1})
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO day_device(device_id, day, visits, h_visit) VALUES(?,?,1,?)
		ON CONFLICT(device_id, day) DO UPDATE SET visits=visits+1, h_visit=excluded.h_visit`, o.dev, o.day, h[0])
	return err
}

// addDayVisit counts a closed visit in the day's roll-up of its network and
// area: one more visit, with its usable share in the histogram.
func addDayVisit(ctx context.Context, tx *batchTx, dev string, day int64, n visitNetRow) error {
	h, err := mergeHist(ctx, tx, `SELECT h_share FROM day_visit WHERE kind=? AND network=? AND area=? AND day=? AND device_id=?`,
		[]any{n.kind, n.network, n.area, day, dev}, Hist{n.share(): 1})
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO day_visit(device_id, day, kind, network, area, mcc, mnc, area_name, visits, h_share)
		VALUES(?,?,?,?,?,?,?,?,1,?) ON CONFLICT(kind, network, area, day, device_id) DO UPDATE SET visits=visits+1,
		h_share=excluded.h_share, area_name=excluded.area_name`, dev, day, n.kind, n.network, n.area, n.mcc, n.mnc, n.areaName, h[0])
	return err
}

// commit runs a batch in one transaction.
func (r *Recorder) commit(ctx context.Context, batch []op) error {
	// A batch is small and always finished: a context that can be
	// cancelled only makes the driver start a watcher goroutine per
	// statement (7% of ingest), and the final write on shutdown runs
	// after cancellation anyway.
	ctx = context.WithoutCancel(ctx)
	sqlTx, err := r.j.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	tx := &batchTx{Tx: sqlTx, stmts: map[string]*sql.Stmt{}}
	defer tx.closeStmts()
	// A failed batch must not leave ids of rows it rolled back.
	ids := make(map[string]int64, len(r.ids))
	for k, v := range r.ids {
		ids[k] = v
	}
	for _, o := range batch {
		o = withDevice(o, r.j.device.ID)
		if err := o.exec(ctx, tx, ids); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	r.ids = ids
	return nil
}

// withDevice fills in the device of a write queued before the journal
// (and so the device id) could be opened.
func withDevice(o op, dev string) op {
	switch x := o.(type) {
	case opOpen:
		if x.dev == "" {
			x.dev = dev
		}
		return x
	case opClose:
		if x.dev == "" {
			x.dev = dev
		}
		return x
	case opEvent:
		if x.dev == "" {
			x.dev = dev
		}
		return x
	case opVisitOpen:
		if x.dev == "" {
			x.dev = dev
		}
		return x
	case opVisitClose:
		if x.dev == "" {
			x.dev = dev
		}
		return x
	case opVisitProgress:
		if x.dev == "" {
			x.dev = dev
		}
		return x
	}
	return o
}

// batchTx prepares each statement once per batch: preparing is most of
// the cost of a one-row insert (ingest went from 32,000 to over 50,000
// samples a second).
type batchTx struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
}

func (t *batchTx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := t.stmts[q]; st != nil {
		return st, nil
	}
	st, err := t.Tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	t.stmts[q] = st
	return st, nil
}

// ExecContext runs a prepared q.
func (t *batchTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryRowContext runs a prepared q for one row.
func (t *batchTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, q)
	if err != nil {
		return t.Tx.QueryRowContext(ctx, q, args...) // carries the error
	}
	return st.QueryRowContext(ctx, args...)
}

func (t *batchTx) closeStmts() {
	for _, st := range t.stmts {
		st.Close()
	}
}
