package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/testbed/fleetsample"
	"github.com/fieldlink/fieldlink/backend/testbed/pgtest"
)

// serveProc is a `fieldlink serve` child on a port of this machine.
type serveProc struct {
	cmd  *exec.Cmd
	url  string
	logs *strings.Builder
}

func startServe(t *testing.T, cfg, db string, port int) *serveProc {
	return startServeWith(t, cfg, db, port, http.DefaultClient, "--insecure-http")
}

// startServeWith starts `fieldlink serve` with extra flags; client is what
// can reach it (one trusting its CA, for HTTPS).
func startServeWith(t *testing.T, cfg, db string, port int, client *http.Client, extra ...string) *serveProc {
	t.Helper()
	scheme := "https"
	if slices.Contains(extra, "--insecure-http") {
		scheme = "http"
	}
	p := &serveProc{url: fmt.Sprintf("%s://127.0.0.1:%d", scheme, port), logs: &strings.Builder{}}
	args := append([]string{"serve", "--config", cfg, "--db", db, "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, extra...)
	p.cmd = exec.Command(binary(t), args...)
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := client.Get(p.url + "/report"); err == nil {
			resp.Body.Close()
			return p
		}
	}
	t.Fatalf("fieldlink serve did not answer:\n%s", p.logs)
	return nil
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// TestFleetServeAndSync is the fleet issue's "done when", as IT and the
// devices run it: `fieldlink serve` on a real PostgreSQL; devices enrolled,
// each syncing with `fieldlink journal sync`; a device killed mid-sync
// and the server killed and restarted lose and double nothing; the fleet
// report read with `fieldlink report --server` equals the report of the
// same journals merged into SQLite.
func TestFleetServeAndSync(t *testing.T) {
	db := pgtest.NewDB(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "server.toml")
	os.WriteFile(cfg, []byte("[server]\nrefresh = \"1s\"\nareas_refresh = \"1s\"\n"), 0o600)
	port := freePort(t)
	srv := startServe(t, cfg, db, port)
	devices := fleetsample.Record(t, dir, false)

	devCfg := func(i int, server string) string {
		tok := filepath.Join(dir, fmt.Sprintf("token%d", i))
		if _, err := os.Stat(tok); err != nil {
			out, stderr, code := runCLI(t, "serve", "enroll", fleetsample.Hosts[i], "--group", "North", "--db", db, "--config", cfg)
			if code != 0 || !strings.Contains(out, "flk_") {
				t.Fatalf("enroll: %d %s %s", code, out, stderr)
			}
			var token string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "flk_") {
					token = l
				}
			}
			os.WriteFile(tok, []byte(token+"\n"), 0o600)
		}
		p := filepath.Join(dir, fmt.Sprintf("device%d.toml", i))
		os.WriteFile(p, []byte(fmt.Sprintf("[sync]\nserver = %q\ntoken_file = %q\n", server, tok)), 0o600)
		return p
	}
	sync := func(i int) string {
		t.Helper()
		out, stderr, code := runCLI(t, "journal", "sync", "--now", "--db", devices[i], "--config", devCfg(i, srv.url))
		if code != 0 || !strings.Contains(out, "sent ") {
			t.Fatalf("journal sync %d: exit %d %s %s\nserver:\n%s", i, code, out, stderr, srv.logs)
		}
		return out
	}
	if out := sync(0); !strings.Contains(out, "visit") {
		t.Fatalf("first sync sent %s", out)
	}
	// Without --now, a sync just made is not repeated.
	if out, _, code := runCLI(t, "journal", "sync", "--db", devices[0], "--config", devCfg(0, srv.url)); code != 0 || !strings.Contains(out, "nothing due") {
		t.Fatalf("a second sync at once: %d %s", code, out)
	}

	// The device killed mid-sync (SIGKILL), against a server that never
	// answers: its watermark does not move.
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 1<<16)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	holeURL := "http://" + hole.Addr().String()
	kill := exec.Command(binary(t), "journal", "sync", "--now", "--db", devices[1], "--config", devCfg(1, holeURL))
	if err := kill.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	kill.Process.Signal(syscall.SIGKILL)
	kill.Wait()
	j, err := journal.Open(devices[1])
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := j.Sync(context.Background(), holeURL); !st.Acked.IsZero() {
		t.Fatalf("a sync killed mid-upload moved the watermark: %+v", st)
	}
	j.Close()

	// The server killed (SIGKILL) and started again: nothing lost.
	srv.cmd.Process.Signal(syscall.SIGKILL)
	srv.cmd.Wait()
	// A sync while the server is gone says so, and what waits on the
	// device; the next sync by hand does not call itself "not due".
	if _, stderr, code := runCLI(t, "journal", "sync", "--now", "--db", devices[2], "--config", devCfg(2, srv.url)); code == 0 ||
		!strings.Contains(stderr, "not yet on the server (since ever), kept on this device and sent next time:") || !strings.Contains(stderr, " session") {
		t.Fatalf("a sync to a server that is gone: exit %d, %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, "journal", "sync", "--now", "--db", devices[0], "--config", devCfg(0, srv.url)); code == 0 {
		t.Fatalf("a sync to a server that is gone succeeded: %s", stderr)
	}
	srv = startServe(t, cfg, db, port)
	if out, stderr, code := runCLI(t, "journal", "sync", "--db", devices[0], "--config", devCfg(0, srv.url)); code != 0 ||
		!strings.Contains(out, "the last sync failed") || !strings.Contains(out, "sent ") {
		t.Fatalf("a sync after a failed one: exit %d %s %s", code, out, stderr)
	}
	sync(1)
	sync(2)
	sync(0)

	// The same journals merged into SQLite by hand.
	fleetDB := filepath.Join(dir, "fleet.db")
	for i, d := range devices {
		exp := filepath.Join(dir, fmt.Sprintf("export%d.ndjson", i))
		if _, stderr, code := runCLI(t, "journal", "export", "--db", d, "--output", exp); code != 0 {
			t.Fatal(stderr)
		}
		if _, stderr, code := runCLI(t, "journal", "import", "--db", fleetDB, exp); code != 0 {
			t.Fatal(stderr)
		}
	}
	wantJSON, _, _ := runCLI(t, "report", "--db", fleetDB, "--format", "json")

	out, _, _ := runCLI(t, "serve", "viewer", "it-manager", "--db", db, "--config", cfg, "--url", srv.url)
	vf := filepath.Join(dir, "viewer")
	os.WriteFile(vf, []byte(lastLine(out)), 0o600)
	// The pre-aggregates follow the uploads within a second or two (each
	// upload wakes the refresher).
	canon := func(doc string) string {
		var m map[string]any
		json.Unmarshal([]byte(doc), &m)
		delete(m, "generated")
		delete(m, "trends") // the server's own addition: months of the whole fleet
		b, _ := json.Marshal(m)
		return string(b)
	}
	want := canon(wantJSON)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		got, stderr, code := runCLI(t, "report", "--server", srv.url, "--token-file", vf, "--format", "json")
		if code == 0 && canon(got) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fleet report never equalled the merged SQLite one: %d %s\n%s\n%s\nserver:\n%s", code, stderr, canon(got), want, srv.logs)
		}
	}
	// Nothing doubled: the server holds each device's sessions once.
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var sessions int64
	conn.QueryRow(context.Background(), `SELECT COUNT(*) FROM session`).Scan(&sessions)
	var wantSessions int64
	for _, d := range devices {
		j, _ := journal.OpenReadOnly(d)
		var n int64
		j.DB().QueryRow(`SELECT COUNT(*) FROM session`).Scan(&n)
		j.Close()
		wantSessions += n
	}
	if sessions != wantSessions {
		t.Fatalf("the server holds %d sessions, the devices %d", sessions, wantSessions)
	}
	// The table, as a manager reads it in a terminal.
	table, _, code := runCLI(t, "report", "--server", srv.url, "--token-file", vf)
	if code != 0 || !strings.Contains(table, "DEAD ZONE  Northfield") {
		t.Fatalf("report --server as a table:\n%s", table)
	}
	t.Logf("fleet report from the server:\n%s", strings.Join(strings.Split(table, "\n")[:12], "\n"))
}

