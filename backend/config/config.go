// Package config loads fieldlink's TOML config file: where it is looked up,
// its defaults, and strict validation that names the file and line of any
// mistake.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Config is the whole config file. Every field has a default; an empty or
// missing file is a valid config.
type Config struct {
	// Path is where the config came from ("" for built-in defaults).
	Path string `toml:"-"`

	Links      Links      `toml:"links" comment:"Which links to prefer."`
	Thresholds Thresholds `toml:"thresholds" comment:"Green/amber bounds (see THRESHOLDS.md). At or above green is GO, at or above amber is MARGINAL, below is DO NOT PROCEED."`
	UI         UI         `toml:"ui"`
	DBus       DBus       `toml:"dbus"`
	Cellular   Cellular   `toml:"cellular"`
}

// DBus tunes the connection to NetworkManager and ModemManager.
type DBus struct {
	Timeout Duration `toml:"timeout" comment:"Longest wait for any D-Bus call."`
}

// Cellular tunes the modem.
type Cellular struct {
	SignalRate Duration `toml:"signal_rate" comment:"How often ModemManager refreshes RSRP, SINR and friends."`
	Location   bool     `toml:"location" comment:"Report the serving cell (LAC/TAC and cell ID): the 'area' of the reports."`
	GPS        bool     `toml:"gps" comment:"Also report the GPS position, where the modem has GPS."`
	APN        string   `toml:"apn" comment:"APN for a mobile profile fieldlink creates; empty: look it up in mobile-broadband-provider-info by the SIM."`
	Providers  string   `toml:"providers" comment:"The mobile-broadband-provider-info database."`
}

// Links says which kinds of link to prefer, best first.
type Links struct {
	Prefer []string `toml:"prefer" comment:"Preference order, best first: ethernet, wifi, cellular."`
}

// UI holds display settings.
type UI struct {
	ASCII bool `toml:"ascii" comment:"Force ASCII glyphs (automatic on TERM=linux or a non-UTF-8 locale)."`
}

// Thresholds mirror netstate.Thresholds with units in the key names.
type Thresholds struct {
	WiFi    Percent `toml:"wifi"`
	LTE     LTE     `toml:"lte"`
	NR      LTE     `toml:"nr"`
	UMTS    UMTS    `toml:"umts"`
	GSM     GSM     `toml:"gsm"`
	Quality Percent `toml:"quality" comment:"Modem.SignalQuality, used when the modem gives no detailed figures."`
	Probe   Probe   `toml:"probe"`
}

// Percent bounds a 0–100 figure.
type Percent struct {
	GreenPct float64 `toml:"green_pct"`
	AmberPct float64 `toml:"amber_pct"`
}

// LTE bounds LTE and 5G NR figures.
type LTE struct {
	RSRPGreenDBm float64 `toml:"rsrp_green_dbm"`
	RSRPAmberDBm float64 `toml:"rsrp_amber_dbm"`
	SINRGreenDB  float64 `toml:"sinr_green_db"`
	SINRAmberDB  float64 `toml:"sinr_amber_db"`
	RSRQGreenDB  float64 `toml:"rsrq_green_db"`
	RSRQAmberDB  float64 `toml:"rsrq_amber_db"`
}

// UMTS bounds 3G figures.
type UMTS struct {
	RSCPGreenDBm float64 `toml:"rscp_green_dbm"`
	RSCPAmberDBm float64 `toml:"rscp_amber_dbm"`
	EcIoGreenDB  float64 `toml:"ecio_green_db"`
}

// GSM bounds 2G, which is never green.
type GSM struct {
	RSSIAmberDBm float64 `toml:"rssi_amber_dbm"`
}

// Probe bounds probe quality.
type Probe struct {
	FailRTT        Duration `toml:"fail_rtt"`
	RecoverRTT     Duration `toml:"recover_rtt"`
	FailLossPct    float64  `toml:"fail_loss_pct"`
	RecoverLossPct float64  `toml:"recover_loss_pct"`
}

// Duration is a time.Duration written as "500ms" or "30s" in the file.
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (write it like \"500ms\", \"30s\" or \"2m\")", b)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration the way it is read.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Default returns the built-in configuration.
func Default() Config {
	t := netstate.DefaultThresholds()
	lte := func(b netstate.LTEBounds) LTE {
		return LTE{b.RSRPGreen, b.RSRPAmber, b.SINRGreen, b.SINRAmber, b.RSRQGreen, b.RSRQAmber}
	}
	return Config{
		DBus:     DBus{Timeout: Duration(2 * time.Second)},
		Cellular: Cellular{SignalRate: Duration(5 * time.Second), Location: true, Providers: "/usr/share/mobile-broadband-provider-info/serviceproviders.xml"},
		Links:    Links{Prefer: []string{"ethernet", "wifi", "cellular"}},
		Thresholds: Thresholds{
			WiFi:    Percent{t.WiFi.Green, t.WiFi.Amber},
			LTE:     lte(t.LTE),
			NR:      lte(t.NR),
			UMTS:    UMTS{t.UMTS.RSCPGreen, t.UMTS.RSCPAmber, t.UMTS.EcIoGreen},
			GSM:     GSM{t.GSM.RSSIAmber},
			Quality: Percent{t.Quality.Green, t.Quality.Amber},
			Probe: Probe{Duration(t.Probe.FailRTT), Duration(t.Probe.RecoverRTT),
				t.Probe.FailLoss * 100, t.Probe.RecoverLoss * 100},
		},
	}
}

