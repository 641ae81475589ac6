package netstate

import (
	"fmt"
	"strings"
	"time"
)

// Thresholds are the green/amber bounds of ../shared/THRESHOLDS.md. A value
// at or above a Green bound is green, at or above an Amber bound amber,
// anything lower red.
type Thresholds struct {
	WiFi    PercentBounds
	LTE     LTEBounds
	NR      LTEBounds
	UMTS    UMTSBounds
	GSM     GSMBounds
	Quality PercentBounds
	Probe   ProbeBounds
}

// PercentBounds bound a 0–100 figure.
type PercentBounds struct {
	Green, Amber float64
}

// LTEBounds bound LTE and 5G NR figures; Android takes the worst of them.
type LTEBounds struct {
	RSRPGreen, RSRPAmber float64
	SINRGreen, SINRAmber float64
	RSRQGreen, RSRQAmber float64
}

// UMTSBounds bound 3G figures; Ec/Io only gates green.
type UMTSBounds struct {
	RSCPGreen, RSCPAmber float64
	EcIoGreen            float64
}

// GSMBounds bound 2G, which is never green: too slow for a VPN and a
// clinical application.
type GSMBounds struct {
	RSSIAmber float64
}

// ProbeBounds are the probe quality bounds, with hysteresis: a probe between
// the recover and fail bounds is amber.
type ProbeBounds struct {
	FailRTT, RecoverRTT   time.Duration
	FailLoss, RecoverLoss float64 // fractions, 0–1
}

// DefaultThresholds returns the defaults documented in THRESHOLDS.md.
func DefaultThresholds() Thresholds {
	lte := LTEBounds{RSRPGreen: -108, RSRPAmber: -118, SINRGreen: 5, SINRAmber: 1, RSRQGreen: -14, RSRQAmber: -17}
	return Thresholds{
		WiFi:    PercentBounds{Green: 56, Amber: 38},
		LTE:     lte,
		NR:      lte,
		UMTS:    UMTSBounds{RSCPGreen: -95, RSCPAmber: -105, EcIoGreen: -10},
		GSM:     GSMBounds{RSSIAmber: -103},
		Quality: PercentBounds{Green: 60, Amber: 35},
		Probe:   ProbeBounds{FailRTT: time.Second, RecoverRTT: 500 * time.Millisecond, FailLoss: 0.40, RecoverLoss: 0.10},
	}
}

// verdict is a level with the words that explain it.
type verdict struct {
	level  Level
	reason string
}

// worse keeps the first-seen reason among equally bad verdicts, so the most
// telling figure (checked first) names the problem.
func (v verdict) worse(o verdict) verdict {
	if o.level == LevelUnknown {
		return v
	}
	if v.level == LevelUnknown || o.level < v.level {
		return o
	}
	return v
}

func bound(v, green, amber float64) Level {
	switch {
	case v >= green:
		return LevelGreen
	case v >= amber:
		return LevelAmber
	}
	return LevelRed
}

// WiFiLevel is the level of a Wi-Fi signal strength (0-100 %) alone, as a
// network in a scan list is judged before it is joined.
func (t Thresholds) WiFiLevel(pct float64) Level { return bound(pct, t.WiFi.Green, t.WiFi.Amber) }

// Radio classifies the radio figures of a link alone. Wired links have no
// radio and return LevelUnknown.
func Radio(l *Link, t Thresholds) (Level, string) {
	v := radio(l, t)
	return v.level, v.reason
}

func radio(l *Link, t Thresholds) verdict {
	switch l.Kind {
	case KindWiFi:
		s := l.Signal.Strength
		if !s.OK {
			return verdict{}
		}
		switch bound(s.V, t.WiFi.Green, t.WiFi.Amber) {
		case LevelGreen:
			return verdict{LevelGreen, fmt.Sprintf("Wi-Fi %s%%", s)}
		case LevelAmber:
			return verdict{LevelAmber, fmt.Sprintf("Wi-Fi weak: %s%%", s)}
		}
		return verdict{LevelRed, fmt.Sprintf("Wi-Fi too weak: %s%%", s)}
	case KindCellular:
		return cellRadio(l, t)
	}
	return verdict{}
}

