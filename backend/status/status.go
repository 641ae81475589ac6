// Package status is the technicians' and scripts' view of fieldlink: the
// documented JSON document of `fieldlink status --json` and its plain-text
// table. The JSON is an interface: fields are only ever added, and
// Version changes if one ever has to change meaning.
package status

import (
	"encoding/json"
	"fmt"
	"github.com/fieldlink/fieldlink/backend/charge"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Version is the version of the JSON document.
const Version = 1

// Doc is one `status --json` document (and one line of `--watch --json`).
type Doc struct {
	Version   int       `json:"version"`
	Time      time.Time `json:"time"`
	Simulated bool      `json:"simulated"`
	Source    string    `json:"source"`
	Scenario  string    `json:"scenario,omitempty"`
	Role      string    `json:"role"`
	Holder    string    `json:"holder,omitempty"`
	// InCharge is the instance in charge of the device, as the system bus
	// (or, without fieldlink's bus policy, the lock file) says.
	InCharge *charge.Holder `json:"in_charge,omitempty"`
	// Level is green, amber, red or unknown; Word is what the light says.
	Level netstate.Level `json:"level"`
	Word  string         `json:"word"`
	// Advice is what to do, in the screen's words (the line under its
	// light).
	Advice       string                `json:"advice"`
	Reason       string                `json:"reason"`
	Path         string                `json:"path"`
	Primary      string                `json:"primary,omitempty"`
	Connectivity netstate.Connectivity `json:"connectivity"`
	Services     []netstate.Service    `json:"services,omitempty"`
	Links        []netstate.Link       `json:"links"`
	// Events are the newest events, oldest first (at most MaxEvents).
	Events []netstate.Event `json:"events"`
	// Work is the VPN and the clinical application, as the instance in
	// charge reports them (absent when neither is configured).
	Work netstate.Work `json:"work,omitzero"`
}

// MaxEvents bounds the events in a document.
const MaxEvents = 20

// FromState builds a document from an engine state.
func FromState(s engine.State) Doc {
	snap := s.Snapshot
	evs := s.Events
	if len(evs) > MaxEvents {
		evs = evs[len(evs)-MaxEvents:]
	}
	if evs == nil {
		evs = []netstate.Event{}
	}
	links := snap.Links
	if links == nil {
		links = []netstate.Link{}
	}
	return Doc{
		Version: Version, Time: snap.Time.UTC(), Simulated: snap.Simulated, Source: s.Source,
		Scenario: snap.Scenario, Role: s.Role.String(), Holder: s.Holder,
		Level: snap.Level, Word: snap.Level.Word(), Advice: snap.Advice().Long, Reason: snap.Reason, Path: snap.Path,
		Primary: snap.Primary, Connectivity: snap.Connectivity, Services: snap.Services,
		Links: links, Events: evs, Work: s.Work,
	}
}

// appWord is the app's state in the screen's words.
func appWord(p netstate.AppPhase) string {
	switch p {
	case netstate.AppRunning:
		return netstate.WordRunning
	case netstate.AppFailed:
		return netstate.WordStopped
	case netstate.AppExited:
		return netstate.WordClosed
	}
	return netstate.WordNotStarted
}

// WriteJSON writes the document as indented JSON.
func WriteJSON(w io.Writer, d Doc) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// WriteLineJSON writes the document on one line, for --watch --json.
func WriteLineJSON(w io.Writer, d Doc) error {
	return json.NewEncoder(w).Encode(d)
}

// WriteText writes the human table.
func WriteText(w io.Writer, d Doc, loc *time.Location) error {
	var b strings.Builder
	title := "fieldlink status: " + d.Source
	if d.Simulated {
		title = "fieldlink status: DEMO (simulated data): " + d.Source
	}
	fmt.Fprintf(&b, "%s\n", title)
	if d.Role == engine.Observer.String() && d.Holder != "" {
		fmt.Fprintf(&b, "observer: %s is in charge\n", d.Holder)
	}
	fmt.Fprintf(&b, "time:    %s\n", d.Time.In(loc).Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(&b, "light:   %s: %s\n", d.Word, d.Reason)
	if d.Advice != "" {
		fmt.Fprintf(&b, "advice:  %s\n", d.Advice)
	}
	fmt.Fprintf(&b, "path:    %s\n", d.Path)
	if v := d.Work.VPN; v.Profile != "" {
		word, _ := netstate.VPNWord(v, (&netstate.Snapshot{Level: d.Level, Links: d.Links}).TunnelPath(v))
		line := fmt.Sprintf("vpn:     %s %s", v.Profile, word)
		if v.Phase == netstate.VPNUp && !v.Since.IsZero() {
			line += ", up since " + v.Since.In(loc).Format("15:04:05")
		}
		if v.Via != "" {
			line += " over " + v.Via
		}
		if v.Reason != "" {
			line += ": " + v.Reason
		}
		fmt.Fprintln(&b, line)
	}
	if a := d.Work.App; a.Name != "" {
		line := fmt.Sprintf("app:     %s %s", a.Name, appWord(a.Phase))
		if a.Reason != "" {
			line += ": " + a.Reason
		}
		fmt.Fprintln(&b, line)
	}
	if sy := d.Work.Sync; sy.Server != "" {
		line := "fleet:   journal never reached " + sy.Server
		if !sy.LastOK.IsZero() {
			line = fmt.Sprintf("fleet:   journal last reached %s at %s", sy.Server, sy.LastOK.In(loc).Format("2006-01-02 15:04"))
		}
		if sy.Error != "" {
			line += "; last try: " + sy.Error
		}
		fmt.Fprintln(&b, line)
	}
	for _, s := range d.Services {
		if !s.Running {
			fmt.Fprintf(&b, "warning: %s is not running\n", s.Name)
		}
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	snap := netstate.Snapshot{Level: d.Level, Links: d.Links}
	fmt.Fprintln(tw, "LINK\tKIND\tSTATE\tCARRIER\tSIGNAL\tNETWORK\tPROBE\tREASON")
	for i := range d.Links {
		l := &d.Links[i]
		mark := ""
		if l.ID == d.Primary {
			mark = "*"
		}
		word, _ := snap.RowWord(l, d.Work.VPN)
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, mark, l.Kind, word, carrier(l.Carrier),
			signal(l), network(l), probe(l.Probe), l.Reason)
	}
	tw.Flush()
	if len(d.Links) > 0 {
		b.WriteString("(* carries the default route)\n")
	}
	if len(d.Events) > 0 {
		b.WriteString("\nrecent events:\n")
		start := max(0, len(d.Events)-8)
		for _, ev := range d.Events[start:] {
			fmt.Fprintf(&b, "  %s  %s\n", ev.Time.In(loc).Format("15:04:05"), ev.Text)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Line is the one-line summary --watch prints per change.
func Line(d Doc, newEvents []netstate.Event, loc *time.Location) string {
	s := fmt.Sprintf("%s  %-14s  %s: %s", d.Time.In(loc).Format("15:04:05"), d.Word, d.Path, d.Reason)
	if len(newEvents) > 0 {
		texts := make([]string, len(newEvents))
		for i, ev := range newEvents {
			texts[i] = ev.Text
		}
		s += "  | " + strings.Join(texts, "; ")
	}
	return s
}

func carrier(t netstate.Tristate) string {
	if t == netstate.Unknown {
		return "-"
	}
	return t.String()
}

func signal(l *netstate.Link) string {
	s := l.Signal
	var parts []string
	add := func(name string, f netstate.Figure, unit string) {
		if f.OK {
			parts = append(parts, name+" "+f.String()+unit)
		}
	}
	add("", s.Strength, "%")
	add("RSRP", s.RSRP, "")
	add("SINR", s.SINR, "")
	add("RSCP", s.RSCP, "")
	if !s.RSRP.OK && !s.RSCP.OK {
		add("RSSI", s.RSSI, "")
	}
	if len(parts) == 0 {
		add("", s.Quality, "%")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

func network(l *netstate.Link) string {
	switch l.Kind {
	case netstate.KindWiFi:
		if l.WiFi.SSID != "" {
			return l.WiFi.SSID
		}
	case netstate.KindCellular:
		s := strings.TrimSpace(l.Cell.Operator + " " + l.Cell.Tech.Label())
		if l.Cell.Roaming() {
			s += " roaming"
		}
		return s
	}
	if l.Profile != "" {
		return l.Profile
	}
	return "-"
}

func probe(p netstate.Probe) string {
	switch p.OK {
	case netstate.Yes:
		if p.RTT.OK {
			return p.RTT.String() + " ms"
		}
		return "ok"
	case netstate.No:
		return "fail"
	}
	return "-"
}
