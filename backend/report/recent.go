package report

import (
	"context"
	"database/sql"
	"time"
)

// Session is one recent connection session, as a technician reads it.
type Session struct {
	Kind      string    `json:"kind"`
	Interface string    `json:"interface,omitempty"`
	Network   string    `json:"network,omitempty"`
	Tech      string    `json:"tech,omitempty"`
	Start     time.Time `json:"start"`
	// End is zero while the session is open.
	End       time.Time     `json:"end,omitzero"`
	EndReason string        `json:"end_reason,omitempty"`
	Green     time.Duration `json:"green_ns"`
	Amber     time.Duration `json:"amber_ns"`
	Red       time.Duration `json:"red_ns"`
	InUse     time.Duration `json:"in_use_ns"`
	// MedRTT is the median probe round trip in ms (0 when none).
	MedRTT float64 `json:"med_rtt_ms,omitempty"`
}

// Recent returns a device's last n sessions, newest first (open ones
// included): what a technician checks first.
func Recent(ctx context.Context, db *sql.DB, device string, n int) ([]Session, error) {
	rows, err := db.QueryContext(ctx, `SELECT kind, interface, network, tech, start_ms, end_ms, end_reason,
		green_ms, amber_ms, red_ms, in_use_ms, med_rtt FROM session
		WHERE ? = '' OR device_id = ? ORDER BY start_ms DESC LIMIT ?`, device, device, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Session
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	for rows.Next() {
		var s Session
		var start, green, amber, red, inUse int64
		var end sql.NullInt64
		var rtt sql.NullFloat64
		if err := rows.Scan(&s.Kind, &s.Interface, &s.Network, &s.Tech, &start, &end, &s.EndReason,
			&green, &amber, &red, &inUse, &rtt); err != nil {
			return nil, err
		}
		s.Start = time.UnixMilli(start).UTC()
		if end.Valid {
			s.End = time.UnixMilli(end.Int64).UTC()
		}
		s.Green, s.Amber, s.Red, s.InUse, s.MedRTT = ms(green), ms(amber), ms(red), ms(inUse), rtt.Float64
		out = append(out, s)
	}
	return out, rows.Err()
}