// NetThresholds converts the config's thresholds to the domain type.
func (c *Config) NetThresholds() netstate.Thresholds {
	t := c.Thresholds
	lte := func(b LTE) netstate.LTEBounds {
		return netstate.LTEBounds{RSRPGreen: b.RSRPGreenDBm, RSRPAmber: b.RSRPAmberDBm, SINRGreen: b.SINRGreenDB,
			SINRAmber: b.SINRAmberDB, RSRQGreen: b.RSRQGreenDB, RSRQAmber: b.RSRQAmberDB}
	}
	return netstate.Thresholds{
		WiFi:    netstate.PercentBounds{Green: t.WiFi.GreenPct, Amber: t.WiFi.AmberPct},
		LTE:     lte(t.LTE),
		NR:      lte(t.NR),
		UMTS:    netstate.UMTSBounds{RSCPGreen: t.UMTS.RSCPGreenDBm, RSCPAmber: t.UMTS.RSCPAmberDBm, EcIoGreen: t.UMTS.EcIoGreenDB},
		GSM:     netstate.GSMBounds{RSSIAmber: t.GSM.RSSIAmberDBm},
		Quality: netstate.PercentBounds{Green: t.Quality.GreenPct, Amber: t.Quality.AmberPct},
		Probe: netstate.ProbeBounds{FailRTT: t.Probe.FailRTT.D(), RecoverRTT: t.Probe.RecoverRTT.D(),
			FailLoss: t.Probe.FailLossPct / 100, RecoverLoss: t.Probe.RecoverLossPct / 100},
	}
}

// Preference returns the link kinds in preference order.
func (c *Config) Preference() []netstate.Kind {
	out := make([]netstate.Kind, 0, len(c.Links.Prefer))
	for _, s := range c.Links.Prefer {
		k, err := netstate.ParseKind(s)
		if err == nil {
			out = append(out, k)
		}
	}
	return out
}

// FieldError is a problem with one key of the config.
type FieldError struct {
	Key string // dotted, as written in the file: "thresholds.wifi.green_pct"
	Msg string
}

func (e FieldError) Error() string { return e.Key + ": " + e.Msg }

// Validate checks values that TOML types alone cannot.
func (c *Config) Validate() []FieldError {
	var errs []FieldError
	bad := func(key, format string, a ...any) { errs = append(errs, FieldError{key, fmt.Sprintf(format, a...)}) }
	seen := map[netstate.Kind]bool{}
	for _, s := range c.Links.Prefer {
		k, err := netstate.ParseKind(s)
		if err != nil {
			bad("links.prefer", "%v", err)
			continue
		}
		if seen[k] {
			bad("links.prefer", "%q is listed twice", s)
		}
		seen[k] = true
	}
	if len(c.Links.Prefer) == 0 {
		bad("links.prefer", "must list at least one kind")
	}
	order := func(key, greenName, amberName string, green, amber float64) {
		if green < amber {
			bad(key+"."+greenName, "green bound %g is below the amber bound %s = %g", green, amberName, amber)
		}
	}
	pct := func(key string, v float64) {
		if v < 0 || v > 100 {
			bad(key, "%g is outside 0–100", v)
		}
	}
	t := c.Thresholds
	for _, p := range []struct {
		key string
		b   Percent
	}{{"thresholds.wifi", t.WiFi}, {"thresholds.quality", t.Quality}} {
		order(p.key, "green_pct", "amber_pct", p.b.GreenPct, p.b.AmberPct)
		pct(p.key+".green_pct", p.b.GreenPct)
		pct(p.key+".amber_pct", p.b.AmberPct)
	}
	for _, p := range []struct {
		key string
		b   LTE
	}{{"thresholds.lte", t.LTE}, {"thresholds.nr", t.NR}} {
		order(p.key, "rsrp_green_dbm", "rsrp_amber_dbm", p.b.RSRPGreenDBm, p.b.RSRPAmberDBm)
		order(p.key, "sinr_green_db", "sinr_amber_db", p.b.SINRGreenDB, p.b.SINRAmberDB)
		order(p.key, "rsrq_green_db", "rsrq_amber_db", p.b.RSRQGreenDB, p.b.RSRQAmberDB)
	}
	order("thresholds.umts", "rscp_green_dbm", "rscp_amber_dbm", t.UMTS.RSCPGreenDBm, t.UMTS.RSCPAmberDBm)
	if t.Probe.FailRTT < t.Probe.RecoverRTT {
		bad("thresholds.probe.fail_rtt", "%s is below recover_rtt = %s", t.Probe.FailRTT.D(), t.Probe.RecoverRTT.D())
	}
	if t.Probe.FailLossPct < t.Probe.RecoverLossPct {
		bad("thresholds.probe.fail_loss_pct", "%g is below recover_loss_pct = %g", t.Probe.FailLossPct, t.Probe.RecoverLossPct)
	}
	if c.DBus.Timeout.D() < 100*time.Millisecond || c.DBus.Timeout.D() > time.Minute {
		bad("dbus.timeout", "%s is outside 100ms…1m", c.DBus.Timeout.D())
	}
	if r := c.Cellular.SignalRate.D(); r < time.Second || r > time.Hour {
		bad("cellular.signal_rate", "%s is outside 1s…1h", r)
	}
	if strings.ContainsAny(c.Cellular.APN, " \t\"'") || len(c.Cellular.APN) > 100 {
		bad("cellular.apn", "%q is not an APN", c.Cellular.APN)
	}
	pct("thresholds.probe.fail_loss_pct", t.Probe.FailLossPct)
	pct("thresholds.probe.recover_loss_pct", t.Probe.RecoverLossPct)
	return errs
}

