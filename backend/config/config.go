// Package config loads fieldlink's TOML config file: where it is looked up,
// its defaults, and strict validation that names the file and line of any
// mistake.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/launch"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/probe"
	"github.com/fieldlink/fieldlink/backend/vpn"
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
	Probe      Probe      `toml:"probe" comment:"Reachability checks, bound to each link's interface."`
	Failover   Failover   `toml:"failover"`
	Journal    Journal    `toml:"journal" comment:"The on-device record of sessions, samples, events and visits."`
	VPN        VPN        `toml:"vpn" comment:"The VPN profile to bring up once the path is workable."`
	App        App        `toml:"app" comment:"The clinical application."`
	Agent      Agent      `toml:"agent" comment:"Answering NetworkManager's requests for Wi-Fi keys, 802.1X and VPN passwords at the screen."`
	Kiosk      Kiosk      `toml:"kiosk" comment:"fieldlink --kiosk, on the boot console."`
	Technician Technician `toml:"technician" comment:"A second fieldlink (a technician over SSH) while one is in charge."`
	Sync       Sync       `toml:"sync" comment:"Sending the journal to the fleet server (fieldlink serve) when a workable path is up."`
	Server     Server     `toml:"server" comment:"fieldlink serve: the fleet server."`
}

// VPN configures the VPN keeper.
type VPN struct {
	Profile           string   `toml:"profile" comment:"NetworkManager VPN or WireGuard profile (name or UUID); empty: no VPN."`
	Auto              bool     `toml:"auto" comment:"Bring it up by itself once the path is at least amber with probes passing; false: only on 'c'."`
	ActivationTimeout Duration `toml:"activation_timeout"`
	RetryMin          Duration `toml:"retry_min" comment:"First wait after a failure; doubled each time up to retry_max."`
	RetryMax          Duration `toml:"retry_max"`
}

// App configures the clinical application.
type App struct {
	Name       string            `toml:"name" comment:"What the screen calls it."`
	Command    []string          `toml:"command" comment:"Program and arguments, as a list: no shell is involved."`
	Launch     string            `toml:"launch" comment:"manual ('a' starts it) or on-vpn-up (started when the VPN comes up; with no VPN, when the path is workable)."`
	Terminal   bool              `toml:"terminal" comment:"true: a terminal program, run in place of the screen until it exits; false: a graphical one, started detached."`
	Env        map[string]string `toml:"env" comment:"Environment variables set for it."`
	PassEnv    []string          `toml:"pass_env" comment:"Variables passed on from fieldlink's environment; nothing else is."`
	SecretArgs bool              `toml:"secret_args" comment:"Never write its arguments to the journal or the screen."`
	Dir        string            `toml:"dir" comment:"Working directory; empty: fieldlink's."`
}

// Agent configures the secret agent.
type Agent struct {
	Enabled       bool     `toml:"enabled" comment:"Register with NetworkManager as a secret agent (the instance in charge, with a screen)."`
	PromptTimeout Duration `toml:"prompt_timeout" comment:"How long a prompt waits for an answer (NetworkManager gives up at 2 minutes)."`
}

// Kiosk configures kiosk mode.
type Kiosk struct {
	AdminKeys []string `toml:"admin_keys" comment:"Keys that, pressed in order, quit the kiosk (for IT). Honored only from a root-owned config no one else can write. Empty: no way out."`
}

// Sync is the device's side of the fleet server.
type Sync struct {
	Server    string   `toml:"server" comment:"The fleet server's address (https://fleet.example.nhs.uk:8443); empty: the journal stays on this device."`
	TokenFile string   `toml:"token_file" comment:"The device's upload token ('fieldlink serve enroll' prints it), in a file only root (or fieldlink's account) can read."`
	CAFile    string   `toml:"ca_file" comment:"A CA certificate to trust for the server besides the system's (a trust's own CA)."`
	Interval  Duration `toml:"interval" comment:"How often to send what changed, while a workable path (and the VPN, when one is configured) is up."`
}

