// Package config loads fieldlink's TOML config file: where it is looked up,
// its defaults, and strict validation that names the file and line of any
// mistake.
package config

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/join"
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
	// opened is the file LoadFile read, as it was when read: its real
	// path (symlinks resolved) and what fstat said of the very file read.
	opened *openedFile

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
	WiFi       WiFi       `toml:"wifi" comment:"Joining a Wi-Fi network from the screen (w): who may, and which networks."`
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
	Enabled       bool     `toml:"enabled" comment:"Register with NetworkManager as the device's secret agent (the instance in charge); its prompts go to the screens that may act."`
	PromptTimeout Duration `toml:"prompt_timeout" comment:"How long a prompt waits for an answer (NetworkManager gives up at 2 minutes)."`
	RememberVPN   bool     `toml:"remember_vpn_login" comment:"Keep the VPN password or key passphrase typed at the start of the day, in memory only, to re-make the VPN after a failover without asking again. A screen lock, a refusal by the server or day_ends forgets it; one-time codes are never kept."`
	DayEnds       Clock    `toml:"day_ends" comment:"Local time the working day ends: a remembered VPN log-in is forgotten then."`
	RememberMax   Duration `toml:"remember_max" comment:"The longest one remembered log-in lasts, whenever it was typed."`
}

// Clock is a local time of day written "HH:MM".
type Clock time.Duration

// UnmarshalText reads "HH:MM" (00:00 to 23:59).
func (c *Clock) UnmarshalText(b []byte) error {
	t, err := time.Parse("15:04", string(b))
	if err != nil {
		return fmt.Errorf("%q is not a time of day like 20:00", b)
	}
	*c = Clock(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute)
	return nil
}

// MarshalText writes "HH:MM".
func (c Clock) MarshalText() ([]byte, error) {
	d := time.Duration(c)
	return []byte(fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60)), nil
}

// D is the time of day as the time since midnight.
func (c Clock) D() time.Duration { return time.Duration(c) }

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
	DB      string   `toml:"db" comment:"PostgreSQL URL (postgres://user@host/fieldlink); a password is better in ~/.pgpass or PGPASSWORD than here."`
	Listen  string   `toml:"listen" comment:"Address to serve on."`
	TLSCert string   `toml:"tls_cert" comment:"Certificate (PEM) for HTTPS."`
	TLSKey  string   `toml:"tls_key" comment:"Its private key (PEM)."`
	Refresh Duration `toml:"refresh" comment:"The longest an upload waits to be summed into the report (each upload is summed within a second or two of it anyway)."`
	// AreasRefresh is read from older configs and no longer used: the
	// months of areas are summed at every refresh (from the fleet's day
	// rows, cheap since they exist).
	AreasRefresh Duration `toml:"areas_refresh" comment:"No longer used: areas are summed at every refresh."`
	// BehindTLSProxy marks sessions Secure and sends HSTS while serving
	// plain HTTP to a proxy that speaks TLS to the browsers.
	BehindTLSProxy bool `toml:"behind_tls_proxy" comment:"Serving plain HTTP (--insecure-http) behind a proxy that speaks HTTPS to the browsers: sign-in cookies are marked Secure and HSTS is sent."`
}

// WiFi is IT's policy for joining networks from the screen.
type WiFi struct {
	Join  string   `toml:"join" comment:"Who may join a network: everyone (any account that may act), technicians (root and the fieldlink-tech group, never from the kiosk) or nobody."`
	Allow []string `toml:"allow_ssids" comment:"The only networks that may be joined (a trailing * matches the start of a name); empty: any."`
}

// JoinPolicy is the policy for joining networks.
func (c Config) JoinPolicy() join.Policy { return join.Policy{Who: c.WiFi.Join, SSIDs: c.WiFi.Allow} }

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
	IntervalDoubt   Duration      `toml:"interval_doubt" comment:"The link carrying the work while its traffic goes unanswered or its probes fail (rounds overlap)."`
	IntervalActive  Duration      `toml:"interval_active" comment:"The link carrying the work while slow or lossy; a preferred link proving itself for fail-back."`
	IntervalIdle    Duration      `toml:"interval_idle" comment:"Longest the link carrying the work goes unchecked; its own traffic answered is a check."`
	MeteredInterval Duration      `toml:"metered_interval" comment:"interval_idle on a metered link (cellular, or metered_profiles)."`
	IntervalStandby Duration      `toml:"interval_standby" comment:"Other links while they are steady."`
	Timeout         Duration      `toml:"timeout"`
	Reliability     int           `toml:"reliability" comment:"How many targets must answer for a probe to pass."`
	MeteredStandby  bool          `toml:"metered_standby" comment:"Probe a healthy metered backup at interval_standby; otherwise only when the link carrying the work is in doubt."`
	TrafficSample   Duration      `toml:"traffic_sample" comment:"How often the traffic of the link carrying the work is read for evidence; \"0s\": never (probe by the clock alone)."`
	// MeteredProfiles and UnmeteredProfiles override NetworkManager's
	// Metered guess for the named profiles (a cellular SIM on an
	// unlimited plan; a Wi-Fi hotspot on a phone).
	MeteredProfiles   []string `toml:"metered_profiles" comment:"Profiles to treat as metered whatever NetworkManager guesses (a phone's hotspot)."`
	UnmeteredProfiles []string `toml:"unmetered_profiles" comment:"Profiles to treat as unmetered (a SIM on an unlimited plan)."`
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
			IntervalDoubt: Duration(250 * time.Millisecond), IntervalActive: Duration(10 * time.Second), IntervalIdle: Duration(time.Minute),
			MeteredInterval: Duration(5 * time.Minute), IntervalStandby: Duration(10 * time.Minute),
			Timeout: Duration(time.Second), Reliability: 1, TrafficSample: Duration(time.Second),
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
		Agent: Agent{Enabled: true, PromptTimeout: Duration(90 * time.Second), RememberVPN: true,
			DayEnds: Clock(20 * time.Hour), RememberMax: Duration(14 * time.Hour)},
		WiFi: WiFi{Join: join.Everyone},
		Sync: Sync{Interval: Duration(15 * time.Minute), TokenFile: "/etc/fieldlink/sync.token"},
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

// MeteredProfiles is IT's word on which profiles are metered (true) or
// not (false), over NetworkManager's guess.
func (c *Config) MeteredProfiles() map[string]bool {
	out := map[string]bool{}
	for _, p := range c.Probe.MeteredProfiles {
		out[p] = true
	}
	for _, p := range c.Probe.UnmeteredProfiles {
		out[p] = false
	}
	return out
}

// ProbeConfig converts the probe section.
func (c *Config) ProbeConfig() probe.Config {
	p := c.Probe
	out := probe.Config{Doubt: p.IntervalDoubt.D(), Active: p.IntervalActive.D(), Idle: p.IntervalIdle.D(), MeteredIdle: p.MeteredInterval.D(),
		Standby: p.IntervalStandby.D(), Timeout: p.Timeout.D(), Reliability: p.Reliability, MeteredStandby: p.MeteredStandby,
		RecoverRTT: c.Thresholds.Probe.RecoverRTT.D(), RecoverLoss: c.Thresholds.Probe.RecoverLossPct / 100,
		Down: c.Failover.Down, Sample: p.TrafficSample.D()}
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