// Candidates lists where a config is looked for, in order, when no --config
// is given.
func Candidates() []string {
	var out []string
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		out = append(out, filepath.Join(x, "fieldlink", "config.toml"))
	} else if h, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(h, ".config", "fieldlink", "config.toml"))
	}
	return append(out, "/etc/fieldlink/config.toml")
}

// Load reads the config at explicit if given (it must exist), else the first
// candidate that exists, else returns the defaults.
func Load(explicit string) (Config, error) {
	if explicit != "" {
		return LoadFile(explicit)
	}
	for _, p := range Candidates() {
		if _, err := os.Stat(p); err == nil {
			return LoadFile(p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return Config{}, fmt.Errorf("%s: %w", p, err)
		}
	}
	return Default(), nil
}

// LoadFile reads one config file.
func LoadFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(path, b)
	if err != nil {
		return Config{}, err
	}
	return c, nil
}

// Parse decodes a config document on top of the defaults. name is used in
// error messages ("/etc/fieldlink/config.toml:12: ...").
func Parse(name string, b []byte) (Config, error) {
	c := Default()
	c.Links.Prefer = nil
	dec := toml.NewDecoder(bytes.NewReader(b)).DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, describe(name, err)
	}
	if c.Links.Prefer == nil {
		c.Links.Prefer = Default().Links.Prefer
	}
	c.Path = name
	if errs := c.Validate(); len(errs) > 0 {
		lines := make([]string, len(errs))
		for i, e := range errs {
			if row := keyLine(b, e.Key); row > 0 {
				lines[i] = fmt.Sprintf("%s:%d: %s", name, row, e)
			} else {
				lines[i] = fmt.Sprintf("%s: %s", name, e)
			}
		}
		return Config{}, errors.New(strings.Join(lines, "\n"))
	}
	return c, nil
}

// describe turns go-toml's errors into "file:line:col: message" lines.
func describe(name string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var lines []string
		for _, e := range strict.Errors {
			row, col := e.Position()
			lines = append(lines, fmt.Sprintf("%s:%d:%d: unknown key %q", name, row, col, strings.Join(e.Key(), ".")))
		}
		return errors.New(strings.Join(lines, "\n"))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := plainTypeError(strings.TrimPrefix(de.Error(), "toml: "))
		if k := de.Key(); len(k) > 0 {
			msg = fmt.Sprintf("%s: %s", strings.Join(k, "."), msg)
		}
		return fmt.Errorf("%s:%d:%d: %s", name, row, col, msg)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Effective renders the config as TOML, with every default filled in, for
// `fieldlink config check`.
func (c *Config) Effective() (string, error) {
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	enc.SetIndentTables(true)
	if err := enc.Encode(c); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// typeErrorRE is compiled on first use: config errors are rare, and every
// start of fieldlink (status in a script loop) would pay for it.
var typeErrorRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^cannot decode TOML (\w+) into struct field \S+ of type (\S+)$`)
})

// plainTypeError rewords go-toml's Go-typed message for someone editing a
// config file: "expected a number, found a string".
func plainTypeError(msg string) string {
	m := typeErrorRE().FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := map[string]string{"float64": "a number", "int": "a whole number", "bool": "true or false",
		"string": "a quoted string", "[]string": "a list of strings like [\"a\", \"b\"]",
		"config.Duration": "a duration like \"30s\""}[m[2]]
	if want == "" {
		want = m[2]
	}
	return fmt.Sprintf("expected %s, found a TOML %s", want, m[1])
}

// keyLine finds the line that sets a dotted key, following [table] headers,
// so that a semantic error points at the line to fix. It returns 0 when the
// key is not written in the file (a default is wrong only if code is).
func keyLine(doc []byte, dotted string) int {
	table := ""
	for i, line := range strings.Split(string(doc), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "[") && !strings.HasPrefix(l, "[[") {
			table = strings.Trim(strings.TrimSpace(strings.SplitN(l, "#", 2)[0]), "[] ")
			continue
		}
		k, _, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		full := strings.Trim(strings.TrimSpace(k), `"'`)
		if table != "" {
			full = table + "." + full
		}
		if full == dotted {
			return i + 1
		}
	}
	return 0
}