// Server is the fleet server's side.
type Server struct {
	DB           string   `toml:"db" comment:"PostgreSQL URL (postgres://user@host/fieldlink); a password is better in ~/.pgpass or PGPASSWORD than here."`
	Listen       string   `toml:"listen" comment:"Address to serve on."`
	TLSCert      string   `toml:"tls_cert" comment:"Certificate (PEM) for HTTPS."`
	TLSKey       string   `toml:"tls_key" comment:"Its private key (PEM)."`
	Refresh      Duration `toml:"refresh" comment:"How often changed days are added to the report's pre-aggregates."`
	AreasRefresh Duration `toml:"areas_refresh" comment:"How often the month pre-aggregates of areas are rebuilt (the costly part)."`
}

// Technician configures observers.
type Technician struct {
	Act bool `toml:"act" comment:"Let an observer ask the instance in charge to (re)connect the VPN. Off: observers change nothing."`
}

// ProbeTarget is one thing the probes try to reach; exactly one of URL,
// TCP or DNS is set.
type ProbeTarget struct {
	URL          string `toml:"url,omitempty" comment:"HTTP(S) GET"`
	ExpectStatus int    `toml:"expect_status,omitempty"`
	ExpectBody   string `toml:"expect_body,omitempty"`
	TCP          string `toml:"tcp,omitempty" comment:"host:port to connect to, such as the clinical system"`
	DNS          string `toml:"dns,omitempty" comment:"a name to resolve"`
	Server       string `toml:"server,omitempty" comment:"the DNS server for dns targets, host:port"`
}

// Probe configures the probes.
type Probe struct {
	Targets         []ProbeTarget `toml:"target"`
	IntervalActive  Duration      `toml:"interval_active" comment:"The link carrying the work, and any link in doubt."`
	IntervalDoubt   Duration      `toml:"interval_doubt" comment:"The link carrying the work while its probes fail (rounds overlap)."`
	IntervalStandby Duration      `toml:"interval_standby" comment:"Other links while they are steady."`
	Timeout         Duration      `toml:"timeout"`
	Reliability     int           `toml:"reliability" comment:"How many targets must answer for a probe to pass."`
	MeteredInterval Duration      `toml:"metered_interval" comment:"Never probe a metered (cellular) link more often than this."`
	MeteredStandby  bool          `toml:"metered_standby" comment:"Probe a metered link even while it only stands by."`
}

// Failover configures failover (see README.md, "Failover").
type Failover struct {
	Down              int      `toml:"down" comment:"Consecutive probe failures that make a link down."`
	RedHold           Duration `toml:"red_hold" comment:"How long a link may stay red (weak, slow) before fieldlink moves off it."`
	FailbackAfter     Duration `toml:"failback_after" comment:"How long a preferred link must be usable before going back to it."`
	MinDwell          Duration `toml:"min_dwell"`
	FlapWindow        Duration `toml:"flap_window"`
	MaxBackoff        Duration `toml:"max_backoff"`
	CellularStandby   string   `toml:"cellular_standby" comment:"cold: bring cellular up on demand; hot: keep it up as a backup."`
	ActivationTimeout Duration `toml:"activation_timeout"`
}

