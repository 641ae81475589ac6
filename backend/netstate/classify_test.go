package netstate

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// up is a connected link whose probe passed, so only the figure under test
// decides its level.
func up(kind Kind, mod func(*Link)) Link {
	l := Link{ID: "x", Kind: kind, Interface: "x0", State: StateConnected, Carrier: Yes,
		Probe: Probe{OK: Yes, RTT: Some(40)}}
	if kind == KindCellular {
		l.Cell.Registration = RegHome
	}
	mod(&l)
	return l
}

func TestClassifyBounds(t *testing.T) {
	th := DefaultThresholds()
	wifi := func(pct float64) Link { return up(KindWiFi, func(l *Link) { l.Signal.Strength = Some(pct) }) }
	lte := func(rsrp, sinr, rsrq float64) Link {
		return up(KindCellular, func(l *Link) {
			l.Cell.Tech = TechLTE
			l.Signal.RSRP, l.Signal.SINR, l.Signal.RSRQ = Some(rsrp), Some(sinr), Some(rsrq)
		})
	}
	nr := func(rsrp float64) Link {
		return up(KindCellular, func(l *Link) { l.Cell.Tech = Tech5GNR; l.Signal.RSRP = Some(rsrp) })
	}
	umts := func(rscp float64, ecio Figure) Link {
		return up(KindCellular, func(l *Link) { l.Cell.Tech = TechHSPA; l.Signal.RSCP = Some(rscp); l.Signal.EcIo = ecio })
	}
	gsm := func(rssi Figure) Link {
		return up(KindCellular, func(l *Link) { l.Cell.Tech = TechEDGE; l.Signal.RSSI = rssi })
	}
	quality := func(q float64) Link {
		return up(KindCellular, func(l *Link) { l.Cell.Tech = TechLTE; l.Signal.Quality = Some(q) })
	}
	probe := func(rttMS, lossPct float64) Link {
		return up(KindEthernet, func(l *Link) { l.Probe.RTT = Some(rttMS); l.Probe.Loss = Some(lossPct) })
	}

	cases := []struct {
		name   string
		link   Link
		want   Level
		reason string
	}{
		{"wifi 56 green", wifi(56), LevelGreen, "Wi-Fi 56%"},
		{"wifi 55 amber", wifi(55), LevelAmber, "Wi-Fi weak: 55%"},
		{"wifi 38 amber", wifi(38), LevelAmber, "Wi-Fi weak: 38%"},
		{"wifi 37 red", wifi(37), LevelRed, "Wi-Fi too weak: 37%"},

		{"lte all at green bounds", lte(-108, 5, -14), LevelGreen, "4G RSRP -108 dBm"},
		{"lte rsrp just below green", lte(-108.1, 10, -10), LevelAmber, "4G weak: RSRP -108.1 dBm"},
		{"lte rsrp at amber bound", lte(-118, 10, -10), LevelAmber, "RSRP -118"},
		{"lte rsrp below amber", lte(-118.5, 10, -10), LevelRed, "4G too weak: RSRP -118.5 dBm"},
		{"lte sinr just below green", lte(-90, 4.9, -10), LevelAmber, "SINR 4.9 dB"},
		{"lte sinr at amber bound", lte(-90, 1, -10), LevelAmber, "SINR 1 dB"},
		{"lte sinr below amber", lte(-90, 0.9, -10), LevelRed, "SINR 0.9 dB"},
		{"lte rsrq just below green", lte(-90, 10, -14.5), LevelAmber, "RSRQ -14.5 dB"},
		{"lte rsrq at amber bound", lte(-90, 10, -17), LevelAmber, "RSRQ -17 dB"},
		{"lte rsrq below amber", lte(-90, 10, -17.5), LevelRed, "RSRQ -17.5 dB"},
		{"lte worst metric wins", lte(-90, 0, -15), LevelRed, "SINR 0 dB"},

		{"5g at green bound", nr(-108), LevelGreen, "5G RSRP -108 dBm"},
		{"5g below green", nr(-109), LevelAmber, "5G weak"},

		{"umts rscp at green", umts(-95, Figure{}), LevelGreen, "3G RSCP -95 dBm"},
		{"umts rscp below green", umts(-96, Figure{}), LevelAmber, "3G weak: RSCP -96 dBm"},
		{"umts rscp at amber", umts(-105, Figure{}), LevelAmber, "RSCP -105"},
		{"umts rscp below amber", umts(-106, Figure{}), LevelRed, "3G too weak"},
		{"umts ecio at green bound", umts(-80, Some(-10)), LevelGreen, "3G RSCP -80 dBm"},
		{"umts ecio below green", umts(-80, Some(-10.5)), LevelAmber, "Ec/Io -10.5 dB"},

		{"gsm strong is amber at best", gsm(Some(-60)), LevelAmber, "2G only (EDGE)"},
		{"gsm at bound", gsm(Some(-103)), LevelAmber, "2G only"},
		{"gsm below bound", gsm(Some(-104)), LevelRed, "2G too weak: RSSI -104 dBm"},
		{"gsm no figures", gsm(Figure{}), LevelAmber, "2G only"},

		{"quality 60 green", quality(60), LevelGreen, "4G signal 60%"},
		{"quality 59 amber", quality(59), LevelAmber, "4G weak: signal 59%"},
		{"quality 35 amber", quality(35), LevelAmber, "signal 35%"},
		{"quality 34 red", quality(34), LevelRed, "4G too weak: signal 34%"},

		{"probe 500ms green", probe(500, 0), LevelGreen, "cable connected, probe 500 ms"},
		{"probe 501ms amber", probe(501, 0), LevelAmber, "internet slow: 501 ms"},
		{"probe 999ms amber", probe(999, 0), LevelAmber, "internet slow: 999 ms"},
		{"probe 1000ms red", probe(1000, 0), LevelRed, "internet too slow: 1000 ms"},
		{"loss 10% green", probe(40, 10), LevelGreen, "cable connected"},
		{"loss 11% amber", probe(40, 11), LevelAmber, "packet loss 11%"},
		{"loss 39% amber", probe(40, 39), LevelAmber, "packet loss 39%"},
		{"loss 40% red", probe(40, 40), LevelRed, "packet loss 40%"},

		{"wired no carrier while activated", up(KindEthernet, func(l *Link) { l.Carrier = No }), LevelRed, "no carrier"},
		{"wired unplugged", up(KindEthernet, func(l *Link) { l.State = StateUnavailable; l.Carrier = No }), LevelRed, "no carrier"},
		{"probe failing beats strong radio", up(KindWiFi, func(l *Link) {
			l.Signal.Strength = Some(90)
			l.Probe = Probe{OK: No, Reason: "timeout"}
		}), LevelRed, "no internet: timeout"},
		{"captive portal by NM", up(KindWiFi, func(l *Link) { l.Signal.Strength = Some(90); l.Connectivity = ConnPortal }), LevelRed, "sign-in page"},
		{"captive portal by probe", up(KindWiFi, func(l *Link) { l.Signal.Strength = Some(90); l.Probe.Portal = true }), LevelRed, "sign-in page"},
		{"no probe success is never green", up(KindWiFi, func(l *Link) { l.Signal.Strength = Some(90); l.Probe = Probe{} }), LevelAmber, "not checked"},
		{"NM full connectivity stands in for a probe", up(KindEthernet, func(l *Link) { l.Probe = Probe{}; l.Connectivity = ConnFull }), LevelGreen, "cable connected"},
		{"NM limited connectivity", up(KindEthernet, func(l *Link) { l.Probe = Probe{}; l.Connectivity = ConnLimited }), LevelRed, "limited"},
		{"registration denied", up(KindCellular, func(l *Link) { l.Cell.Registration = RegDenied; l.Signal.Quality = Some(90) }), LevelRed, "registration denied"},
		{"searching", up(KindCellular, func(l *Link) { l.Cell.Registration = RegSearching }), LevelRed, "searching"},
		{"roaming is usable", up(KindCellular, func(l *Link) {
			l.Cell.Registration = RegRoaming
			l.Cell.Tech = TechLTE
			l.Signal.RSRP = Some(-95)
		}), LevelGreen, "4G RSRP -95 dBm"},
		{"connecting", up(KindCellular, func(l *Link) { l.State = StateConnecting }), LevelRed, "connecting"},
		{"failed with reason", up(KindWiFi, func(l *Link) { l.State = StateFailed; l.StateReason = "secrets were required" }), LevelRed, "connection failed: secrets were required"},
		{"unmanaged", up(KindEthernet, func(l *Link) { l.State = StateUnmanaged }), LevelUnknown, "not managed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason := Classify(&c.link, th)
			if got != c.want || !strings.Contains(reason, c.reason) {
				t.Fatalf("Classify = %v %q, want %v containing %q", got, reason, c.want, c.reason)
			}
		})
	}
}

