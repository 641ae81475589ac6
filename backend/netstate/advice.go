package netstate

// Advice is what the clinician should do now, in plain words: the line
// under the light. Long fits 75 columns, Short 36 (a 40-column screen).
// The figures stay on the line below it and in the details.
type Advice struct {
	Long, Short string
}

// Advice words the snapshot's verdict as an action. It reads the facts
// (services, the primary link's kind, carrier, portal, radio, probe), not
// the reason's words, so a reworded reason cannot change the advice.
func (s *Snapshot) Advice() Advice {
	if svc := s.Service("NetworkManager"); svc != nil && !svc.Running && svc.Note == "" {
		return Advice{"The laptop's network service has stopped: restart the laptop or call IT", "Network service stopped: call IT"}
	}
	p := s.PrimaryLink()
	if s.Level == LevelUnknown {
		return Advice{"Checking the connection: wait a moment before starting work", "Checking the connection..."}
	}
	if p == nil {
		return Advice{"No connection here: work offline; fieldlink will say when one is back", "No connection: work offline"}
	}
	over := map[Kind]string{KindEthernet: "the cable", KindWiFi: "Wi-Fi", KindCellular: "mobile data", KindVPN: "the VPN"}[p.Kind]
	switch s.Level {
	case LevelGreen:
		return Advice{"Working over " + over + ": fine for records and the VPN", "Fine to work (" + over + ")"}
	case LevelAmber:
		if p.Radio == LevelAmber || p.Radio == LevelRed {
			return Advice{"The signal is weak: move towards a window, and save your work often", "Weak signal: move to a window"}
		}
		return Advice{"Work may be slow or drop out: save often; fieldlink will switch if it fails", "May be slow: save often"}
	}
	switch {
	case p.Connectivity == ConnPortal || p.Probe.Portal:
		return Advice{"This Wi-Fi wants a sign-in page: use another network, or work offline", "Wi-Fi wants a sign-in: work offline"}
	case p.Carrier == No:
		return Advice{"The cable is unplugged: plug it in, or carry on when fieldlink switches", "Cable unplugged: plug it in"}
	case p.Kind == KindCellular && p.Radio == LevelRed, p.Kind == KindWiFi && p.Radio == LevelRed:
		return Advice{"No usable signal here: move towards a window or outside, or work offline", "No signal: move, or work offline"}
	}
	return Advice{"No internet here: work offline; fieldlink will say when it is back", "No internet: work offline"}
}