func cellRadio(l *Link, t Thresholds) verdict {
	// Not registered: whatever figures remain are a cell the modem has
	// left.
	switch l.Cell.Registration {
	case RegSearching, RegIdle:
		return verdict{LevelRed, "no network: searching"}
	case RegDenied:
		return verdict{LevelRed, "registration denied"}
	}
	sig := l.Signal
	tech := l.Cell.Tech
	gen := tech.Generation()
	if gen == "" {
		gen = "Cellular"
	}
	lteLike := tech == TechLTE || tech == Tech5GNR || (tech == TechUnknown && sig.RSRP.OK)
	umtsLike := (tech >= TechUMTS && tech <= TechHSPAPlus) || (tech == TechUnknown && sig.RSCP.OK)
	gsmLike := tech >= TechGSM && tech <= TechEDGE

	metric := func(name string, f Figure, unit string, green, amber float64) verdict {
		if !f.OK {
			return verdict{}
		}
		lv := bound(f.V, green, amber)
		switch lv {
		case LevelGreen:
			return verdict{lv, fmt.Sprintf("%s %s %s %s", gen, name, f, unit)}
		case LevelAmber:
			return verdict{lv, fmt.Sprintf("%s weak: %s %s %s", gen, name, f, unit)}
		}
		return verdict{lv, fmt.Sprintf("%s too weak: %s %s %s", gen, name, f, unit)}
	}

	var v verdict
	switch {
	case lteLike && (sig.RSRP.OK || sig.SINR.OK || sig.RSRQ.OK):
		b := t.LTE
		if tech == Tech5GNR {
			b = t.NR
		}
		v = v.worse(metric("RSRP", sig.RSRP, "dBm", b.RSRPGreen, b.RSRPAmber))
		v = v.worse(metric("SINR", sig.SINR, "dB", b.SINRGreen, b.SINRAmber))
		v = v.worse(metric("RSRQ", sig.RSRQ, "dB", b.RSRQGreen, b.RSRQAmber))
		return v
	case umtsLike && sig.RSCP.OK:
		v = metric("RSCP", sig.RSCP, "dBm", t.UMTS.RSCPGreen, t.UMTS.RSCPAmber)
		if sig.EcIo.OK && sig.EcIo.V < t.UMTS.EcIoGreen && v.level == LevelGreen {
			v = verdict{LevelAmber, fmt.Sprintf("3G weak: Ec/Io %s dB", sig.EcIo)}
		}
		return v
	case gsmLike:
		if sig.RSSI.OK && sig.RSSI.V < t.GSM.RSSIAmber {
			return verdict{LevelRed, fmt.Sprintf("2G too weak: RSSI %s dBm", sig.RSSI)}
		}
		return verdict{LevelAmber, fmt.Sprintf("2G only (%s): too slow for work", tech.Label())}
	}
	if sig.Quality.OK && sig.QualityCached {
		// ModemManager 1.20 can stop refreshing it (after a registration
		// flap): a cached 0 % is not the radio's word.
		return verdict{LevelAmber, fmt.Sprintf("%s signal not known: ModemManager's figure (%s%%) is cached", gen, sig.Quality)}
	}
	if sig.Quality.OK {
		q := sig.Quality
		switch bound(q.V, t.Quality.Green, t.Quality.Amber) {
		case LevelGreen:
			return verdict{LevelGreen, fmt.Sprintf("%s signal %s%%", gen, q)}
		case LevelAmber:
			return verdict{LevelAmber, fmt.Sprintf("%s weak: signal %s%%", gen, q)}
		}
		return verdict{LevelRed, fmt.Sprintf("%s too weak: signal %s%%", gen, q)}
	}
	return verdict{}
}

// Classify says whether work can go over a link now, and why. It follows
// THRESHOLDS.md: the worst of the present figures; a failing probe or a
// sign-in page is red whatever the radio says; a link with no probe success
// is never green.
func Classify(l *Link, t Thresholds) (Level, string) {
	v := classify(l, t)
	return v.level, v.reason
}

func classify(l *Link, t Thresholds) verdict {
	if l.State != StateConnected {
		return notConnected(l)
	}
	if l.Kind == KindVPN && l.Probe.IsZero() {
		// A tunnel is not probed itself: it is as good as the path under
		// it, which the light shows.
		return verdict{LevelGreen, "tunnel up"}
	}
	if l.Carrier == No {
		return verdict{LevelRed, "no carrier"}
	}
	if l.Connectivity == ConnPortal || l.Probe.Portal {
		return verdict{LevelRed, "sign-in page"}
	}
	if l.Kind == KindCellular {
		switch l.Cell.Registration {
		case RegSearching, RegIdle:
			return verdict{LevelRed, "no network: searching"}
		case RegDenied:
			return verdict{LevelRed, "registration denied"}
		case RegEmergency:
			return verdict{LevelRed, "emergency calls only"}
		}
	}
	if l.Probe.OK == No {
		r := l.Probe.Reason
		if r == "" {
			r = "probe failed"
		}
		return verdict{LevelRed, "no internet: " + r}
	}
	if l.Probe.OK == Unknown && (l.Connectivity == ConnNone || l.Connectivity == ConnLimited) {
		return verdict{LevelRed, "no internet (" + l.Connectivity.String() + " connectivity)"}
	}

	v := radio(l, t)
	if v.level == LevelUnknown {
		v = verdict{LevelGreen, "connected"}
		if l.Kind == KindEthernet {
			v.reason = "cable connected"
		}
	}
	v = v.worse(probeQuality(l.Probe, t.Probe))
	if v.level == LevelGreen && l.Probe.OK != Yes && l.Connectivity != ConnFull {
		// Without a probe success we cannot promise the work will get through.
		v = verdict{LevelAmber, v.reason + ", internet not checked yet"}
	}
	if v.level == LevelGreen && l.Probe.RTT.OK {
		v.reason += fmt.Sprintf(", probe %s ms", l.Probe.RTT)
	}
	return v
}

