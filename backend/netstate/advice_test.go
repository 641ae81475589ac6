package netstate

import "testing"

// TestAdviceIsAnAction: every verdict comes with what to do, in words that
// fit the screen (75 columns, 36 on a 40-column one), and never the
// engineer's wording.
func TestAdviceIsAnAction(t *testing.T) {
	link := func(k Kind, f func(l *Link)) *Snapshot {
		l := Link{ID: "x", Interface: "x", Kind: k, State: StateConnected, Carrier: Yes, Connectivity: ConnFull,
			Probe: Probe{OK: Yes}, Signal: Signal{Strength: Some(80), Quality: Some(80)}, Cell: Cell{Registration: RegHome, Tech: TechLTE}}
		if f != nil {
			f(&l)
		}
		s := &Snapshot{Links: []Link{l}, Primary: "x", Services: []Service{{Name: "NetworkManager", Running: true}}}
		Apply(s, DefaultThresholds())
		return s
	}
	cases := []struct {
		name string
		s    *Snapshot
		want string
	}{
		{"cellular good", link(KindCellular, nil), "Working over mobile data: fine for records and the VPN"},
		{"wired good", link(KindEthernet, nil), "Working over the cable"},
		{"weak Wi-Fi", link(KindWiFi, func(l *Link) { l.Signal.Strength = Some(40) }), "The signal is weak: move towards a window"},
		{"no internet", link(KindWiFi, func(l *Link) { l.Probe = Probe{OK: No, Reason: "timeout"} }), "No internet here: work offline"},
		{"sign-in page", link(KindWiFi, func(l *Link) { l.Connectivity = ConnPortal }), "This Wi-Fi wants a sign-in page"},
		{"cable out", link(KindEthernet, func(l *Link) { l.Carrier = No }), "The cable is unplugged"},
		{"no signal", link(KindCellular, func(l *Link) { l.Cell.Registration = RegSearching }), "No usable signal here: move towards a window"},
		{"nothing", &Snapshot{Level: LevelRed, Services: []Service{{Name: "NetworkManager", Running: true}}}, "No connection here: work offline"},
		{"NetworkManager stopped", &Snapshot{Level: LevelRed, Services: []Service{{Name: "NetworkManager"}}}, "The laptop's network service has stopped"},
	}
	for _, c := range cases {
		a := c.s.Advice()
		if len(a.Long) < len(c.want) || a.Long[:len(c.want)] != c.want {
			t.Errorf("%s: %q, want %q…", c.name, a.Long, c.want)
		}
		if len([]rune(a.Long)) > 75 || len([]rune(a.Short)) > 36 || a.Short == "" {
			t.Errorf("%s: advice too long for the screen: %q (%d) / %q (%d)", c.name, a.Long, len([]rune(a.Long)), a.Short, len([]rune(a.Short)))
		}
	}
}
