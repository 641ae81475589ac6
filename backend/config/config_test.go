package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
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
	if p := c.ProbeConfig(); len(p.Targets) != 1 || p.Active != time.Second || p.Standby != 10*time.Second {
		t.Fatalf("probe config %+v", p)
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

func TestAdminKeysOnlyFromARootOwnedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(p, []byte("[kiosk]\nadmin_keys = [\"ctrl+x\", \"q\"]\n"), 0o644)
	c, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	keys, why := c.TrustedAdminKeys()
	if os.Geteuid() == 0 {
		if len(keys) != 2 || why != "" {
			t.Fatalf("root-owned 0644: %v %q", keys, why)
		}
	} else if keys != nil || !strings.Contains(why, "must be owned by root") {
		t.Fatalf("user-owned: %v %q", keys, why)
	}
	os.Chmod(p, 0o666)
	if keys, why := c.TrustedAdminKeys(); keys != nil || !strings.Contains(why, "writable by nobody else") {
		t.Fatalf("world-writable: %v %q", keys, why)
	}
}
