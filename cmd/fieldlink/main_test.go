package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/status"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestStatusDemoJSON(t *testing.T) {
	out, stderr, code := runCLI(t, "status", "--demo", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var d status.Doc
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if d.Version != 1 || !d.Simulated || d.Word != "GO" || d.Primary != "wlan0" || len(d.Links) != 4 || d.Scenario != "home-visit" {
		t.Fatalf("doc %+v", d)
	}
	// The documented top-level keys are all there.
	var raw map[string]any
	json.Unmarshal([]byte(out), &raw)
	for _, k := range []string{"version", "time", "simulated", "source", "role", "level", "word", "reason", "path", "primary", "connectivity", "links", "events"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
}

func TestStatusTable(t *testing.T) {
	out, _, code := runCLI(t, "status", "--scenario", "cable-pulled")
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"DEMO (simulated data)", "light:   GO", "eth0*", "wlan0", "NHS-Staff", "(* carries the default route)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestStatusWatchPrintsChanges(t *testing.T) {
	out, stderr, code := runCLI(t, "status", "--scenario", "cable-pulled", "--watch", "--speed", "20", "--for", "1500ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 {
		t.Fatalf("want a line per change, got:\n%s", out)
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"GO", "DO NOT PROCEED", "carrier lost", "Traffic now goes via Wi-Fi"} {
		if !strings.Contains(joined, want) {
			t.Errorf("watch output lacks %q:\n%s", want, joined)
		}
	}
	jout, _, code := runCLI(t, "status", "--scenario", "cable-pulled", "--watch", "--json", "--speed", "20", "--for", "1500ms")
	if code != 0 {
		t.Fatal(code)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(jout), "\n") {
		var d status.Doc
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("line %d is not a JSON object: %v", n, err)
		}
		n++
	}
	if n < 3 {
		t.Fatalf("%d JSON objects", n)
	}
}

func TestNoSystemBusIsOneClearLine(t *testing.T) {
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/fieldlink-test-bus")
	_, stderr, code := runCLI(t)
	if code != 1 || !strings.Contains(stderr, "cannot reach the system D-Bus") || !strings.Contains(stderr, "fieldlink --demo") ||
		strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runCLI(t, "status")
	if code != 1 || !strings.Contains(stderr, "--demo") {
		t.Fatalf("status: exit %d, %q", code, stderr)
	}
}

func TestHelpEverywhere(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"status", "--help"}, {"help", "status"}, {"config", "--help"}, {"config", "check", "--help"}} {
		out, _, code := runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "Usage") {
			t.Errorf("%v: exit %d, out %q", args, code, out)
		}
	}
	_, stderr, code := runCLI(t, "frobnicate")
	if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %q", code, stderr)
	}
	_, _, code = runCLI(t, "--no-such-flag")
	if code != 2 {
		t.Errorf("bad flag exit %d", code)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("[thresholds.wifi]\ngreen_pct = 60\n"), 0o600)
	out, _, code := runCLI(t, "config", "check", good)
	if code != 0 || !strings.Contains(out, "config OK: "+good) || !strings.Contains(out, "green_pct = 60.0") || !strings.Contains(out, "rsrp_green_dbm = -108.0") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[ui]\nascii = true\ncolour = \"no\"\n"), 0o600)
	_, stderr, code := runCLI(t, "config", "check", bad)
	if code != 1 || !strings.Contains(stderr, bad+`:3:1: unknown key "ui.colour"`) {
		t.Fatalf("exit %d: %q", code, stderr)
	}
	out, _, code = runCLI(t, "config", "check")
	if code != 0 || !strings.Contains(out, "built-in defaults") {
		t.Fatalf("defaults: %d %q", code, out)
	}
}

func TestScenarioErrorsNameFileAndLine(t *testing.T) {
	f := filepath.Join(t.TempDir(), "mine.scn")
	os.WriteFile(f, []byte("link wlan0 wifi\n  strenght 40\n"), 0o600)
	_, stderr, code := runCLI(t, "status", "--scenario", f)
	if code != 1 || !strings.Contains(stderr, f+`:2: unknown setting "strenght"`) {
		t.Fatalf("exit %d: %q", code, stderr)
	}
	_, stderr, code = runCLI(t, "status", "--scenario", "missing.scn")
	if code != 1 || !strings.Contains(stderr, "missing.scn") {
		t.Fatalf("missing file: %d %q", code, stderr)
	}
}

// TestSecondDemoRunsItsOwn: a demo started while another runs is in
// charge of its own simulated run, never the first's observer (finding:
// the second of two demos said OBSERVER, never failed over and showed the
// first demo's events).
func TestSecondDemoRunsItsOwn(t *testing.T) {
	state := t.TempDir()
	ctx := context.Background()
	first, err := (&common{demo: true, stateDir: state}).claim(ctx, "demo")
	if err != nil || !first.InCharge {
		t.Fatalf("first: %+v %v", first, err)
	}
	defer first.Release()
	second, err := (&common{demo: true, stateDir: state}).claim(ctx, "demo")
	if err != nil || !second.InCharge || !second.Apart || second.Socket() == first.Socket() || second.DemoJournal() == first.DemoJournal() {
		t.Fatalf("second: %+v %v", second, err)
	}
	second.Release()
	// A demo never makes the real instance a client, and vice versa.
	d := fakebus.StartDaemon(t)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Address)
	real, err := (&common{stateDir: state}).claim(ctx, "tui")
	if err != nil || !real.InCharge {
		t.Fatalf("real beside demo: %+v %v", real, err)
	}
	real.Release()
}

