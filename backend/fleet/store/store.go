// Package store is the fleet's central store on PostgreSQL: the records
// every device uploads (roll-ups, sessions, visits, events; samples stay
// on the devices), who may upload and who may read, and the small
// pre-aggregates the fleet report reads, kept current by Refresh.
package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// Store is an open fleet database.
type Store struct {
	// shareBin is the visit share (percent) the running totals count
	// workable visits at.
	shareBin int
	dbURL    string
	pool     *pgxpool.Pool
	db       *sql.DB
	// parts are the day-table partitions known to exist.
	parts sync.Map
	// clock is the store's time (SetClock; tests with fixed days).
	clock  func() time.Time
	limits Limits
}

// SetClock replaces the store's clock: the days a record may have and the
// times of enrolments and sessions follow it.
func (s *Store) SetClock(now func() time.Time) { s.clock = now }

func (s *Store) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// Now is the store's clock (the wall clock, or a test's).
func (s *Store) Now() time.Time { return s.now() }

// Open connects to PostgreSQL and brings the schema up to date.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("fleet database URL: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	// The report groups some hundred thousand rows: in memory, not sorted
	// on disk.
	if _, set := cfg.ConnConfig.RuntimeParams["work_mem"]; !set {
		cfg.ConnConfig.RuntimeParams["work_mem"] = "64MB"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("fleet database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("fleet database %s: %w", redact(url), err)
	}
	s := &Store{shareBin: 80, dbURL: url, pool: pool, db: stdlib.OpenDBFromPool(pool), limits: DefaultLimits}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// redact drops a password from a URL for messages.
func redact(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.Index(url[i+3:], "@"); j >= 0 {
			cred := url[i+3 : i+3+j]
			if k := strings.Index(cred, ":"); k >= 0 {
				return url[:i+3] + cred[:k] + ":…" + url[i+3+j:]
			}
		}
	}
	return url
}

// SetVisitShare is the visit share (0.8: 80%) the usual report asks for:
// the running totals count workable visits at it (a change rewrites
// them at the next refresh); a report at another share reads their
// histograms instead.
func (s *Store) SetVisitShare(share float64) { s.shareBin = int(share*100 + 0.5) }

// Close closes the store.
func (s *Store) Close() {
	s.db.Close()
	s.pool.Close()
}

