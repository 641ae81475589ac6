package journal

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// vpnSession is the VPN's record in progress: one session from its first
// start until it is no longer wanted (held for the clinician, or
// fieldlink stopping), with every re-make in it.
type vpnSession struct {
	uuid, profile string
	start         time.Time
	upFirst       time.Time
	upSince       time.Time     // zero while not up
	up            time.Duration // time up before upSince
	remakes       int64
	prompts       int64
	// left is when the tunnel last went from up, why and over which link;
	// its return to up is a re-make.
	left     time.Time
	leftWhy  string
	leftVia  string
	lastVia  string
	lastSeen netstate.VPNPhase
}

// ObserveVPN journals the VPN's status as the keeper gives it (the engine
// calls it on every change).
func (r *Recorder) ObserveVPN(now time.Time, st netstate.VPNStatus) {
	select {
	case r.in <- input{now: now, vpn: &st}:
	default:
		r.mu.Lock()
		r.lost++
		r.mu.Unlock()
	}
}

// observeVPN follows the phases: connecting opens a session, up after a
// leave is a re-make, held ends it.
func (r *Recorder) observeVPN(now time.Time, st netstate.VPNStatus) {
	v := r.vpnRec
	switch st.Phase {
	case netstate.VPNConnecting, netstate.VPNUp:
		if v == nil || v.profile != st.Profile {
			r.closeVPN(now, "another profile")
			v = &vpnSession{uuid: uuid.NewString(), profile: st.Profile, start: now}
			r.vpnRec = v
			r.queue = append(r.queue, opVPNOpen{uuid: v.uuid, dev: r.dev(), profile: v.profile, start: now})
		}
		if st.Phase == netstate.VPNUp && v.upSince.IsZero() {
			v.upSince = now
			if v.upFirst.IsZero() {
				v.upFirst = now
				r.queue = append(r.queue, opVPNUp{uuid: v.uuid, at: now})
			} else if !v.left.IsZero() {
				v.remakes++
				r.queue = append(r.queue, opVPNRemake{uuid: v.uuid, dev: r.dev(), profile: v.profile, t: v.left, why: v.leftWhy,
					from: v.leftVia, to: st.Via, took: now.Sub(v.left)})
			}
			v.left = time.Time{}
		}
		if st.Phase == netstate.VPNConnecting && !v.upSince.IsZero() {
			v.leave(now, st.Reason)
		}
	case netstate.VPNHeld:
		if v != nil {
			r.closeVPN(now, st.Reason)
		}
	default: // waiting, retrying: the session goes on
		if v != nil && !v.upSince.IsZero() {
			v.leave(now, st.Reason)
		}
	}
	if v := r.vpnRec; v != nil {
		if st.Via != "" {
			v.lastVia = st.Via
		}
		v.lastSeen = st.Phase
	}
}

func (v *vpnSession) leave(now time.Time, why string) {
	v.up += now.Sub(v.upSince)
	v.upSince = time.Time{}
	v.left, v.leftWhy, v.leftVia = now, why, v.lastVia
}

// vpnPrompt counts a prompt the clinician was shown, in the session (if
// one is open) and in the day.
func (r *Recorder) vpnPrompt(now time.Time) {
	profile := ""
	if v := r.vpnRec; v != nil {
		v.prompts++
		profile = v.profile
	}
	r.queue = append(r.queue, opVPNPrompt{dev: r.dev(), profile: profile, day: dayOf(now)})
}

// closeVPN ends the session in progress.
func (r *Recorder) closeVPN(now time.Time, why string) {
	v := r.vpnRec
	if v == nil {
		return
	}
	if !v.upSince.IsZero() {
		v.up += now.Sub(v.upSince)
	}
	r.queue = append(r.queue, opVPNClose{uuid: v.uuid, dev: r.dev(), profile: v.profile, day: dayOf(v.start), end: now, why: why,
		up: v.up, remakes: v.remakes, prompts: v.prompts})
	r.vpnRec = nil
}

type opVPNOpen struct {
	uuid, dev, profile string
	start              time.Time
}

func (o opVPNOpen) exec(ctx context.Context, tx *batchTx, _ map[string]int64) error {
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO vpn_session(uuid, device_id, profile, start_ms) VALUES(?,?,?,?)`,
		o.uuid, o.dev, o.profile, o.start.UnixMilli())
	return err
}

type opVPNUp struct {
	uuid string
	at   time.Time
}

func (o opVPNUp) exec(ctx context.Context, tx *batchTx, _ map[string]int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE vpn_session SET up_first_ms = ? WHERE uuid = ?`, o.at.UnixMilli(), o.uuid)
	return err
}

