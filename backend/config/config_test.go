package config

import (
	tea "charm.land/bubbletea/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/probe"
)

func TestDefaultsMatchThresholds(t *testing.T) {
	c := Default()
	if errs := c.Validate(); len(errs) > 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
	if got, want := c.NetThresholds(), netstate.DefaultThresholds(); got != want {
		t.Fatalf("round trip of default thresholds:\n got %+v\nwant %+v", got, want)
	}
	if p := c.FailoverPolicy(); len(p.Prefer) != 3 || p.Prefer[0] != "ethernet" || p.Standby.String() != "cold" || p.Down != 3 {
		t.Fatalf("policy %+v", p)
	}
	// The config's defaults are the prober's own: one policy, written once
	// in each place a person reads it (the code and the config file).
	d := probe.DefaultConfig()
	if p := c.ProbeConfig(); len(p.Targets) != 1 || p.Doubt != d.Doubt || p.Active != d.Active || p.Idle != d.Idle ||
		p.MeteredIdle != d.MeteredIdle || p.Standby != d.Standby || p.Timeout != d.Timeout || p.Sample != d.Sample || p.Down != d.Down {
		t.Fatalf("probe config %+v\nprober's defaults %+v", p, d)
	}
}

func TestParseOverridesOnTopOfDefaults(t *testing.T) {
	doc := `
[links]
prefer = ["wifi", "cellular"]

[thresholds.wifi]
green_pct = 60

[thresholds.probe]
fail_rtt = "2s"
`
	c, err := Parse("site.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	th := c.NetThresholds()
	if th.WiFi.Green != 60 || th.WiFi.Amber != 38 || th.Probe.FailRTT != 2*time.Second || th.LTE.RSRPGreen != -108 {
		t.Fatalf("thresholds %+v", th)
	}
	if p := c.FailoverPolicy().Prefer; len(p) != 2 || p[0] != "wifi" {
		t.Fatalf("preference %v", p)
	}
	if c.Path != "site.toml" {
		t.Fatalf("path %q", c.Path)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"[links]\nprefer = [\"wifi\"]\nbogus = 1\n", `site.toml:3:1: unknown key "links.bogus"`},
		{"[thresholds.wifi]\ngreen_pct = \"high\"\n", "site.toml:2:13: thresholds.wifi.green_pct: expected a number, found a TOML string"},
		{"[links]\nprefer = 3\n", "site.toml:2:10: links.prefer: expected a list of strings"},
		{"[thresholds.probe]\n\nfail_rtt = \"soon\"\n", `site.toml:3:12: thresholds.probe.fail_rtt: "soon" is not a duration`},
		{"[links\n", "site.toml:1:7: expected ']' to close table name"},
		{"# site overrides\n[thresholds.wifi]\ngreen_pct = 20\n", "site.toml:3: thresholds.wifi.green_pct: green bound 20 is below the amber bound amber_pct = 38"},
		{"[links]\nprefer = [\"wifi\", \"carrier pigeon\"]\n", `site.toml:2: links.prefer: "carrier pigeon" is neither a link kind`},
		{"[links]\nprefer = [\"wifi\", \"wlan\"]\n", `"wlan" is listed twice`},
		{"[thresholds.quality]\namber_pct = -5\ngreen_pct = 150\n", "site.toml:3: thresholds.quality.green_pct: 150 is outside 0–100"},
		{"[links]\nprefer = [\"veth0\", \"veth1\", \"cellular\"]\n[failover]\ncellular_standby = \"warm\"\n", `site.toml:4: failover.cellular_standby: want cold or hot, got "warm"`},
		{"[[probe.target]]\nurl = \"ftp://x\"\n", `probe.target[0].url: "ftp://x" is not an http:// or https:// URL`},
		{"[[probe.target]]\ntcp = \"clinical\"\n", `probe.target[0].tcp: "clinical" is not host:port`},
		{"[[probe.target]]\ntcp = \"a:1\"\nurl = \"http://b\"\n", "probe.target[0]: set exactly one of url, tcp or dns"},
		{"[probe]\nreliability = 2\n", "probe.reliability: 2 is outside 1…1"},
		{"[links]\nprefer = [\"ethernet\", \"not an interface!\"]\n", "neither a link kind"},
		{"[wifi]\njoin = \"anyone\"\n", `site.toml:2: wifi.join: want everyone, technicians or nobody, got "anyone"`},
		{"[wifi]\nallow_ssids = [\"NHS-*\", \"*\"]\n", `site.toml:2: wifi.allow_ssids: "*" is not a network name`},
	}
	for _, c := range cases {
		_, err := Parse("site.toml", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("doc %q:\n got %v\nwant %s", c.doc, err, c.want)
		}
	}
}