// TestStateDirectorySafety: fieldlink refuses a state directory another
// account could plant links in, so that it never writes where a link
// points; as root it uses system paths whatever XDG_STATE_HOME says
// (finding 6: a --state-dir in a user-writable directory followed planted
// links; XDG_STATE_HOME overrode /var/lib/fieldlink for root).
func TestStateDirectorySafety(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	os.WriteFile(victim, []byte("precious"), 0o600)
	plant := func(name string, mode os.FileMode, uid int) string {
		d := filepath.Join(base, name)
		os.Mkdir(d, 0o700)
		os.Symlink(victim, filepath.Join(d, "demo-journal.db"))
		os.Symlink(victim, filepath.Join(d, "demo.lock"))
		os.Chmod(d, mode)
		if uid >= 0 {
			os.Chown(d, uid, uid)
		}
		return d
	}
	dirs := map[string]string{"writable by all": plant("open", 0o777, -1)}
	if os.Geteuid() == 0 {
		dirs["another account's"] = plant("theirs", 0o755, 65534)
	}
	for name, d := range dirs {
		cmd := exec.Command(binary(t), "daemon", "--demo", "--state-dir", d)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "refused") {
			t.Errorf("%s state directory: %v %s", name, err, out)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("a planted link was followed: %q", b)
	}
	if os.Geteuid() == 0 {
		cmd := exec.Command(binary(t), "journal", "path")
		cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+base)
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != "/var/lib/fieldlink/journal.db" {
			t.Fatalf("journal path as root with XDG_STATE_HOME set: %q %v", out, err)
		}
	}
}

// TestSpeedScalesThePolicy is finding 7 of "Failover that stays right all
// day": at --speed 4 the demo never failed back, as the fail-back wait
// stayed 30 real seconds while Wi-Fi's return came four times sooner.
// Every policy duration is scaled with the scenario.
func TestSpeedScalesThePolicy(t *testing.T) {
	out, stderr, code := runCLI(t, "status", "--scenario", "home-visit", "--watch", "--speed", "16", "--for", "9s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "Back on Wi-Fi NHS-Community") {
		t.Fatalf("no fail-back in the fast demo:\n%s", out)
	}
	c := common{scenario: "home-visit", speed: 4}
	cfg := config.Default()
	p := c.failoverPolicy(cfg)
	if p.FailbackAfter != 7500*time.Millisecond || p.MinDwell != 2500*time.Millisecond {
		t.Fatalf("policy at 4x: %+v", p)
	}
	if real := (&common{speed: 4}).failoverPolicy(cfg); real.FailbackAfter != 30*time.Second {
		t.Fatalf("the real system's policy is not scaled: %v", real.FailbackAfter)
	}
}

// TestWatchJSONWritesOnlyNews is the last of finding 8: status --watch
// --json wrote lines identical to the one before but for "time".
func TestWatchJSONWritesOnlyNews(t *testing.T) {
	var w jsonWatch
	d := status.Doc{Time: time.Unix(100, 0), Word: "GO", Reason: "cable connected"}
	if !w.news(d) {
		t.Fatal("the first document is news")
	}
	d.Time = time.Unix(101, 0)
	if w.news(d) {
		t.Fatal("the same picture at another time was written again")
	}
	d.Word, d.Reason = "MARGINAL", "Wi-Fi weak: 50%"
	if !w.news(d) {
		t.Fatal("a change was not written")
	}
}

// TestBadFlagStaysOnScreen: a mistyped flag is said in one line with two
// more pointing at --help, not 40 lines of usage that scroll the error
// off an 80x24 screen; --help still prints it all.
func TestBadFlagStaysOnScreen(t *testing.T) {
	for _, cmd := range [][]string{{}, {"status"}, {"daemon"}, {"report"}, {"journal", "export"}, {"serve"}, {"serve", "enroll"}, {"config", "check"}} {
		args := append(append([]string{}, cmd...), "--bogus")
		out, stderr, code := runCLI(t, args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 2 || out != "" || len(lines) > 3 || !strings.Contains(lines[0], "-bogus") || !strings.Contains(stderr, "--help' for the flags") {
			t.Errorf("fieldlink %s: exit %d, %d lines:\n%s", strings.Join(args, " "), code, len(lines), stderr)
		}
	}
	out, _, code := runCLI(t, "status", "--help")
	if code != 0 || !strings.Contains(out, "--json") || strings.Count(out, "\n") < 10 {
		t.Errorf("status --help: exit %d\n%s", code, out)
	}
}
