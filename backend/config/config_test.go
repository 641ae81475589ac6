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
	if p := c.Preference(); len(p) != 3 || p[0] != netstate.KindEthernet || p[2] != netstate.KindCellular {
		t.Fatalf("preference %v", p)
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
	if p := c.Preference(); len(p) != 2 || p[0] != netstate.KindWiFi {
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
		{"[links]\nprefer = [\"wifi\", \"carrier-pigeon\"]\n", `site.toml:2: links.prefer: unknown link kind "carrier-pigeon"`},
		{"[links]\nprefer = [\"wifi\", \"wlan\"]\n", `"wlan" is listed twice`},
		{"[thresholds.quality]\namber_pct = -5\ngreen_pct = 150\n", "site.toml:3: thresholds.quality.green_pct: 150 is outside 0–100"},
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