// Pool is the connection pool (for tests and benchmarks).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// One server migrates at a time, however many start together.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7245019)`); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7245019)`)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("fleet schema: %w", err)
	}
	var v int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("fleet database is at schema version %d; this fieldlink knows up to %d: refused, use that fieldlink or a newer one", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, migrations[i]); err != nil {
			tx.Rollback(ctx)
			return fmt.Errorf("fleet schema migration %d: %w", i+1, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version VALUES ($1)`, i+1); err != nil {
			tx.Rollback(ctx)
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
	}
	return nil
}

func newToken() (string, []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	t := "flk_" + base64.RawURLEncoding.EncodeToString(b)
	return t, hashToken(t)
}

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

// Enroll creates a device's upload token (shown once; only its hash is
// kept). The token binds to the first device that uploads with it; from
// then on it writes that device's records and no other's.
func (s *Store) Enroll(ctx context.Context, name, group string) (string, error) {
	if strings.TrimSpace(name) == "" {
		return "", errors.New("enroll: a name for the device (its hostname or asset tag)")
	}
	tok, h := newToken()
	_, err := s.pool.Exec(ctx, `INSERT INTO enrollment(token_hash, name, grp, created) VALUES ($1, $2, $3, $4)`, h, name, group, s.now())
	return tok, err
}

// AddViewer creates a token to read the fleet report with.
func (s *Store) AddViewer(ctx context.Context, name string) (string, error) {
	tok, h := newToken()
	_, err := s.pool.Exec(ctx, `INSERT INTO viewer(token_hash, name) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET token_hash = EXCLUDED.token_hash, created = now()`, h, name)
	return tok, err
}

// Enrollment is who an upload token belongs to.
type Enrollment struct {
	Name, Group string
	// Device is the device it is bound to ("" until its first upload).
	Device string
	// Created is when the device was enrolled: its records' days start
	// DaysBefore before it.
	Created time.Time
	hash    []byte
}

// ErrUnknownToken is a token no enrollment or viewer has.
var ErrUnknownToken = errors.New("unknown token")

// Device finds the enrollment of an upload token.
func (s *Store) Device(ctx context.Context, token string) (Enrollment, error) {
	e := Enrollment{hash: hashToken(token)}
	var dev *string
	err := s.pool.QueryRow(ctx, `SELECT name, grp, device_id, created FROM enrollment WHERE token_hash = $1`, e.hash).Scan(&e.Name, &e.Group, &dev, &e.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, ErrUnknownToken
	}
	if dev != nil {
		e.Device = *dev
	}
	return e, err
}

// Viewer finds the viewer of a token.
func (s *Store) Viewer(ctx context.Context, token string) (string, error) {
	var name string
	err := s.pool.QueryRow(ctx, `SELECT name FROM viewer WHERE token_hash = $1`, hashToken(token)).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrUnknownToken
	}
	return name, err
}

// DeviceStatus is what the server knows of one device.
type DeviceStatus struct {
	ID, Hostname, Name, Group string
	LastUpload                time.Time
	// LastArea and LastVerdict are of its last session: where it last
	// worked (an area code), and the verdict it spent most of it at.
	LastArea, LastVerdict string
	LastSeen              time.Time
}

// Silent reports whether the device has not uploaded for quiet (or
// never, once enrolled for longer than that is not known: never counts).
func (d DeviceStatus) Silent(now time.Time, quiet time.Duration) bool {
	return d.LastUpload.IsZero() || now.Sub(d.LastUpload) >= quiet
}

// Devices lists the enrolled and uploading devices, with where and how
// each last worked.
func (s *Store) Devices(ctx context.Context) ([]DeviceStatus, error) {
	rows, err := s.pool.Query(ctx, `SELECT COALESCE(d.id, ''), COALESCE(d.hostname, ''), e.name, e.grp, e.last_upload,
		COALESCE(l.area, ''), COALESCE(l.green_ms, 0), COALESCE(l.amber_ms, 0), COALESCE(l.red_ms, 0), COALESCE(l.end_ms, l.start_ms, 0)
		FROM enrollment e LEFT JOIN device d ON d.id = e.device_id
		LEFT JOIN LATERAL (SELECT area, green_ms, amber_ms, red_ms, start_ms, end_ms FROM session
			WHERE device_id = d.id ORDER BY start_ms DESC LIMIT 1) l ON true
		ORDER BY e.grp, e.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeviceStatus
	for rows.Next() {
		var d DeviceStatus
		var at *time.Time
		var green, amber, red, seen int64
		if err := rows.Scan(&d.ID, &d.Hostname, &d.Name, &d.Group, &at, &d.LastArea, &green, &amber, &red, &seen); err != nil {
			return nil, err
		}
		if at != nil {
			d.LastUpload = *at
		}
		if seen > 0 {
			d.LastSeen = time.UnixMilli(seen).UTC()
			d.LastVerdict = verdictOf(green, amber, red)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// verdictOf is the verdict a session spent most of its time at.
func verdictOf(green, amber, red int64) string {
	switch {
	case green == 0 && amber == 0 && red == 0:
		return netstate.WordNoData
	case green >= amber && green >= red:
		return netstate.WordGo
	case amber >= red:
		return netstate.WordMarginal
	}
	return netstate.WordDoNotProceed
}

// Groups lists the device groups.
func (s *Store) Groups(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT grp FROM enrollment WHERE grp <> '' ORDER BY grp`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// GroupDevices lists the devices of a group.
func (s *Store) GroupDevices(ctx context.Context, group string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT device_id FROM enrollment WHERE grp = $1 AND device_id IS NOT NULL ORDER BY device_id`, group)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
