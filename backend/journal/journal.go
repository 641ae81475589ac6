// Package journal is fieldlink's on-device record: connection sessions,
// their signal samples, events and clinicians' visits, in SQLite
// (modernc.org/sqlite, pure Go), written whether or not there is any
// network. One writer (the instance in charge) appends in batched
// transactions; a crash loses at most the batch in flight and never
// corrupts the file. Daily roll-ups, kept as sessions close, let reports
// read a year of a fleet in well under a second.
//
// No patient data is ever stored: visits are a start and an end, marked
// with one key; there is no free text anywhere.
package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver
)

// Journal is an open journal file.
type Journal struct {
	db     *sql.DB
	path   string
	device Device
	ro     bool
}

// Device identifies the laptop a journal belongs to.
type Device struct {
	ID       string `json:"device_id"`
	Hostname string `json:"hostname"`
	// Demo marks a demo's journal: simulated data, never to be merged
	// into real reports unknowingly.
	Demo bool `json:"demo,omitempty"`
}

// DefaultPath is where the journal lives: the system service's under
// /var/lib, a user's under $XDG_STATE_HOME.
func DefaultPath(stateDir string) string { return filepath.Join(stateDir, "journal.db") }

func dsn(path string, readOnly bool) string {
	q := "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"
	if readOnly {
		return "file:" + path + "?mode=ro&" + q
	}
	// WAL with synchronous=NORMAL: a crash or power loss may lose the last
	// committed transaction or so, never corrupts the file.
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&" + q
}

// Open opens (creating if needed, mode 0600) the journal for writing and
// brings its schema up to date.
func Open(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("journal directory: %w", err)
	}
	if err := refuseLinks(path); err != nil {
		return nil, err
	}
	// Create the file ourselves so it is 0600 from the first byte; SQLite
	// gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	f.Close()
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; readers open their own handle
	j := &Journal{db: db, path: path}
	if err := j.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if err := j.loadDevice(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return j, nil
}

// refuseLinks refuses a journal whose file (or its SQLite companions) is a
// symbolic link: planted where the journal goes, it would have fieldlink
// (root, for the service) write, or read and print, wherever it points.
func refuseLinks(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if st, err := os.Lstat(p); err == nil && st.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("journal %s: %s is a symbolic link; refusing to follow it", path, p)
		}
	}
	return nil
}

// OpenReadOnly opens a journal for reading (reports, observers, export,
// check); it never writes, even to migrate, and follows no symbolic link.
func OpenReadOnly(path string) (*Journal, error) {
	if err := refuseLinks(path); err != nil {
		return nil, err
	}
	// Opened once by hand so that "not yours to read" is said as such,
	// not as SQLite's "unable to open database file".
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	f.Close()
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	j := &Journal{db: db, path: path, ro: true}
	v, err := j.version(context.Background())
	if err != nil {
		// A WAL journal on a read-only file system cannot make its shared
		// memory file; read it as an immutable file instead (what the
		// last writer committed and checkpointed).
		db.Close()
		db, err2 := sql.Open("sqlite", "file:"+path+"?immutable=1&_pragma=foreign_keys(1)")
		if err2 != nil {
			return nil, fmt.Errorf("journal %s: %w", path, err)
		}
		j.db = db
		if v, err2 = j.version(context.Background()); err2 != nil {
			db.Close()
			return nil, fmt.Errorf("journal %s: %w", path, err)
		}
	}
	db = j.db
	if v > len(migrations) {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", path, newerError(v))
	}
	if v != len(migrations) {
		db.Close()
		return nil, fmt.Errorf("journal %s: schema version %d, this fieldlink reads %d (open it once with the instance in charge to migrate)", path, v, len(migrations))
	}
	if err := j.loadDevice(context.Background()); err != nil && !errors.Is(err, sql.ErrNoRows) {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return j, nil
}

// Close closes the journal.
func (j *Journal) Close() error { return j.db.Close() }

// MarkDemo marks the journal as a demo's: its records are simulated, and
// reports and exports say so.
func (j *Journal) MarkDemo(ctx context.Context) error {
	if j.device.Demo {
		return nil
	}
	if _, err := j.db.ExecContext(ctx, `UPDATE device SET demo = 1 WHERE id = ?`, j.device.ID); err != nil {
		return err
	}
	j.device.Demo = true
	return nil
}

// DB exposes the database to the report package.
func (j *Journal) DB() *sql.DB { return j.db }

// Path is the file's path.
func (j *Journal) Path() string { return j.path }

// Device is this journal's device.
func (j *Journal) Device() Device { return j.device }

func (j *Journal) loadDevice(ctx context.Context) error {
	err := j.db.QueryRowContext(ctx, `SELECT id, hostname, demo FROM device ORDER BY self DESC, created_ms LIMIT 1`).Scan(&j.device.ID, &j.device.Hostname, &j.device.Demo)
	if errors.Is(err, sql.ErrNoRows) && !j.ro {
		host, _ := os.Hostname()
		j.device = Device{ID: uuid.NewString(), Hostname: host}
		_, err = j.db.ExecContext(ctx, `INSERT INTO device(id, hostname, created_ms, self) VALUES(?,?,?,1)`,
			j.device.ID, j.device.Hostname, time.Now().UnixMilli())
	}
	return err
}

func (j *Journal) version(ctx context.Context) (int, error) {
	var v int
	err := j.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
	return v, err
}

// migrate applies the migrations the file has not had, each in its own
// transaction with the version bump, so an interrupted migration is either
// all there or not at all.
func (j *Journal) migrate(ctx context.Context) error {
	v, err := j.version(ctx)
	if err != nil {
		return err
	}
	if v > len(migrations) {
		return newerError(v)
	}
	for i := v; i < len(migrations); i++ {
		tx, err := j.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, stmt := range splitSQL(migrations[i]) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	return nil
}

// ErrNewer is wrapped by the error for a journal a newer fieldlink wrote:
// this one must neither read nor write it, as it cannot know what the
// newer schema means.
var ErrNewer = errors.New("written by a newer fieldlink")

func newerError(v int) error {
	return fmt.Errorf("%w (schema version %d; this fieldlink knows up to %d): refused; use that fieldlink or a newer one", ErrNewer, v, len(migrations))
}

// splitSQL splits a migration into statements; a trigger's body (BEGIN
// ... END) holds semicolons of its own and stays one statement.
func splitSQL(s string) []string {
	var out []string
	cur := ""
	for _, part := range strings.Split(s, ";") {
		if cur != "" {
			cur += ";" + part
		} else {
			cur = part
		}
		p := strings.TrimSpace(cur)
		if strings.HasPrefix(strings.ToUpper(p), "CREATE TRIGGER") && !strings.HasSuffix(strings.ToUpper(p), "END") {
			continue
		}
		if p != "" {
			out = append(out, p)
		}
		cur = ""
	}
	return out
}

// Check runs SQLite's integrity check and counts the rows of each table.
func (j *Journal) Check(ctx context.Context) (string, map[string]int64, error) {
	var res string
	if err := j.db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return "", nil, err
	}
	counts := map[string]int64{}
	for _, t := range []string{"device", "session", "sample", "event", "visit", "visit_net", "day_net", "day_area", "day_visit", "day_device"} {
		var n int64
		if err := j.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return res, counts, err
		}
		counts[t] = n
	}
	var fk int
	rows, err := j.db.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err == nil {
		for rows.Next() {
			fk++
		}
		rows.Close()
	}
	if fk > 0 && res == "ok" {
		res = fmt.Sprintf("%d rows break foreign keys", fk)
	}
	return res, counts, nil
}
