package journal

import (
	"database/sql"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// openSession is a link's connection being recorded.
type openSession struct {
	uuid, link, kind, network, mcc, mnc string
	day                                 int64
	start                               time.Time
	connect                             time.Duration // -1 when not seen
	ident                               string
	// the state since the last observation, and when that was
	lastT                   time.Time
	level                   netstate.Level
	inUse, workable, usable bool
	area                    string
	gen                     int // the radio generation (2 to 5; 0: not cellular, or unknown)
	green, amber, red       time.Duration
	inUseD, workableD       time.Duration
	// usableD is the connected time the link was workable, whether or not
	// it carried the work.
	usableD time.Duration
	areas   map[string]*areaAcc
	// sampling
	sampled              bool
	sampleT              time.Time
	sampleLevel          netstate.Level
	sampleInUse          bool
	sampleArea           string
	sampleTech           string // as last written
	sampleWhere          string // area and cell as last written
	sampleFig            figures
	samples, probes, pOK int64
	hSignal, hSINR       Hist
	hStrength, hRSRP     Hist
	hRSCP, hRTT          Hist
}

type areaAcc struct {
	conn, green, amber, red, workable, usable, inUse time.Duration
	hSignal                                          Hist
	// hTech is the connected time by radio generation: milliseconds in
	// bins 2 to 5 (2G to 5G).
	hTech Hist
}

func newAreaAcc() *areaAcc { return &areaAcc{hSignal: Hist{}, hTech: Hist{}} }

// generations are the radio generations of the technologies' labels, as
// sessions and samples write them.
var generations = func() map[string]int {
	m := map[string]int{}
	for t := netstate.TechGSM; t <= netstate.Tech5GNR; t++ {
		if g := t.Generation(); g != "" {
			m[t.Label()] = int(g[0] - '0')
		}
	}
	return m
}()

// creditTech adds dt at generation gen (none: 0) to an area's time.
func (a *areaAcc) creditTech(gen int, dt time.Duration) {
	if gen > 0 {
		a.hTech[gen] += dt.Milliseconds()
	}
}

type figures struct {
	strength, rsrp, rsrq, sinr, rscp, rtt netstate.Figure
	probe                                 netstate.Tristate
}

func figuresOf(l *netstate.Link) figures {
	return figures{l.Signal.Strength, l.Signal.RSRP, l.Signal.RSRQ, l.Signal.SINR, l.Signal.RSCP, l.Probe.RTT, l.Probe.OK}
}

// moved reports figures that changed enough to be worth a sample before
// the heartbeat.
func moved(a, b figures) bool {
	d := func(x, y netstate.Figure, by float64) bool {
		return x.OK != y.OK || (x.OK && math.Abs(x.V-y.V) >= by)
	}
	return a.probe != b.probe || d(a.strength, b.strength, 5) || d(a.rsrp, b.rsrp, 3) || d(a.sinr, b.sinr, 3) ||
		d(a.rscp, b.rscp, 3) || d(a.rtt, b.rtt, 50)
}

// identity is what makes a new session when it changes: the link's kind
// and the network it is on.
func identity(l *netstate.Link) (network, mcc, mnc string) {
	switch l.Kind {
	case netstate.KindWiFi:
		return l.WiFi.SSID, "", ""
	case netstate.KindCellular:
		return l.Cell.Operator, l.Cell.MCC, l.Cell.MNC
	}
	return l.Profile, "", ""
}

func cellOf(l *netstate.Link, area string) string {
	if l.Cell.CellID != "" && !strings.Contains(area, " cell ") {
		return " cell " + l.Cell.CellID
	}
	return ""
}

// placeCode is where the device is, for its visit: the modems' place, else
// the place of the link carrying the work (a Wi-Fi network's name), else
// "unknown area".
func (r *Recorder) placeCode(snap *netstate.Snapshot, where areas.Place) string {
	if code := r.opt.Areas.Code(where); code != "" {
		return code
	}
	if p := snap.PrimaryLink(); p != nil {
		return r.opt.Areas.CodeOf(p, where)
	}
	return "unknown area"
}

func (r *Recorder) observe(in input) {
	now := in.now
	snap := &in.snap
	r.lastSeen = now
	where := areas.Where(snap)
	seen := map[string]bool{}
	for i := range snap.Links {
		l := &snap.Links[i]
		if l.Kind == netstate.KindVPN {
			continue
		}
		seen[l.ID] = true
		s := r.open[l.ID]
		if l.State != netstate.StateConnected {
			delete(r.nameless, l.ID)
			if l.State == netstate.StateConnecting {
				if _, ok := r.connecting[l.ID]; !ok {
					r.connecting[l.ID] = now
				}
			} else {
				delete(r.connecting, l.ID)
			}
			if s != nil {
				why := l.State.String()
				if l.Carrier == netstate.No {
					why = "carrier lost"
				}
				r.closeSession(s, now, why)
			}
			continue
		}
		network, mcc, mnc := identity(l)
		if network == "" {
			// NetworkManager names a link's connection a moment after it
			// says the link is up: wait for the name rather than journal a
			// nameless session ("Wired ") that lasts a few milliseconds.
			since, waiting := r.nameless[l.ID]
			if !waiting {
				r.nameless[l.ID] = now
				continue
			}
			if now.Sub(since) < namelessWait {
				continue
			}
			network = l.Interface
			if network == "" {
				network = l.ID
			}
		}
		delete(r.nameless, l.ID)
		ident := l.Kind.String() + "|" + network + "|" + mcc + "-" + mnc
		if s != nil && s.ident != ident {
			r.closeSession(s, now, "network changed")
			s = nil
		}
		area := r.opt.Areas.CodeOf(l, where)
		if s == nil {
			s = r.openSession(l, now, ident, network, mcc, mnc, area)
		}
		r.advance(s, now)
		if r.visit != nil {
			r.visit.found(s)
		}
		s.level, s.inUse, s.workable, s.area = l.Level, snap.Primary == l.ID, snap.Primary == l.ID && l.Workable(), area
		s.gen = 0
		if l.Kind == netstate.KindCellular {
			s.gen = generations[l.Cell.Tech.Label()]
		}
		s.usable = l.Workable()
		r.maybeSample(s, l, now)
	}
	for id, s := range r.open {
		if !seen[id] {
			r.advance(s, now)
			r.closeSession(s, now, "link removed")
		}
	}
	r.place = r.placeCode(snap, where)
	if r.visit != nil {
		r.visit.advance(now)
		p := snap.PrimaryLink()
		r.visit.workable = p != nil && p.Workable() && (snap.Service("NetworkManager") == nil || snap.Service("NetworkManager").Running)
		r.visit.place = r.place
	}
	for _, ev := range in.events {
		// A level change is already a sample (every change is sampled at
		// once); journaling it twice would be a sixth of a day's bytes.
		if ev.Kind == netstate.EventLevel {
			continue
		}
		if ev.Kind == netstate.EventPrompt {
			r.vpnPrompt(ev.Time)
		}
		r.queue = append(r.queue, opEvent{dev: r.dev(), ev: ev})
	}
}

func (r *Recorder) openSession(l *netstate.Link, now time.Time, ident, network, mcc, mnc, area string) *openSession {
	s := &openSession{uuid: uuid.NewString(), link: l.ID, kind: l.Kind.String(), network: network, mcc: mcc, mnc: mnc,
		day: dayOf(now), start: now, connect: -1, ident: ident, lastT: now, areas: map[string]*areaAcc{},
		hSignal: Hist{}, hSINR: Hist{}, hStrength: Hist{}, hRSRP: Hist{}, hRSCP: Hist{}, hRTT: Hist{}}
	if t, ok := r.connecting[l.ID]; ok {
		s.connect = now.Sub(t)
		delete(r.connecting, l.ID)
	}
	r.open[l.ID] = s
	tech := ""
	if l.Kind == netstate.KindCellular {
		tech = l.Cell.Tech.Label()
	}
	r.queue = append(r.queue, opOpen{
		uuid: s.uuid, dev: r.dev(), link: l.ID, kind: s.kind, iface: l.Interface, profile: l.Profile,
		network: network, mcc: mcc, mnc: mnc, tech: tech, roaming: l.Cell.Roaming(),
		area: area + cellOf(l, area), start: now,
	})
	return s
}

// advance credits the time since the last observation to the state the
// session was in.
func (r *Recorder) advance(s *openSession, now time.Time) {
	prev := s.lastT
	dt := now.Sub(prev)
	if dt <= 0 {
		return // time only moves on: an earlier instant credits nothing
	}
	s.lastT = now
	if s.level == netstate.LevelUnknown && s.area == "" {
		return
	}
	addLevel(s.level, dt, &s.green, &s.amber, &s.red)
	if s.inUse {
		s.inUseD += dt
	}
	if s.workable {
		s.workableD += dt
	}
	if s.usable {
		s.usableD += dt
	}
	a := s.areas[s.area]
	if a == nil {
		a = newAreaAcc()
		s.areas[s.area] = a
	}
	a.conn += dt
	a.creditTech(s.gen, dt)
	addLevel(s.level, dt, &a.green, &a.amber, &a.red)
	if s.workable {
		a.workable += dt
	}
	if s.usable {
		a.usable += dt
	}
	if s.inUse {
		a.inUse += dt
	}
	// The part of it within the visit in progress counts for the visit,
	// by network and by area.
	if v := r.visit; v != nil {
		from := prev
		if v.resumedAt.After(from) {
			from = v.resumedAt
		}
		if v.start.After(from) {
			from = v.start
		}
		if in := now.Sub(from); in > 0 {
			v.credit(s, s.area, in)
			v.credit(s, "", in)
		}
	}
}

// addLevel credits dt to the counter of the level it was spent at.
func addLevel(l netstate.Level, dt time.Duration, green, amber, red *time.Duration) {
	switch l {
	case netstate.LevelGreen:
		*green += dt
	case netstate.LevelAmber:
		*amber += dt
	case netstate.LevelRed:
		*red += dt
	}
}

func (r *Recorder) maybeSample(s *openSession, l *netstate.Link, now time.Time) {
	f := figuresOf(l)
	changed := !s.sampled || s.sampleLevel != l.Level || s.sampleInUse != s.inUse || s.sampleArea != s.area
	since := now.Sub(s.sampleT)
	if !changed && (since < r.opt.SampleEvery || (since < r.opt.Heartbeat && !moved(s.sampleFig, f))) {
		return
	}
	s.sampled, s.sampleT, s.sampleLevel, s.sampleInUse, s.sampleArea, s.sampleFig = true, now, l.Level, s.inUse, s.area, f
	s.samples++
	if l.Probe.OK != netstate.Unknown {
		s.probes++
		if l.Probe.OK == netstate.Yes {
			s.pOK++
		}
	}
	bin := func(h Hist, v netstate.Figure, per float64) {
		if v.OK {
			h[int(math.Round(v.V/per))]++
		}
	}
	bin(s.hStrength, f.strength, 1)
	bin(s.hRSRP, f.rsrp, 1)
	bin(s.hRSCP, f.rscp, 1)
	bin(s.hSINR, f.sinr, 1)
	bin(s.hRTT, f.rtt, 10)
	sig := f.rsrp
	if l.Kind == netstate.KindWiFi {
		sig = f.strength
	}
	bin(s.hSignal, sig, 1)
	if a := s.areas[s.area]; a != nil {
		bin(a.hSignal, sig, 1)
	} else if sig.OK {
		a := newAreaAcc()
		a.hSignal[int(math.Round(sig.V))] = 1
		s.areas[s.area] = a
	}
	probe := sql.NullInt64{}
	if l.Probe.OK != netstate.Unknown {
		probe = sql.NullInt64{Int64: boolInt(l.Probe.OK == netstate.Yes), Valid: true}
	}
	tech := ""
	if l.Kind == netstate.KindCellular {
		tech = l.Cell.Tech.Label()
	}
	// Technology and area are written when they change ("" repeats the
	// previous sample's): they are a third of a sample's bytes and
	// rarely change within a session.
	area := s.area + cellOf(l, s.area)
	if s.samples > 1 && tech == s.sampleTech && area == s.sampleWhere {
		tech, area = "", ""
	} else {
		s.sampleTech, s.sampleWhere = tech, area
	}
	r.queue = append(r.queue, opSample{uuid: s.uuid, t: now, level: l.Level, inUse: s.inUse, f: f, probe: probe,
		tech: tech, area: area})
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func dayOf(t time.Time) int64 { return t.UnixMilli() / 86400000 }

func median(h Hist, per float64) sql.NullFloat64 {
	m, ok := h.Median()
	if !ok {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: float64(m) * per, Valid: true}
}

func (r *Recorder) closeSession(s *openSession, now time.Time, reason string) {
	r.advance(s, now)
	delete(r.open, s.link)
	if r.visit != nil && s.inUse && reason != "network changed" {
		r.visit.lose(s, now)
	}
	c := opClose{uuid: s.uuid, dev: r.dev(), day: s.day, kind: s.kind, network: s.network, mcc: s.mcc, mnc: s.mnc,
		end: now, reason: reason, dur: now.Sub(s.start), green: s.green, amber: s.amber, red: s.red, inUse: s.inUseD,
		workable: s.workableD, usable: s.usableD, samples: s.samples, probes: s.probes, probesOK: s.pOK, names: r.opt.Areas,
		medStrength: median(s.hStrength, 1), medRSRP: median(s.hRSRP, 1), medSINR: median(s.hSINR, 1),
		medRSCP: median(s.hRSCP, 1), medRTT: median(s.hRTT, 10), hSignal: s.hSignal, hSINR: s.hSINR, areas: s.areas}
	if s.connect >= 0 {
		c.connect = sql.NullInt64{Int64: s.connect.Milliseconds(), Valid: true}
	}
	r.queue = append(r.queue, c)
}