// Journal configures the on-device journal.
type Journal struct {
	Path           string   `toml:"path" comment:"Empty: journal.db in the state directory ($XDG_STATE_HOME/fieldlink, /var/lib/fieldlink for the service)."`
	RetentionDays  int      `toml:"retention_days" comment:"Samples and events older than this are deleted; sessions, visits and daily roll-ups stay."`
	SampleInterval Duration `toml:"sample_interval" comment:"Least spacing of samples of a link whose level has not changed (a level change is sampled at once)."`
	Heartbeat      Duration `toml:"heartbeat" comment:"Longest gap between samples of a steady link."`
	VisitShare     float64  `toml:"visit_share" comment:"A visit is workable when its link was at least amber with probes passing for this share of it (0-1)."`
	DeviceShare    float64  `toml:"device_share" comment:"The headline counts devices with at least this share of workable visits (0-1)."`
	VisitResume    Duration `toml:"visit_resume" comment:"A visit open when fieldlink stopped goes on if fieldlink is back within this; otherwise it is closed at the stop, marked 'fieldlink stopped'."`
	AreaMap        string   `toml:"area_map" comment:"IT's area map (TOML: [[area]] name, cells, ssids, boxes) naming the places of the screen, journal and reports; relative to this file. Empty: codes only."`
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
	WiFi    Percent      `toml:"wifi"`
	LTE     LTE          `toml:"lte"`
	NR      LTE          `toml:"nr"`
	UMTS    UMTS         `toml:"umts"`
	GSM     GSM          `toml:"gsm"`
	Quality Percent      `toml:"quality" comment:"Modem.SignalQuality, used when the modem gives no detailed figures."`
	Probe   ProbeQuality `toml:"probe"`
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

// ProbeQuality bounds probe quality.
type ProbeQuality struct {
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
		Probe: Probe{
			Targets: []ProbeTarget{{URL: "http://nmcheck.gnome.org/check_network_status.txt", ExpectStatus: 200,
				ExpectBody: "NetworkManager is online"}},
			IntervalActive: Duration(time.Second), IntervalDoubt: Duration(500 * time.Millisecond), IntervalStandby: Duration(10 * time.Second),
			Timeout: Duration(time.Second), Reliability: 1, MeteredInterval: Duration(5 * time.Second),
		},
		Failover: Failover{Down: 3, RedHold: Duration(10 * time.Second), FailbackAfter: Duration(30 * time.Second),
			MinDwell: Duration(10 * time.Second), FlapWindow: Duration(10 * time.Minute), MaxBackoff: Duration(10 * time.Minute),
			CellularStandby: "cold", ActivationTimeout: Duration(45 * time.Second)},
		DBus: DBus{Timeout: Duration(2 * time.Second)},
		Journal: Journal{RetentionDays: 400, SampleInterval: Duration(10 * time.Second), Heartbeat: Duration(time.Minute),
			VisitShare: 0.8, DeviceShare: 0.85, VisitResume: Duration(15 * time.Minute)},
		Cellular: Cellular{SignalRate: Duration(5 * time.Second), Location: true, Providers: "/usr/share/mobile-broadband-provider-info/serviceproviders.xml"},
		Links:    Links{Prefer: []string{"ethernet", "wifi", "cellular"}},
		VPN: VPN{Auto: true, ActivationTimeout: Duration(60 * time.Second), RetryMin: Duration(10 * time.Second),
			RetryMax: Duration(5 * time.Minute)},
		App: App{Launch: "manual", Terminal: true,
			PassEnv: []string{"HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TERM", "PATH", "DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR"}},
		Agent: Agent{Enabled: true, PromptTimeout: Duration(90 * time.Second)},
		Sync:  Sync{Interval: Duration(15 * time.Minute), TokenFile: "/etc/fieldlink/sync.token"},
		Server: Server{Listen: ":8443", Refresh: Duration(30 * time.Second), AreasRefresh: Duration(10 * time.Minute),
			DB: "postgres:///fieldlink?host=/run/postgresql"},
		Thresholds: Thresholds{
			WiFi:    Percent{t.WiFi.Green, t.WiFi.Amber},
			LTE:     lte(t.LTE),
			NR:      lte(t.NR),
			UMTS:    UMTS{t.UMTS.RSCPGreen, t.UMTS.RSCPAmber, t.UMTS.EcIoGreen},
			GSM:     GSM{t.GSM.RSSIAmber},
			Quality: Percent{t.Quality.Green, t.Quality.Amber},
			Probe: ProbeQuality{Duration(t.Probe.FailRTT), Duration(t.Probe.RecoverRTT),
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

// FieldError is a problem with one key of the config.
type FieldError struct {
	Key string // dotted, as written in the file: "thresholds.wifi.green_pct"
	Msg string
}

func (e FieldError) Error() string { return e.Key + ": " + e.Msg }

// Validate checks values that TOML types alone cannot, section by section.
func (c *Config) Validate() []FieldError {
	v := &validator{}
	c.validateLinks(v)
	c.validateThresholds(v)
	c.validateProbe(v)
	c.validateJournal(v)
	c.validateFailover(v)
	c.validateSystem(v)
	c.validateWork(v)
	c.validateScreen(v)
	c.validateFleet(v)
	return v.errs
}

// validateFleet checks the fleet server's addresses and intervals.
func (c *Config) validateFleet(v *validator) {
	if s := c.Sync.Server; s != "" {
		u, err := url.Parse(s)
		switch {
		case err != nil || u.Host == "":
			v.bad("sync.server", "%q: want https://host[:port]", s)
		case u.Scheme == "http" && u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1":
			v.bad("sync.server", "%q: plain http sends the journal readable on the way; use https (http only to this machine)", s)
		case u.Scheme != "https" && u.Scheme != "http":
			v.bad("sync.server", "%q: want https://host[:port]", s)
		}
	}
	v.within("sync.interval", c.Sync.Interval, time.Minute, 24*time.Hour)
	v.within("server.refresh", c.Server.Refresh, time.Second, time.Hour)
	v.within("server.areas_refresh", c.Server.AreasRefresh, time.Second, 24*time.Hour)
	if (c.Server.TLSCert == "") != (c.Server.TLSKey == "") {
		v.bad("server.tls_cert", "give both tls_cert and tls_key, or neither")
	}
}

// validator collects field errors and holds the checks sections share.
type validator struct{ errs []FieldError }

func (v *validator) bad(key, format string, a ...any) {
	v.errs = append(v.errs, FieldError{key, fmt.Sprintf(format, a...)})
}

// order checks that a green bound is not below its amber bound.
func (v *validator) order(key, greenName, amberName string, green, amber float64) {
	if green < amber {
		v.bad(key+"."+greenName, "green bound %g is below the amber bound %s = %g", green, amberName, amber)
	}
}

func (v *validator) pct(key string, x float64) {
	if x < 0 || x > 100 {
		v.bad(key, "%g is outside 0–100", x)
	}
}

// within checks a duration against its bounds.
func (v *validator) within(key string, d Duration, lo, hi time.Duration) {
	if d.D() < lo || d.D() > hi {
		v.bad(key, "%s is outside %s…%s", d.D(), short(lo), short(hi))
	}
}

// short writes a bound as a config file would ("1h", not "1h0m0s").
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "h0m0s") {
		return strings.TrimSuffix(s, "0m0s")
	}
	if strings.HasSuffix(s, "m0s") {
		return strings.TrimSuffix(s, "0s")
	}
	return s
}

// validateLinks checks the preference order: kinds or interface names,
// each once.
func (c *Config) validateLinks(v *validator) {
	seen := map[netstate.Kind]bool{}
	seenID := map[string]bool{}
	for _, s := range c.Links.Prefer {
		k, err := netstate.ParseKind(s)
		if err != nil {
			// Not a kind: an interface name ("veth0") is allowed, to rank
			// two links of one kind.
			if !isIfaceName(s) {
				v.bad("links.prefer", "%q is neither a link kind (ethernet, wifi, cellular) nor an interface name", s)
			} else if seenID[s] {
				v.bad("links.prefer", "%q is listed twice", s)
			}
			seenID[s] = true
			continue
		}
		if seen[k] {
			v.bad("links.prefer", "%q is listed twice", s)
		}
		seen[k] = true
	}
	if len(c.Links.Prefer) == 0 {
		v.bad("links.prefer", "must list at least one kind")
	}
}

// validateThresholds checks that every green bound is at or above its
// amber bound and that shares are percentages.
func (c *Config) validateThresholds(v *validator) {
	t := c.Thresholds
	for _, p := range []struct {
		key string
		b   Percent
	}{{"thresholds.wifi", t.WiFi}, {"thresholds.quality", t.Quality}} {
		v.order(p.key, "green_pct", "amber_pct", p.b.GreenPct, p.b.AmberPct)
		v.pct(p.key+".green_pct", p.b.GreenPct)
		v.pct(p.key+".amber_pct", p.b.AmberPct)
	}
	for _, p := range []struct {
		key string
		b   LTE
	}{{"thresholds.lte", t.LTE}, {"thresholds.nr", t.NR}} {
		v.order(p.key, "rsrp_green_dbm", "rsrp_amber_dbm", p.b.RSRPGreenDBm, p.b.RSRPAmberDBm)
		v.order(p.key, "sinr_green_db", "sinr_amber_db", p.b.SINRGreenDB, p.b.SINRAmberDB)
		v.order(p.key, "rsrq_green_db", "rsrq_amber_db", p.b.RSRQGreenDB, p.b.RSRQAmberDB)
	}
	v.order("thresholds.umts", "rscp_green_dbm", "rscp_amber_dbm", t.UMTS.RSCPGreenDBm, t.UMTS.RSCPAmberDBm)
	if t.Probe.FailRTT < t.Probe.RecoverRTT {
		v.bad("thresholds.probe.fail_rtt", "%s is below recover_rtt = %s", t.Probe.FailRTT.D(), t.Probe.RecoverRTT.D())
	}
	if t.Probe.FailLossPct < t.Probe.RecoverLossPct {
		v.bad("thresholds.probe.fail_loss_pct", "%g is below recover_loss_pct = %g", t.Probe.FailLossPct, t.Probe.RecoverLossPct)
	}
	v.pct("thresholds.probe.fail_loss_pct", t.Probe.FailLossPct)
	v.pct("thresholds.probe.recover_loss_pct", t.Probe.RecoverLossPct)
}

// validateProbe checks the targets (one kind each, well formed), how many
// must answer, and the intervals.
func (c *Config) validateProbe(v *validator) {
	for i, t := range c.Probe.Targets {
		key := fmt.Sprintf("probe.target[%d]", i)
		n := 0
		for _, s := range []string{t.URL, t.TCP, t.DNS} {
			if s != "" {
				n++
			}
		}
		switch {
		case n != 1:
			v.bad(key, "set exactly one of url, tcp or dns")
		case t.URL != "" && !strings.HasPrefix(t.URL, "http://") && !strings.HasPrefix(t.URL, "https://"):
			v.bad(key+".url", "%q is not an http:// or https:// URL", t.URL)
		case t.TCP != "" && !hostPort(t.TCP):
			v.bad(key+".tcp", "%q is not host:port", t.TCP)
		case t.DNS != "" && !hostPort(t.Server):
			v.bad(key+".server", "dns targets need a server as host:port")
		}
	}
	if len(c.Probe.Targets) == 0 {
		v.bad("probe.target", "at least one probe target is needed")
	}
	if c.Probe.Reliability < 1 || c.Probe.Reliability > len(c.Probe.Targets) {
		v.bad("probe.reliability", "%d is outside 1…%d (the number of targets)", c.Probe.Reliability, len(c.Probe.Targets))
	}
	p := c.Probe
	for _, d := range []struct {
		key string
		d   Duration
	}{{"probe.interval_active", p.IntervalActive}, {"probe.interval_doubt", p.IntervalDoubt},
		{"probe.interval_standby", p.IntervalStandby}, {"probe.timeout", p.Timeout}, {"probe.metered_interval", p.MeteredInterval}} {
		v.within(d.key, d.d, 100*time.Millisecond, time.Hour)
	}
}

// validateJournal checks retention, sampling and the report's shares.
func (c *Config) validateJournal(v *validator) {
	jn := c.Journal
	if jn.RetentionDays < 1 || jn.RetentionDays > 3650 {
		v.bad("journal.retention_days", "%d is outside 1…3650", jn.RetentionDays)
	}
	v.within("journal.sample_interval", jn.SampleInterval, time.Second, time.Hour)
	if jn.Heartbeat < jn.SampleInterval || jn.Heartbeat.D() > time.Hour {
		v.bad("journal.heartbeat", "%s is outside sample_interval…1h", jn.Heartbeat.D())
	}
	v.within("journal.visit_resume", jn.VisitResume, time.Minute, 24*time.Hour)
	for _, s := range []struct {
		key string
		v   float64
	}{{"journal.visit_share", jn.VisitShare}, {"journal.device_share", jn.DeviceShare}} {
		if s.v <= 0 || s.v > 1 {
			v.bad(s.key, "%g is outside 0…1 (a share: 0.8 is 80%%)", s.v)
		}
	}
}

// validateFailover checks the failover policy.
func (c *Config) validateFailover(v *validator) {
	f := c.Failover
	if f.Down < 1 || f.Down > 100 {
		v.bad("failover.down", "%d is outside 1…100", f.Down)
	}
	if f.CellularStandby != "cold" && f.CellularStandby != "hot" {
		v.bad("failover.cellular_standby", "want cold or hot, got %q", f.CellularStandby)
	}
	for _, d := range []struct {
		key string
		d   Duration
	}{{"failover.red_hold", f.RedHold}, {"failover.failback_after", f.FailbackAfter}, {"failover.min_dwell", f.MinDwell},
		{"failover.flap_window", f.FlapWindow}, {"failover.max_backoff", f.MaxBackoff}, {"failover.activation_timeout", f.ActivationTimeout}} {
		if d.d.D() > 24*time.Hour {
			v.bad(d.key, "%s is longer than a day", d.d.D())
		}
	}
}

// validateSystem checks how fieldlink talks to the daemons and the modem.
func (c *Config) validateSystem(v *validator) {
	v.within("dbus.timeout", c.DBus.Timeout, 100*time.Millisecond, time.Minute)
	v.within("cellular.signal_rate", c.Cellular.SignalRate, time.Second, time.Hour)
	if strings.ContainsAny(c.Cellular.APN, " \t\"'") || len(c.Cellular.APN) > 100 {
		v.bad("cellular.apn", "%q is not an APN", c.Cellular.APN)
	}
}

// validateWork checks the VPN and the clinical application.
func (c *Config) validateWork(v *validator) {
	vp := c.VPN
	if strings.ContainsAny(vp.Profile, "\n\r\x00") || len(vp.Profile) > 200 {
		v.bad("vpn.profile", "%q is not a profile name", vp.Profile)
	}
	v.within("vpn.activation_timeout", vp.ActivationTimeout, time.Second, 10*time.Minute)
	if vp.RetryMin.D() < time.Second || vp.RetryMax < vp.RetryMin || vp.RetryMax.D() > time.Hour {
		v.bad("vpn.retry_min", "want 1s ≤ retry_min ≤ retry_max ≤ 1h, got %s and %s", vp.RetryMin.D(), vp.RetryMax.D())
	}
	a := c.App
	if a.Launch != "manual" && a.Launch != "on-vpn-up" {
		v.bad("app.launch", "want manual or on-vpn-up, got %q", a.Launch)
	}
	if len(a.Command) > 0 && strings.TrimSpace(a.Command[0]) == "" {
		v.bad("app.command", "the program (the first item) is empty")
	}
	if len(a.Command) == 1 && strings.ContainsAny(a.Command[0], " \t") && !strings.Contains(a.Command[0], "/") {
		v.bad("app.command", "%q has spaces: give the program and each argument as separate items (no shell is used)", a.Command[0])
	}
	if a.Launch == "on-vpn-up" && len(a.Command) == 0 {
		v.bad("app.launch", "on-vpn-up with no app.command")
	}
	for k := range a.Env {
		if !envName.MatchString(k) {
			v.bad("app.env", "%q is not an environment variable name", k)
		}
	}
	for _, k := range a.PassEnv {
		if !envName.MatchString(k) {
			v.bad("app.pass_env", "%q is not an environment variable name", k)
		}
	}
}

// validateScreen checks the prompts and the kiosk's way out.
func (c *Config) validateScreen(v *validator) {
	v.within("agent.prompt_timeout", c.Agent.PromptTimeout, 5*time.Second, 2*time.Minute)
	if n := len(c.Kiosk.AdminKeys); n == 1 || n > 16 {
		v.bad("kiosk.admin_keys", "want 2 to 16 keys (one key alone is too easy to press by accident), got %d", n)
	}
	for _, k := range c.Kiosk.AdminKeys {
		if why := CheckKey(k); why != "" {
			v.bad("kiosk.admin_keys", "%s", why)
		}
	}
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// VPNPolicy is the VPN keeper's policy.
func (c *Config) VPNPolicy() vpn.Policy {
	v := c.VPN
	return vpn.Policy{Profile: v.Profile, Auto: v.Auto, ActivationTimeout: v.ActivationTimeout.D(),
		RetryMin: v.RetryMin.D(), RetryMax: v.RetryMax.D()}
}

// AppSpec is the clinical application as the launcher takes it.
func (c *Config) AppSpec() launch.Spec {
	a := c.App
	return launch.Spec{Name: c.AppName(), Command: a.Command, Terminal: a.Terminal, Env: a.Env, PassEnv: a.PassEnv,
		SecretArgs: a.SecretArgs, Dir: a.Dir, Launch: a.Launch}
}

// AppName is what the screen calls the clinical application.
func (c *Config) AppName() string {
	if c.App.Name != "" {
		return c.App.Name
	}
	if len(c.App.Command) > 0 {
		return filepath.Base(c.App.Command[0])
	}
	return ""
}

// SystemPath is the device's config file.
const SystemPath = "/etc/fieldlink/config.toml"

// Candidates lists where a config is looked for, in order, when no --config
// is given. A system process (root, the kiosk) reads only the device's
// file: XDG_CONFIG_HOME is one account's setting and may point anywhere.
func Candidates(system bool) []string {
	if system {
		return []string{SystemPath}
	}
	var out []string
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		out = append(out, filepath.Join(x, "fieldlink", "config.toml"))
	} else if h, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(h, ".config", "fieldlink", "config.toml"))
	}
	return append(out, SystemPath)
}

