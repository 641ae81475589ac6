package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SyncState is where the journal stands with a fleet server.
type SyncState struct {
	Server string
	// Acked: the server has committed everything up to this moment.
	Acked           time.Time
	LastTry, LastOK time.Time
	LastError       string
	LastSent        string
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func timeMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Sync reads the journal's state with a server (zero when it never
// synced there).
func (j *Journal) Sync(ctx context.Context, server string) (SyncState, error) {
	st := SyncState{Server: server}
	var acked, try, ok int64
	err := j.db.QueryRowContext(ctx, `SELECT acked_ms, last_try_ms, last_ok_ms, last_error, last_sent FROM sync_state WHERE server = ?`, server).
		Scan(&acked, &try, &ok, &st.LastError, &st.LastSent)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	st.Acked, st.LastTry, st.LastOK = msTime(acked), msTime(try), msTime(ok)
	return st, err
}

// SetSync records the journal's state with a server.
func (j *Journal) SetSync(ctx context.Context, st SyncState) error {
	if j.ro {
		return errors.New("journal is open read-only")
	}
	_, err := j.db.ExecContext(ctx, `INSERT INTO sync_state(server, acked_ms, last_try_ms, last_ok_ms, last_error, last_sent) VALUES(?,?,?,?,?,?)
		ON CONFLICT(server) DO UPDATE SET acked_ms = excluded.acked_ms, last_try_ms = excluded.last_try_ms, last_ok_ms = excluded.last_ok_ms,
		last_error = excluded.last_error, last_sent = excluded.last_sent`,
		st.Server, timeMS(st.Acked), timeMS(st.LastTry), timeMS(st.LastOK), st.LastError, st.LastSent)
	return err
}

// ResendFrom is where a sync must start so that nothing changed after
// from is missed: from itself, or earlier where a session or visit that
// was still open at from began, because closing it updates the roll-ups
// of the day it began in; then back to the start of that day (UTC), as
// roll-ups are sent by their day.
func (j *Journal) ResendFrom(ctx context.Context, from time.Time) (time.Time, error) {
	at := timeMS(from)
	var oldest sql.NullInt64
	err := j.db.QueryRowContext(ctx, `SELECT MIN(start_ms) FROM (
		SELECT start_ms FROM session WHERE start_ms < ?1 AND (end_ms IS NULL OR end_ms >= ?1)
		UNION ALL SELECT start_ms FROM visit WHERE start_ms < ?1 AND (end_ms IS NULL OR end_ms >= ?1))`, at).Scan(&oldest)
	if err != nil {
		return time.Time{}, fmt.Errorf("journal: what to send again: %w", err)
	}
	if oldest.Valid && oldest.Int64 < at {
		at = oldest.Int64
	}
	return msTime(at - at%86400000), nil
}

// maxAhead bounds the fleet summary kept (it is a few KB).
const maxAhead = 1 << 20

// SetAhead keeps the fleet's summary for the device's areas (a JSON
// document, report.Ahead), replacing the one before.
func (j *Journal) SetAhead(ctx context.Context, made time.Time, doc []byte) error {
	if j.ro {
		return errors.New("journal is open read-only")
	}
	if len(doc) > maxAhead {
		return fmt.Errorf("the fleet's summary is %d bytes, more than %d", len(doc), maxAhead)
	}
	_, err := j.db.ExecContext(ctx, `INSERT INTO fleet_ahead(id, made_ms, doc) VALUES(1, ?, ?)
		ON CONFLICT(id) DO UPDATE SET made_ms = excluded.made_ms, doc = excluded.doc`, timeMS(made), string(doc))
	return err
}

// Ahead reads the fleet's summary kept (nil when the device has none).
func (j *Journal) Ahead(ctx context.Context) ([]byte, time.Time, error) {
	var made int64
	var doc string
	err := j.db.QueryRowContext(ctx, `SELECT made_ms, doc FROM fleet_ahead WHERE id = 1`).Scan(&made, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, nil
	}
	return []byte(doc), msTime(made), err
}