type opVPNRemake struct {
	uuid, dev, profile, why, from, to string
	t                                 time.Time
	took                              time.Duration
}

func (o opVPNRemake) exec(ctx context.Context, tx *batchTx, _ map[string]int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO vpn_remake(session_uuid, t_ms, reason, from_link, to_link, took_ms) VALUES(?,?,?,?,?,?)`,
		o.uuid, o.t.UnixMilli(), o.why, o.from, o.to, o.took.Milliseconds()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE vpn_session SET remakes = remakes + 1 WHERE uuid = ?`, o.uuid); err != nil {
		return err
	}
	return dayVPN(ctx, tx, dayOf(o.t), o.dev, o.profile, 0, 1, 0, 0)
}

type opVPNPrompt struct {
	dev, profile string
	day          int64
}

func (o opVPNPrompt) exec(ctx context.Context, tx *batchTx, _ map[string]int64) error {
	return dayVPN(ctx, tx, o.day, o.dev, o.profile, 0, 0, 0, 1)
}

type opVPNClose struct {
	uuid, dev, profile, why string
	day                     int64
	end                     time.Time
	up                      time.Duration
	remakes, prompts        int64
}

func (o opVPNClose) exec(ctx context.Context, tx *batchTx, _ map[string]int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE vpn_session SET end_ms = ?, end_reason = ?, up_ms = ?, prompts = ? WHERE uuid = ?`,
		o.end.UnixMilli(), o.why, o.up.Milliseconds(), o.prompts, o.uuid); err != nil {
		return err
	}
	return dayVPN(ctx, tx, o.day, o.dev, o.profile, 1, 0, o.up, 0)
}

// dayVPN adds to a day's VPN figures.
func dayVPN(ctx context.Context, tx *batchTx, day int64, dev, profile string, sessions, remakes int64, up time.Duration, prompts int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO day_vpn(day, device_id, profile, sessions, remakes, up_ms, prompts) VALUES(?,?,?,?,?,?,?)
		ON CONFLICT(day, device_id, profile) DO UPDATE SET sessions = sessions + excluded.sessions, remakes = remakes + excluded.remakes,
		up_ms = up_ms + excluded.up_ms, prompts = prompts + excluded.prompts`, day, dev, profile, sessions, remakes, up.Milliseconds(), prompts)
	return err
}

// VPNDay is one day's VPN figures.
type VPNDay struct {
	Day                        time.Time
	Profile                    string
	Sessions, Remakes, Prompts int64
	Up                         time.Duration
}

// VPNDays reads the days' VPN figures from since on.
func (j *Journal) VPNDays(ctx context.Context, since time.Time) ([]VPNDay, error) {
	rows, err := j.db.QueryContext(ctx, `SELECT day, profile, sessions, remakes, prompts, up_ms FROM day_vpn WHERE day >= ? ORDER BY day, profile`,
		dayOf(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VPNDay
	for rows.Next() {
		var d VPNDay
		var day, up int64
		if err := rows.Scan(&day, &d.Profile, &d.Sessions, &d.Remakes, &d.Prompts, &up); err != nil {
			return nil, err
		}
		d.Day, d.Up = time.UnixMilli(day*86400000).UTC(), time.Duration(up)*time.Millisecond
		out = append(out, d)
	}
	return out, rows.Err()
}

// VPNRemake is one re-make of the VPN.
type VPNRemake struct {
	At       time.Time
	Why      string
	From, To string
	Took     time.Duration
}

// VPNRemakes reads the re-makes from since on, oldest first.
func (j *Journal) VPNRemakes(ctx context.Context, since time.Time) ([]VPNRemake, error) {
	rows, err := j.db.QueryContext(ctx, `SELECT t_ms, reason, from_link, to_link, took_ms FROM vpn_remake WHERE t_ms >= ? ORDER BY t_ms`, since.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VPNRemake
	for rows.Next() {
		var m VPNRemake
		var t, took int64
		if err := rows.Scan(&t, &m.Why, &m.From, &m.To, &took); err != nil {
			return nil, err
		}
		m.At, m.Took = time.UnixMilli(t), time.Duration(took)*time.Millisecond
		out = append(out, m)
	}
	return out, rows.Err()
}