// Load reads the config at explicit if given (it must exist), else the first
// candidate that exists, else returns the defaults.
func Load(explicit string) (Config, error) { return LoadFor(explicit, false) }

// LoadFor is Load for a system process (root, the kiosk) when system is
// true: see Candidates.
func LoadFor(explicit string, system bool) (Config, error) {
	if explicit != "" {
		return LoadFile(explicit)
	}
	for _, p := range Candidates(system) {
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
	if err := checkDurations(name, b); err != nil {
		return Config{}, err
	}
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

// isIfaceName accepts what Linux accepts as an interface name, closely
// enough to catch a typo (a regexp would cost every start of fieldlink).
func isIfaceName(s string) bool {
	if len(s) == 0 || len(s) > 15 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.:-", r)) {
			return false
		}
	}
	return true
}

func hostPort(s string) bool {
	h, p, err := net.SplitHostPort(s)
	return err == nil && h != "" && p != ""
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

// FailoverPolicy converts the failover section.
func (c *Config) FailoverPolicy() failover.Policy {
	f := c.Failover
	p := failover.Policy{Prefer: append([]string(nil), c.Links.Prefer...), Down: f.Down, RedHold: f.RedHold.D(),
		FailbackAfter: f.FailbackAfter.D(), MinDwell: f.MinDwell.D(), FlapWindow: f.FlapWindow.D(), MaxBackoff: f.MaxBackoff.D(),
		ActivationTimeout: f.ActivationTimeout.D()}
	if f.CellularStandby == "hot" {
		p.Standby = failover.Hot
	}
	return p
}

// ProbeConfig converts the probe section.
func (c *Config) ProbeConfig() probe.Config {
	p := c.Probe
	out := probe.Config{Active: p.IntervalActive.D(), Doubt: p.IntervalDoubt.D(), Standby: p.IntervalStandby.D(), Timeout: p.Timeout.D(),
		Reliability: p.Reliability, MeteredInterval: p.MeteredInterval.D(), MeteredStandby: p.MeteredStandby,
		RecoverRTT: c.Thresholds.Probe.RecoverRTT.D(), RecoverLoss: c.Thresholds.Probe.RecoverLossPct / 100}
	for _, t := range p.Targets {
		switch {
		case t.URL != "":
			out.Targets = append(out.Targets, probe.Target{Kind: probe.HTTP, Address: t.URL, ExpectStatus: t.ExpectStatus, ExpectBody: t.ExpectBody})
		case t.TCP != "":
			out.Targets = append(out.Targets, probe.Target{Kind: probe.TCP, Address: t.TCP})
		case t.DNS != "":
			out.Targets = append(out.Targets, probe.Target{Kind: probe.DNS, Address: t.DNS, Server: t.Server})
		}
	}
	return out
}