func TestLoadLookupOrder(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != "" && !strings.HasPrefix(c.Path, "/etc/") {
		t.Fatalf("no user config: got path %q", c.Path)
	}
	user := filepath.Join(dir, "fieldlink", "config.toml")
	if err := os.MkdirAll(filepath.Dir(user), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(user, []byte("[ui]\nascii = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load("")
	if err != nil || c.Path != user || !c.UI.ASCII {
		t.Fatalf("user config: %+v %v", c, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Fatalf("explicit missing file: %v", err)
	}
}

func TestEffectiveRoundTrips(t *testing.T) {
	c := Default()
	out, err := c.Effective()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("effective", []byte(out))
	if err != nil {
		t.Fatalf("effective config does not parse: %v\n%s", err, out)
	}
	if back.NetThresholds() != c.NetThresholds() {
		t.Fatal("effective config changed thresholds")
	}
	if !strings.Contains(out, "fail_rtt = '1s'") {
		t.Fatalf("durations should be written as text:\n%s", out)
	}
}

func TestWorkSections(t *testing.T) {
	c, err := LoadFile("../../packaging/config.toml.example")
	if err != nil {
		t.Fatal(err)
	}
	if c.VPN.Profile != "NHS-VPN" || !c.VPN.Auto || c.AppName() != "Clinical records" || c.App.Terminal ||
		c.App.Env["CLINICAL_SITE"] != "north" || len(c.Kiosk.AdminKeys) != 3 {
		t.Fatalf("example config read as %+v %+v %+v", c.VPN, c.App, c.Kiosk)
	}
	if d := Default(); d.VPN.Profile != "" || d.App.Launch != "manual" || !d.Agent.Enabled || d.Technician.Act {
		t.Fatalf("defaults %+v %+v %+v %+v", d.VPN, d.App, d.Agent, d.Technician)
	}
	for doc, want := range map[string]string{
		"[app]\nlaunch = \"always\"\n":                     "x.toml:2: app.launch: want manual or on-vpn-up",
		"[app]\ncommand = [\"emis --kiosk\"]\n":            "x.toml:2: app.command: \"emis --kiosk\" has spaces",
		"[app]\nlaunch = \"on-vpn-up\"\n":                  "app.launch: on-vpn-up with no app.command",
		"[app]\nenv = { \"BAD=NAME\" = \"x\" }\n":          "app.env: \"BAD=NAME\" is not an environment variable name",
		"[agent]\nprompt_timeout = \"1s\"\n":               "x.toml:2: agent.prompt_timeout: 1s is outside 5s…2m",
		"[kiosk]\nadmin_keys = [\"q\"]\n":                  "kiosk.admin_keys: want 2 to 16 keys",
		"[vpn]\nretry_min = \"1m\"\nretry_max = \"10s\"\n": "vpn.retry_min: want 1s ≤ retry_min ≤ retry_max ≤ 1h",
		"[vpn]\nprofil = \"x\"\n":                          "x.toml:2:1: unknown key \"vpn.profil\"",
	} {
		_, err := Parse("x.toml", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", doc, err, want)
		}
	}
}

// TestTrust: a config that others could change may not run a program or
// widen who acts when fieldlink runs as root or in the kiosk (finding: a
// 0666 config's [app] command ran as root, and config check called it OK).
func TestTrust(t *testing.T) {
	risky := "[app]\ncommand = [\"/bin/sh\", \"-c\", \"id > /tmp/owned\"]\n[kiosk]\nadmin_keys = [\"ctrl+x\", \"q\"]\n[technician]\nact = true\n[vpn]\nprofile = \"NHS-VPN\"\n"
	write := func(t *testing.T, dir string, mode os.FileMode) string {
		p := filepath.Join(dir, "config.toml")
		os.WriteFile(p, []byte(risky), 0o600)
		os.Chmod(p, mode)
		return p
	}
	load := func(t *testing.T, p string) Config {
		c, err := LoadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if os.Geteuid() != 0 {
		// Only root can make the files a trusted config needs.
		c := load(t, write(t, t.TempDir(), 0o644))
		if why := c.Restrict(); !strings.Contains(why, "not by root") || len(c.App.Command) != 0 {
			t.Fatalf("a user's own file: %q %v", why, c.App.Command)
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	trusted := load(t, write(t, dir, 0o644))
	if why := trusted.Restrict(); why != "" || len(trusted.App.Command) != 3 || len(trusted.Kiosk.AdminKeys) != 2 || !trusted.Technician.Act {
		t.Fatalf("root-owned 0644 in a root-owned 0755 directory: %q %+v", why, trusted.App)
	}
	cases := map[string]struct {
		prep func(t *testing.T) string
		want string
	}{
		"world-writable file": {func(t *testing.T) string { d := t.TempDir(); os.Chmod(d, 0o755); return write(t, d, 0o666) },
			"is owned by root but writable by others (mode 0666)"},
		"group-writable file": {func(t *testing.T) string { d := t.TempDir(); os.Chmod(d, 0o755); return write(t, d, 0o664) },
			"writable by others (mode 0664)"},
		"another account's file": {func(t *testing.T) string {
			d := t.TempDir()
			os.Chmod(d, 0o755)
			p := write(t, d, 0o644)
			os.Chown(p, 65534, 65534)
			return p
		}, "is owned by"},
		"a directory others can write": {func(t *testing.T) string {
			d := t.TempDir()
			os.Chmod(d, 0o777)
			return write(t, d, 0o644)
		}, "which others can write (mode 0777)"},
		// A link in a root-only directory to a file where anyone may swap
		// it: judged at the target's directories.
		"a symlink to a file in a directory others can write": {func(t *testing.T) string {
			open := t.TempDir()
			os.Chmod(open, 0o777)
			target := write(t, open, 0o644)
			d := t.TempDir()
			os.Chmod(d, 0o755)
			link := filepath.Join(d, "linked.toml")
			os.Symlink(target, link)
			return link
		}, "which others can write (mode 0777)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := tc.prep(t)
			c := load(t, p)
			why := c.Restrict()
			if !strings.Contains(why, tc.want) || !strings.Contains(why, p) {
				t.Fatalf("restrict: %q, want %q naming %s", why, tc.want, p)
			}
			if len(c.App.Command) != 0 || len(c.Kiosk.AdminKeys) != 0 || c.Technician.Act {
				t.Fatalf("kept from an untrusted file: app %v, keys %v, act %v", c.App.Command, c.Kiosk.AdminKeys, c.Technician.Act)
			}
			if c.VPN.Profile != "NHS-VPN" {
				t.Fatalf("the rest of the file is still used: vpn %q", c.VPN.Profile)
			}
		})
	}
}

// TestAdminKeysAreKeysTheScreenReceives: a sequence that can never be
// typed would leave IT no way out of the kiosk (finding: ["Ctrl+X",
// "F12"], "banana" and "f99" passed config check).
func TestAdminKeysAreKeysTheScreenReceives(t *testing.T) {
	for k, want := range map[string]string{
		"Ctrl+X": `write "ctrl+x"`, "F12": `write "f12"`, "banana": "is not a key", "f99": "is not a key",
		"ctrl+i": "is not a key", "ctrl+": "is not a key", "": "is not a key", " ": "is not a key",
	} {
		if got := CheckKey(k); !strings.Contains(got, want) {
			t.Errorf("%q: %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"ctrl+x", "f12", "f1", "f20", "q", "X", "?", "esc", "enter", "alt+q", "alt+f4", "shift+tab", "space"} {
		if got := CheckKey(k); got != "" {
			t.Errorf("%q refused: %s", k, got)
		}
	}
	// The names are the ones Bubble Tea gives the keys a terminal sends.
	for k, want := range map[tea.Key]string{
		{Code: 'x', Mod: tea.ModCtrl}: "ctrl+x", {Code: tea.KeyF12}: "f12", {Code: 'q', Text: "q"}: "q",
		{Code: 'q', Mod: tea.ModAlt}: "alt+q", {Code: tea.KeyEscape}: "esc", {Code: tea.KeyTab, Mod: tea.ModShift}: "shift+tab",
		{Code: tea.KeyF20}: "f20",
	} {
		if k.String() != want || CheckKey(want) != "" {
			t.Errorf("%+v is %q, want %q accepted", k, k.String(), want)
		}
	}
	_, err := Parse("x.toml", []byte("[kiosk]\nadmin_keys = [\"Ctrl+X\", \"F12\"]\n"))
	if err == nil || !strings.Contains(err.Error(), `x.toml:2: kiosk.admin_keys: "Ctrl+X" is not a key name the screen receives: write "ctrl+x"`) {
		t.Fatalf("parse: %v", err)
	}
}

// TestDurationsNeedUnits: `timeout = 5` was read as 5 ns and reported as
// "5ns is outside …".
func TestDurationsNeedUnits(t *testing.T) {
	_, err := Parse("x.toml", []byte("[probe]\ninterval_active = \"1s\"\n\n[dbus]\ntimeout = 5\n"))
	if err == nil || !strings.Contains(err.Error(), `x.toml:5: dbus.timeout: expected a duration like "30s" or "500ms", found a bare number (5)`) ||
		strings.Contains(err.Error(), "5ns") {
		t.Fatalf("got %v", err)
	}
	if _, err := Parse("x.toml", []byte("[failover]\nred_hold = 2.5\n")); err == nil || !strings.Contains(err.Error(), "failover.red_hold") {
		t.Fatalf("a float: %v", err)
	}
	if _, err := Parse("x.toml", []byte("[dbus]\ntimeout = \"5s\"\n")); err != nil {
		t.Fatal(err)
	}
}

func TestBoundsAreWrittenAsInTheFile(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Hour: "1h", 10 * time.Minute: "10m", 2 * time.Minute: "2m",
		100 * time.Millisecond: "100ms", 5 * time.Second: "5s", 90 * time.Minute: "1h30m"} {
		if got := short(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}
