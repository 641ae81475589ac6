package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

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
	}{{"probe.interval_active", p.IntervalActive}, {"probe.interval_doubt", p.IntervalDoubt}, {"probe.interval_idle", p.IntervalIdle},
		{"probe.interval_standby", p.IntervalStandby}, {"probe.timeout", p.Timeout}, {"probe.metered_interval", p.MeteredInterval}} {
		v.within(d.key, d.d, 100*time.Millisecond, 24*time.Hour)
	}
	if p.TrafficSample != 0 {
		v.within("probe.traffic_sample", p.TrafficSample, 100*time.Millisecond, time.Minute)
	}
	for _, name := range p.MeteredProfiles {
		if slices.Contains(p.UnmeteredProfiles, name) {
			v.bad("probe.unmetered_profiles", "%q is in metered_profiles too", name)
		}
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

// validateScreen checks the prompts, the kiosk's way out and joining
// networks.
func (c *Config) validateScreen(v *validator) {
	if !join.ValidWho(c.WiFi.Join) {
		v.bad("wifi.join", "want everyone, technicians or nobody, got %q", c.WiFi.Join)
	}
	for _, s := range c.WiFi.Allow {
		if s == "" || s == "*" || len(s) > 33 || strings.ContainsAny(s, "\x00\n\r") {
			v.bad("wifi.allow_ssids", "%q is not a network name (1 to 32 bytes; a lone * would allow any)", s)
		}
	}
	v.within("agent.prompt_timeout", c.Agent.PromptTimeout, 5*time.Second, 2*time.Minute)
	v.within("agent.remember_max", c.Agent.RememberMax, time.Minute, 24*time.Hour)
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
