package netstate

// The one table of words fieldlink says about a verdict or a state. The
// TUI, `status`, the reports and the manual use these and no others, so a
// nurse who learnt "STANDBY" on the screen meets the same word in the
// report; vocabulary_test.go at the top of the tree greps every
// user-facing string against this table.

// The three verdicts, and the word for not knowing yet.
const (
	WordGo           = "GO"
	WordMarginal     = "MARGINAL"
	WordDoNotProceed = "DO NOT PROCEED"
	WordNoData       = "NO DATA"
)

// The states of a link, the VPN and the clinical application. A connected
// link or an up VPN says its verdict instead: one word per row.
const (
	WordConnecting = "CONNECTING"
	WordStopping   = "STOPPING"
	WordStandby    = "STANDBY"
	WordDown       = "DOWN"
	WordFailed     = "FAILED"
	WordUnmanaged  = "UNMANAGED"
	WordRunning    = "RUNNING"
	WordStopped    = "STOPPED"
	WordClosed     = "CLOSED"
	WordNotStarted = "NOT STARTED"
)

// Verdicts lists the verdict words, worst known first.
var Verdicts = []string{WordDoNotProceed, WordMarginal, WordGo, WordNoData}

// States lists the state words.
var States = []string{WordConnecting, WordStopping, WordStandby, WordDown, WordFailed, WordUnmanaged,
	WordRunning, WordStopped, WordClosed, WordNotStarted}

// Capitals lists the other words written in capitals on a screen or in a
// report: marks, headings and the technical abbreviations a technician
// reads. Anything else in capitals is a new verdict or state in disguise.
var Capitals = []string{
	"DEMO", "OBSERVER", "READ ONLY", "VISIT", "LINKS", "EVENTS", "DETAILS", "REPORTS", "HELP", "VPN", "APP",
	"LINK", "KIND", "STATE", "CARRIER", "SIGNAL", "NETWORK", "PROBE", "REASON", "TIME", "VERDICT",
	"SIM", "PIN", "PUK", "APN", "SSID", "BSSID", "RSRP", "RSRQ", "RSSI", "RSCP", "SINR", "SNR", "LTE", "UMTS", "GSM",
	"NR", "MCC", "MNC", "PLMN", "TAC", "LAC", "CI", "IMEI", "IMSI", "ICCID", "DNS", "DHCP", "IP", "IPV", "TCP", "UDP",
	"HTTP", "HTTPS", "URL", "UTC", "ID", "IT", "NHS", "EE", "GPS", "JSON", "CSV", "NDJSON", "TOML", "HTML", "SVG",
	"TERM", "NO_COLOR", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "HOME", "PATH", "SSH", "TLS", "CA", "PEM", "MTU",
	"WPA", "WEP", "PEAP", "TTLS", "MSCHAPV", "PAP", "EAP", "PSK", "ASCII", "UTF", "OTP", "UUID", "PID", "TUI",
	"NAME", "FILE", "COMMAND", "FLAGS", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "ENVIRONMENT", "FILES",
	"EXAMPLES", "EXIT STATUS", "SEE ALSO", "BUGS", "AUTHORS", "OK", "RTT", "LAN", "WAN", "USB", "GB", "MB", "KB",
	"KEYS", "WHAT THE LIGHT MEANS", "REPORTED", "RECENT SESSIONS", "NETWORKMANAGER ASKS", "DEAD ZONE", "REFUSED",
	"GROUP", "DEVICE", "HOSTNAME", "LAST UPLOAD", "LAST AREA", "PASSWORD", "THE", "GPRS", "EDGE", "HSPA", "CDMA", "EVDO", "AT",
	"QMI", "MBIM", "PPP", "PKI", "HSTS", "RFC", "ISO", "JIT", "GET", "POST", "EOF", "MST", "SIGTERM", "SIGKILL",
	"SIGINT", "SIGHUP", "LANG", "USER", "LOGNAME", "DISPLAY", "README", "DOCTYPE", "SQL", "CPU", "RAM", "NM", "MM",
	"FIELDLINK", "PGPASSFILE", "PGPASSWORD", "NETWORKS IN RANGE", "JOIN", "BT",
}

// LinkWord is the one word a row says about l, and the level it is
// colored with. path is the level of the path under a VPN (unknown for
// other links): a tunnel is no better than what it runs over.
func LinkWord(l *Link, path Level) (string, Level) {
	switch l.State {
	case StateConnected:
		lv := l.Level
		if l.Kind == KindVPN && path != LevelUnknown {
			lv = Worse(lv, path)
		}
		return lv.Word(), lv
	case StateConnecting:
		return WordConnecting, LevelAmber
	case StateDisconnecting:
		return WordStopping, LevelAmber
	case StateDisconnected:
		if l.Level == LevelRed && l.Reason != "not connected" {
			return WordDown, LevelRed
		}
		return WordStandby, LevelUnknown
	case StateUnmanaged, StateUnknown:
		return WordUnmanaged, LevelUnknown
	}
	return WordDown, LevelRed
}

// VPNWord is the one word for the VPN, given the level of the path it runs
// over; the VPN's line and its row in the links list both say it.
func VPNWord(v VPNStatus, path Level) (string, Level) {
	switch v.Phase {
	case VPNUp:
		lv := LevelGreen
		if path != LevelUnknown {
			lv = Worse(lv, path)
		}
		return lv.Word(), lv
	case VPNConnecting:
		return WordConnecting, LevelAmber
	case VPNRetrying, VPNHeld:
		return WordFailed, LevelRed
	}
	return WordStandby, LevelUnknown
}

// TunnelPath is the level of the path the VPN runs over: the link it goes
// via (else the light), no better than the tunnel's own level.
func (s *Snapshot) TunnelPath(v VPNStatus) Level {
	path := s.Level
	if l := s.Link(v.Via); l != nil {
		path = l.Level
	}
	for i := range s.Links {
		if l := &s.Links[i]; l.Kind == KindVPN && l.State == StateConnected {
			path = Worse(path, l.Level)
		}
	}
	return path
}

// RowWord is the one word for link l of s; v is the VPN's status (zero
// when no VPN is configured), which words a VPN link as the VPN line does.
func (s *Snapshot) RowWord(l *Link, v VPNStatus) (string, Level) {
	if l.Kind == KindVPN && (v.Phase != "" || v.Profile != "") {
		return VPNWord(v, s.TunnelPath(v))
	}
	return LinkWord(l, LevelUnknown)
}
