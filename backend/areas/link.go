package areas

import "github.com/fieldlink/fieldlink/backend/netstate"

// Where is where the device is, as far as its modems say: the serving cell
// of the first one that reports it, and a position (rounded to about a
// kilometre by ModemManager's client) where one has GPS.
func Where(snap *netstate.Snapshot) Place {
	var p Place
	for i := range snap.Links {
		c := &snap.Links[i].Cell
		if snap.Links[i].Kind != netstate.KindCellular {
			continue
		}
		if p.PLMN == "" && c.MCC != "" && (c.TAC != "" || c.LAC != "") {
			p.PLMN, p.TAC, p.LAC, p.Cell = c.MCC+"-"+c.MNC, c.TAC, c.LAC, c.CellID
		}
		if !p.GPS && c.Latitude.OK && c.Longitude.OK {
			p.GPS, p.Lat, p.Lon = true, c.Latitude.V, c.Longitude.V
		}
	}
	return p
}

// CodeOf is where a link's sample was taken: a cellular link's own serving
// cell; for other links the device's place (a Wi-Fi network in a
// patient's home is there, not everywhere its name is); then a position;
// then, with nothing better, the network's own name. The screen and the
// journal both use it, so that they name one place alike.
func (m *Map) CodeOf(l *netstate.Link, where Place) string {
	p := where
	if l.Kind == netstate.KindCellular {
		c := l.Cell
		p.PLMN, p.TAC, p.LAC, p.Cell = "", c.TAC, c.LAC, c.CellID
		if c.MCC != "" {
			p.PLMN = c.MCC + "-" + c.MNC
		}
		if c.Latitude.OK && c.Longitude.OK {
			p.GPS, p.Lat, p.Lon = true, c.Latitude.V, c.Longitude.V
		}
	}
	if code := m.Code(p); code != "" {
		return code
	}
	switch l.Kind {
	case netstate.KindWiFi:
		return (Place{SSID: l.WiFi.SSID}).Code()
	case netstate.KindCellular:
		if p.PLMN != "" {
			return p.PLMN + " unknown area"
		}
		return "unknown area"
	}
	return l.Kind.Label() + " " + l.Profile
}
