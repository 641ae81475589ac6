package journal

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var writeFixtures = flag.Bool("fixtures", false, "rewrite testdata/journals/v*.db (journals as earlier schema versions left them)")

// fixture builds a journal as schema version v wrote it: the migrations up
// to v, and rows as that version's writer stored them.
func fixture(path string, v int) error {
	os.Remove(path)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	for i := 0; i < v; i++ {
		for _, stmt := range splitSQL(migrations[i]) {
			if _, err := db.Exec(stmt); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
	}
	day := int64(20415) // 2025-11-23
	ms := day * 86400000
	stmts := []string{
		fmt.Sprintf(`INSERT INTO device(id, hostname, created_ms) VALUES('6b1e2c1a-0000-4000-8000-00000000000%d', 'tb-fixture', %d)`, v, ms),
		fmt.Sprintf(`INSERT INTO session(uuid, device_id, link, kind, interface, network, mcc, mnc, tech, area, start_ms, end_ms, end_reason, connect_ms, green_ms, amber_ms, red_ms, in_use_ms, workable_ms, samples, med_rsrp)
			VALUES('s1', '6b1e2c1a-0000-4000-8000-00000000000%[1]d', 'cellular:wwan0', 'cellular', 'wwan0', 'Vodafone UK', '234', '15', 'LTE', 'TAC 1A2B / CI 0042', %[2]d, %[2]d + 600000, 'disconnected', 3000, 400000, 150000, 50000, 600000, 550000, 3, -95)`, v, ms+3600000),
		fmt.Sprintf(`INSERT INTO session(uuid, device_id, link, kind, interface, network, start_ms, end_ms, end_reason, green_ms, in_use_ms, workable_ms, med_strength)
			VALUES('s2', '6b1e2c1a-0000-4000-8000-00000000000%[1]d', 'wifi:wlan0', 'wifi', 'wlan0', 'NHS-Community', %[2]d, %[2]d + 300000, 'stopped', 300000, 0, 300000, 72)`, v, ms+7200000),
		fmt.Sprintf(`INSERT INTO sample(session_id, t_ms, level, in_use, rsrp, tech, area) VALUES(1, %[1]d, 3, 1, -95, 'LTE', 'TAC 1A2B / CI 0042'), (1, %[1]d + 10000, 2, 1, -108, 'LTE', 'TAC 1A2B / CI 0042'), (2, %[2]d, 3, 0, NULL, '', 'NHS-Community')`, ms+3600000, ms+7200000),
		fmt.Sprintf(`INSERT INTO event(device_id, t_ms, kind, link, level, text) VALUES('6b1e2c1a-0000-4000-8000-00000000000%[1]d', %[2]d, 'failover', 'cellular:wwan0', 2, 'Wi-Fi lost: now on cellular')`, v, ms+3600000),
		fmt.Sprintf(`INSERT INTO visit(uuid, device_id, start_ms, end_ms, total_ms, workable_ms) VALUES('v1', '6b1e2c1a-0000-4000-8000-00000000000%[1]d', %[2]d, %[2]d + 500000, 500000, 450000)`, v, ms+3650000),
	}
	if v >= 2 {
		// Version 2's writer kept the roll-ups itself.
		stmts = append(stmts,
			fmt.Sprintf(`INSERT INTO day_net(device_id, day, kind, network, mcc, mnc, sessions, connected_ms, green_ms, amber_ms, red_ms, in_use_ms, workable_ms, h_connect, h_signal, h_sinr) VALUES('6b1e2c1a-0000-4000-8000-000000000002', %d, 'cellular', 'Vodafone UK', '234', '15', 1, 600000, 400000, 150000, 50000, 600000, 550000, '3:1', '-95:1', '')`, day),
			fmt.Sprintf(`INSERT INTO day_net(device_id, day, kind, network, mcc, mnc, sessions, connected_ms, green_ms, amber_ms, red_ms, in_use_ms, workable_ms, h_connect, h_signal, h_sinr) VALUES('6b1e2c1a-0000-4000-8000-000000000002', %d, 'wifi', 'NHS-Community', '', '', 1, 300000, 300000, 0, 0, 0, 300000, '', '72:1', '')`, day),
			fmt.Sprintf(`INSERT INTO day_area(device_id, day, kind, network, area, connected_ms, green_ms, amber_ms, red_ms, workable_ms, h_signal) VALUES('6b1e2c1a-0000-4000-8000-000000000002', %d, 'cellular', 'Vodafone UK', 'TAC 1A2B / CI 0042', 600000, 400000, 150000, 50000, 550000, '-95:1')`, day),
			fmt.Sprintf(`INSERT INTO day_area(device_id, day, kind, network, area, connected_ms, green_ms, amber_ms, red_ms, workable_ms, h_signal) VALUES('6b1e2c1a-0000-4000-8000-000000000002', %d, 'wifi', 'NHS-Community', 'NHS-Community', 300000, 300000, 0, 0, 300000, '72:1')`, day),
			fmt.Sprintf(`INSERT INTO day_device(device_id, day, failovers, visits, h_visit) VALUES('6b1e2c1a-0000-4000-8000-000000000002', %d, 1, 1, '90:1')`, day))
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			return fmt.Errorf("%w in %s", err, s)
		}
	}
	_, err = db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v))
	return err
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	if *writeFixtures {
		for v := 1; v < len(migrations); v++ {
			if err := fixture(filepath.Join("testdata", "journals", fmt.Sprintf("v%d.db", v)), v); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("empty file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "j.db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if v, _ := j.version(ctx); v != len(migrations) {
			t.Fatalf("version %d, want %d", v, len(migrations))
		}
		if _, counts, _ := j.Check(ctx); counts["device"] != 1 || counts["session"] != 0 {
			t.Fatalf("counts %v", counts)
		}
	})
	for v := 1; v < len(migrations); v++ {
		t.Run(fmt.Sprintf("from version %d", v), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.db")
			copyFile(t, filepath.Join("testdata", "journals", fmt.Sprintf("v%d.db", v)), path)
			if _, err := OpenReadOnly(path); err == nil {
				t.Fatal("a read-only open of an old journal should refuse, not misread")
			}
			j, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if got, _ := j.version(ctx); got != len(migrations) {
				t.Fatalf("version %d after migrating", got)
			}
			if j.Device().Hostname != "tb-fixture" {
				t.Fatalf("device %+v: the journal's own device must survive", j.Device())
			}
			res, counts, err := j.Check(ctx)
			if err != nil || res != "ok" {
				t.Fatalf("check %q %v", res, err)
			}
			want := map[string]int64{"device": 1, "session": 2, "sample": 3, "event": 1, "visit": 1, "day_net": 2, "day_area": 2, "day_device": 1}
			for k, n := range want {
				if counts[k] != n {
					t.Errorf("%s: %d rows, want %d", k, counts[k], n)
				}
			}
			// The roll-ups agree with the sessions, whether kept by the
			// writer (v2) or backfilled by the migration (v1).
			var green, workable, failovers, visits int64
			j.db.QueryRow(`SELECT SUM(green_ms), SUM(workable_ms) FROM day_net`).Scan(&green, &workable)
			j.db.QueryRow(`SELECT failovers, visits FROM day_device`).Scan(&failovers, &visits)
			if green != 700000 || workable != 850000 || failovers != 1 || visits != 1 {
				t.Fatalf("roll-ups: green %d workable %d failovers %d visits %d", green, workable, failovers, visits)
			}
			// Events written before version 3 export under their own id
			// and import once.
			var ev int64
			j.db.QueryRow(`SELECT COUNT(*) FROM event WHERE origin IS NULL`).Scan(&ev)
			if ev != 1 {
				t.Fatalf("old events: %d without origin", ev)
			}
		})
	}
	t.Run("newer than this fieldlink", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "j.db")
		j, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		j.db.Exec(fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1))
		j.Close()
		if _, err := Open(path); !errors.Is(err, ErrNewer) {
			t.Fatalf("a journal from a newer fieldlink must not be written by an older one: %v", err)
		}
		// Reports, checks and exports read it read-only: refused too, in
		// words that do not send the user off to "migrate" it.
		_, err = OpenReadOnly(path)
		if !errors.Is(err, ErrNewer) || strings.Contains(err.Error(), "migrate") || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("read-only open of a newer journal: %v", err)
		}
	})
}

// TestOpenRefusesSymlinks: a link planted where the journal (or its WAL)
// goes must not make fieldlink write where it points, nor read it.
func TestOpenRefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious"), 0o600)
	for _, name := range []string{"j.db", "j.db-wal"} {
		d := filepath.Join(dir, name+".d")
		os.Mkdir(d, 0o700)
		if err := os.Symlink(victim, filepath.Join(d, name)); err != nil {
			t.Fatal(err)
		}
		_, err := Open(filepath.Join(d, "j.db"))
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Fatalf("%s planted as a link: %v", name, err)
		}
	}
	// journal check and export open read-only: they refuse the same.
	good := filepath.Join(dir, "good.db")
	if j, err := Open(good); err != nil {
		t.Fatal(err)
	} else {
		j.Close()
	}
	link := filepath.Join(dir, "linked.db")
	os.Symlink(good, link)
	if _, err := OpenReadOnly(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("a read-only open of a linked journal: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the link's target was written: %q", b)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatalf("fixture: %v (regenerate with go test ./backend/journal -run TestMigrations -fixtures)", err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}