func TestRadioIgnoresConnectionState(t *testing.T) {
	l := Link{Kind: KindCellular, State: StateDisconnected, Cell: Cell{Tech: TechLTE}, Signal: Signal{RSRP: Some(-95), SINR: Some(12)}}
	if lv, _ := Radio(&l, DefaultThresholds()); lv != LevelGreen {
		t.Fatalf("standby radio level = %v, want green", lv)
	}
	if lv, _ := Classify(&l, DefaultThresholds()); lv != LevelRed {
		t.Fatalf("standby link level = %v, want red (not connected)", lv)
	}
	wired := Link{Kind: KindEthernet}
	if lv, _ := Radio(&wired, DefaultThresholds()); lv != LevelUnknown {
		t.Fatalf("wired radio = %v, want unknown", lv)
	}
}

func TestSummarize(t *testing.T) {
	th := DefaultThresholds()
	s := Snapshot{Links: []Link{
		up(KindWiFi, func(l *Link) {
			l.ID = "wlan0"
			l.Interface = "wlan0"
			l.WiFi.SSID = "NHS-Community"
			l.Signal.Strength = Some(72)
		}),
		up(KindCellular, func(l *Link) {
			l.ID, l.Interface = "wwan0", "wwan0"
			l.Cell = Cell{Operator: "EE", Tech: TechLTE, Registration: RegRoaming}
			l.Signal.RSRP = Some(-95)
		}),
	}}
	s.Primary = "wlan0"
	Apply(&s, th)
	if s.Level != LevelGreen || s.Path != "Wi-Fi NHS-Community 72% via wlan0" {
		t.Fatalf("got %v %q", s.Level, s.Path)
	}
	s.Primary = "wwan0"
	Summarize(&s)
	if s.Path != "Cellular EE 4G via wwan0 (roaming)" {
		t.Fatalf("path %q", s.Path)
	}
	s.Primary = ""
	Summarize(&s)
	if s.Level != LevelRed || s.Reason != "no working connection" {
		t.Fatalf("no primary: %v %q", s.Level, s.Reason)
	}
	s.Primary = "wlan0"
	s.Services = []Service{{Name: "NetworkManager", Running: false}}
	Summarize(&s)
	if s.Level != LevelRed || s.Reason != "NetworkManager is not running" {
		t.Fatalf("NM down: %v %q", s.Level, s.Reason)
	}
}