// TestServeReplaceAndRevoke: IT replaces a laptop's token (printed once)
// and revokes it from the command line; an unknown name is said as such.
func TestServeReplaceAndRevoke(t *testing.T) {
	db := pgtest.NewDB(t)
	cfg := filepath.Join(t.TempDir(), "server.toml")
	os.WriteFile(cfg, []byte("[server]\n"), 0o600)
	if out, stderr, code := runCLI(t, "serve", "enroll", "tb-lost", "--db", db, "--config", cfg); code != 0 || !strings.Contains(out, "flk_") {
		t.Fatalf("enroll: %d %s %s", code, out, stderr)
	}
	out, stderr, code := runCLI(t, "serve", "replace", "tb-lost", "--db", db, "--config", cfg)
	if code != 0 || !strings.Contains(out, "the old one no longer works") || !strings.HasPrefix(lastLine(out), "flk_") {
		t.Fatalf("replace: %d %s %s", code, out, stderr)
	}
	if out, stderr, code := runCLI(t, "serve", "revoke", "tb-lost", "--db", db, "--config", cfg); code != 0 || !strings.Contains(out, "withdrawn") {
		t.Fatalf("revoke: %d %s %s", code, out, stderr)
	}
	if out, _, _ := runCLI(t, "serve", "devices", "--db", db, "--config", cfg); strings.Contains(out, "tb-lost") {
		t.Fatalf("a revoked laptop still listed:\n%s", out)
	}
	if _, stderr, code := runCLI(t, "serve", "revoke", "tb-never", "--db", db, "--config", cfg); code == 0 || !strings.Contains(stderr, `no device enrolled by that name: "tb-never"`) {
		t.Fatalf("revoking an unknown name: %d %s", code, stderr)
	}
}
