// Package pgtest runs a throwaway PostgreSQL cluster for tests: Debian's
// postgresql binaries, initdb into a temporary directory, pg_ctl start on
// a free port of 127.0.0.1 as the postgres account (PostgreSQL refuses to
// run as root), one fresh database per test. Without the binaries (or
// root, to become postgres) tests skip loudly, and fail in CI.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

// Cluster is a running throwaway cluster.
type Cluster struct {
	Dir  string
	Port int
	bin  string
	as   *user.User
}

var (
	once    sync.Once
	shared  *Cluster
	why     string
	counter atomic.Int64
)

// Main runs a package's tests and stops the shared cluster afterwards.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared cluster, if one was started (for a package
// whose TestMain does more than Main).
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

// binDir finds the newest PostgreSQL's binaries.
func binDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	return ""
}

// Start starts a cluster in a new directory.
func Start() (*Cluster, error) {
	bin := binDir()
	if bin == "" {
		return nil, fmt.Errorf("PostgreSQL is not installed (apt-get install postgresql)")
	}
	c := &Cluster{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres account to run PostgreSQL as")
		}
		c.as = u
	}
	dir, err := os.MkdirTemp("", "fieldlink-pg-")
	if err != nil {
		return nil, err
	}
	c.Dir = dir
	if c.as != nil {
		uid, _ := strconv.Atoi(c.as.Uid)
		gid, _ := strconv.Atoi(c.as.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := c.run("initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s %s -c max_connections=100 -c shared_buffers=128MB", c.Port, dir, durability())
	if out, err := c.run("pg_ctl", "-D", filepath.Join(dir, "data"), "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return c, nil
}

// durability is how the cluster writes: by default as a test can afford
// (no fsync, commits acknowledged before they reach the disk), with
// FIELDLINK_PG_DURABLE=1 as a hospital's server must (PostgreSQL's own
// defaults: fsync, synchronous commit, full-page writes), so that the
// upload benchmarks can report the figures that count.
func durability() string {
	if os.Getenv("FIELDLINK_PG_DURABLE") == "1" {
		return "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
	}
	return "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
}

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.Dir
	if c.as != nil {
		uid, _ := strconv.Atoi(c.as.Uid)
		gid, _ := strconv.Atoi(c.as.Gid)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Env = append(os.Environ(), "HOME="+c.Dir)
	}
	return cmd.CombinedOutput()
}

// Adopt takes over a cluster left running in dir on port (a benchmark's
// data kept for another run: FIELDLINK_FLEET_PG).
func Adopt(dir string, port int) (*Cluster, error) {
	c := &Cluster{Dir: dir, Port: port, bin: binDir()}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, err
		}
		c.as = u
	}
	return c, nil
}

// Stop stops the cluster at once and removes it.
func (c *Cluster) Stop() {
	c.run("pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(c.Dir)
}

// Restart stops the cluster (immediate: as a crash would) and starts it
// again on the same port.
func (c *Cluster) Restart() error {
	if out, err := c.run("pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	// After a crash, commits are synchronous again: the tests that restart
	// count on what was acknowledged being there.
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off", c.Port, c.Dir)
	if out, err := c.run("pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-o", opts, "-l", filepath.Join(c.Dir, "log"), "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	return nil
}

// URL is the connection URL of database db.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// Shared is the package's cluster, started on first use.
func Shared(tb testing.TB) *Cluster {
	tb.Helper()
	once.Do(func() {
		c, err := Start()
		if err != nil {
			why = err.Error()
			return
		}
		shared = c
	})
	if shared == nil {
		integration.Skip(tb, "no PostgreSQL cluster: %s", why)
	}
	return shared
}

// NewDB creates an empty database on the shared cluster and returns its
// URL; it is dropped when the test ends.
func NewDB(tb testing.TB) string {
	tb.Helper()
	c := Shared(tb)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, c.URL("postgres")); err == nil {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
	})
	return c.URL(strings.ToLower(name))
}

// FleetDevices is the size of the fleet the fleet benchmarks generate:
// 1,000 devices by default (a minute of set-up in CI),
// FIELDLINK_FLEET_DEVICES=18000 for a trust's.
func FleetDevices() int {
	if n, err := strconv.Atoi(os.Getenv("FIELDLINK_FLEET_DEVICES")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// FleetDB is the database a fleet benchmark reads, on its cluster:
// FIELDLINK_FLEET_PG=dir:port:database reuses a fleet generated by an
// earlier run (18,000 devices take most of an hour to generate) in a
// cluster left running there; otherwise a new database on the shared
// cluster.
func FleetDB(tb testing.TB) (string, *Cluster) {
	tb.Helper()
	kept := os.Getenv("FIELDLINK_FLEET_PG")
	if kept == "" {
		return NewDB(tb), Shared(tb)
	}
	parts := strings.Split(kept, ":")
	port, err := strconv.Atoi(parts[min(1, len(parts)-1)])
	if len(parts) != 3 || err != nil {
		tb.Fatalf("FIELDLINK_FLEET_PG=%q: want dir:port:database", kept)
	}
	c, err := Adopt(parts[0], port)
	if err != nil {
		tb.Fatal(err)
	}
	return c.URL(parts[2]), c
}