func TestSnapshotEqualAndDiff(t *testing.T) {
	base := Snapshot{Time: time.Unix(100, 0), Links: []Link{
		{ID: "eth0", Kind: KindEthernet, State: StateConnected, Carrier: Yes},
		{ID: "wlan0", Kind: KindWiFi, State: StateConnected, Signal: Signal{Strength: Some(70)},
			WiFi: WiFi{SSID: "a", AccessPoints: []AccessPoint{{SSID: "a", Strength: 70}}}},
	}, Primary: "eth0"}
	same := base.Clone()
	same.Time = time.Unix(200, 0)
	if !base.Equal(&same) {
		t.Fatal("time alone must not make snapshots differ")
	}
	if d := Diff(&base, &same); !d.Empty() {
		t.Fatalf("diff of equal snapshots: %s", d)
	}

	next := base.Clone()
	next.Links[1].WiFi.AccessPoints[0].Strength = 40
	if base.Links[1].WiFi.AccessPoints[0].Strength != 70 {
		t.Fatal("Clone shares access points with the original")
	}
	next.Links[0].Carrier = No
	next.Links = append(next.Links, Link{ID: "wwan0", Kind: KindCellular})
	next.Primary = "wlan0"
	if base.Equal(&next) {
		t.Fatal("changed snapshot reported equal")
	}
	d := Diff(&base, &next)
	if len(d.Added) != 1 || d.Added[0].ID != "wwan0" || !d.PrimaryChanged || len(d.Changed) != 2 {
		t.Fatalf("diff = %s", d)
	}
	if !d.Changed[0].Has("carrier") || !d.Changed[1].Has("wifi") {
		t.Fatalf("changed fields = %v %v", d.Changed[0].Fields, d.Changed[1].Fields)
	}
	gone := Diff(&next, &base)
	if len(gone.Removed) != 1 || gone.Removed[0].ID != "wwan0" {
		t.Fatalf("removed = %s", gone)
	}
}

func TestJSONShape(t *testing.T) {
	l := Link{ID: "wwan0", Kind: KindCellular, State: StateConnected, Carrier: Unknown,
		Cell: Cell{Operator: "EE", Tech: TechLTE, Registration: RegHome}, Signal: Signal{RSRP: Some(-101.234)}}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"kind":"cellular"`, `"carrier":null`, `"rsrp_dbm":-101.23`, `"technology":"lte"`, `"registration":"home"`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON %s lacks %s", s, want)
		}
	}
	for _, absent := range []string{`"wifi"`, `"sinr_db"`, `"probe"`} {
		if strings.Contains(s, absent) {
			t.Errorf("JSON %s should omit %s", s, absent)
		}
	}
	var back Link
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Kind != KindCellular || back.Cell.Tech != TechLTE || back.Signal.RSRP.V != -101.23 || back.Signal.SINR.OK {
		t.Fatalf("round trip: %+v", back)
	}
}

func TestEnumParsing(t *testing.T) {
	for in, want := range map[string]Kind{"wired": KindEthernet, "Wi-Fi": KindWiFi, "wwan": KindCellular, "vpn": KindVPN} {
		if k, err := ParseKind(in); err != nil || k != want {
			t.Errorf("ParseKind(%q) = %v, %v", in, k, err)
		}
	}
	if _, err := ParseKind("carrier-pigeon"); err == nil || !strings.Contains(err.Error(), "want one of") {
		t.Errorf("bad kind error = %v", err)
	}
	var tech Tech
	if err := tech.UnmarshalText([]byte("4g")); err != nil || tech != TechLTE || tech.Generation() != "4G" {
		t.Errorf("tech 4g = %v %v", tech, err)
	}
	if Worse(LevelGreen, LevelUnknown) != LevelGreen || Worse(LevelAmber, LevelRed) != LevelRed {
		t.Error("Worse")
	}
	if Some(nan()).OK {
		t.Error("NaN must be absent")
	}
}

func nan() float64 { var z float64; return z / z }