func probeQuality(p Probe, b ProbeBounds) verdict {
	if p.OK != Yes {
		return verdict{}
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	v := verdict{level: LevelGreen}
	if p.RTT.OK {
		switch {
		case p.RTT.V >= ms(b.FailRTT):
			v = v.worse(verdict{LevelRed, fmt.Sprintf("internet too slow: %s ms", p.RTT)})
		case p.RTT.V > ms(b.RecoverRTT):
			v = v.worse(verdict{LevelAmber, fmt.Sprintf("internet slow: %s ms", p.RTT)})
		}
	}
	if p.Loss.OK {
		loss := p.Loss.V / 100
		switch {
		case loss >= b.FailLoss:
			v = v.worse(verdict{LevelRed, fmt.Sprintf("packet loss %s%%", p.Loss)})
		case loss > b.RecoverLoss:
			v = v.worse(verdict{LevelAmber, fmt.Sprintf("packet loss %s%%", p.Loss)})
		}
	}
	if v.level == LevelGreen {
		return verdict{}
	}
	return v
}

func notConnected(l *Link) verdict {
	if l.Kind == KindEthernet && l.Carrier == No {
		return verdict{LevelRed, "no carrier"}
	}
	if l.Kind == KindCellular {
		switch {
		case l.Cell.Lock == "sim-pin":
			return verdict{LevelRed, "SIM locked: it needs its PIN"}
		case l.Cell.Lock == "sim-puk":
			return verdict{LevelRed, "SIM blocked: it needs its PUK code from IT"}
		case l.Cell.Registration == RegSearching || l.Cell.Registration == RegIdle:
			return verdict{LevelRed, "no network: searching"}
		case l.Cell.Registration == RegDenied:
			return verdict{LevelRed, "registration denied"}
		case l.Cell.FailedReason != "":
			return verdict{LevelRed, "modem failed: " + l.Cell.FailedReason}
		}
	}
	switch l.State {
	case StateUnmanaged:
		return verdict{LevelUnknown, "not managed by NetworkManager"}
	case StateUnavailable:
		if l.Kind == KindWiFi {
			return verdict{LevelRed, "no Wi-Fi network"}
		}
		return verdict{LevelRed, "unavailable"}
	case StateConnecting:
		return verdict{LevelRed, "connecting"}
	case StateDisconnecting:
		return verdict{LevelRed, "disconnecting"}
	case StateFailed:
		r := "connection failed"
		if l.StateReason != "" {
			r += ": " + l.StateReason
		}
		return verdict{LevelRed, r}
	case StateUnknown:
		return verdict{LevelUnknown, "state unknown"}
	}
	return verdict{LevelRed, "not connected"}
}

// Apply classifies every link of a snapshot in place and fills in the
// snapshot's own level, reason and path.
func Apply(s *Snapshot, t Thresholds) {
	for i := range s.Links {
		l := &s.Links[i]
		l.Radio, _ = Radio(l, t)
		l.Level, l.Reason = Classify(l, t)
	}
	Summarize(s)
}

// Summarize sets the traffic light and path of a snapshot from its primary
// link; links must already be classified.
func Summarize(s *Snapshot) {
	if svc := s.Service("NetworkManager"); svc != nil && !svc.Running {
		// While it restarts the kernel keeps the route it left: the work
		// goes on over it, unwatched, so at best MARGINAL.
		if p := s.PrimaryLink(); p != nil && svc.Note != "" {
			s.Level, s.Path = min(p.Level, LevelAmber), Describe(p)
			s.Reason = "NetworkManager is " + svc.Note + ": the links as it last reported them"
			return
		}
		s.Level, s.Reason, s.Path = LevelRed, "NetworkManager is not running", "No connection"
		return
	}
	p := s.PrimaryLink()
	if p == nil {
		s.Level, s.Path = LevelRed, "No connection"
		s.Reason = "no working connection"
		if len(s.Links) == 0 {
			s.Reason = "no network devices"
		}
		return
	}
	s.Level, s.Reason, s.Path = p.Level, p.Reason, Describe(p)
}

// Describe is the one-line path a clinician reads: "Wi-Fi NHS-Community 72%
// via wlan0", "Cellular EE 4G via wwan0 (roaming)".
func Describe(l *Link) string {
	parts := []string{l.Kind.Label()}
	switch l.Kind {
	case KindWiFi:
		if l.WiFi.SSID != "" {
			parts = append(parts, l.WiFi.SSID)
		}
		if l.Signal.Strength.OK {
			parts = append(parts, l.Signal.Strength.String()+"%")
		}
	case KindCellular:
		if l.Cell.Operator != "" {
			parts = append(parts, l.Cell.Operator)
		}
		if g := l.Cell.Tech.Generation(); g != "" {
			parts = append(parts, g)
		}
	case KindEthernet, KindVPN, KindOther:
		if l.Profile != "" {
			parts = append(parts, l.Profile)
		}
	}
	if l.Interface != "" {
		parts = append(parts, "via", l.Interface)
	}
	s := strings.Join(parts, " ")
	if l.Kind == KindCellular && l.Cell.Roaming() {
		s += " (roaming)"
	}
	return s
}
