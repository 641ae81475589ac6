package netstate

import (
	"fmt"
	"slices"
	"time"
)

// Snapshot is the whole picture at one instant. Sources produce them; the
// engine classifies them and hands copies to whoever watches.
type Snapshot struct {
	Time time.Time `json:"time"`
	// Source names where the data came from: "system" or "demo".
	Source    string `json:"source"`
	Simulated bool   `json:"simulated"`
	Scenario  string `json:"scenario,omitempty"`
	Links     []Link `json:"links"`
	// Primary is the ID of the link that carries the default route.
	Primary      string       `json:"primary,omitempty"`
	Connectivity Connectivity `json:"connectivity"`
	Services     []Service    `json:"services,omitempty"`
	// Level, Reason and Path are the traffic light and the one-line path,
	// filled in by Summarize.
	Level  Level  `json:"level"`
	Reason string `json:"reason"`
	Path   string `json:"path"`
}

// Link returns the link with the given ID, or nil.
func (s *Snapshot) Link(id string) *Link {
	for i := range s.Links {
		if s.Links[i].ID == id {
			return &s.Links[i]
		}
	}
	return nil
}

// PrimaryLink returns the link carrying the default route, or nil.
func (s *Snapshot) PrimaryLink() *Link {
	if s.Primary == "" {
		return nil
	}
	return s.Link(s.Primary)
}

// Service returns the named service entry, or nil when not tracked.
func (s *Snapshot) Service(name string) *Service {
	for i := range s.Services {
		if s.Services[i].Name == name {
			return &s.Services[i]
		}
	}
	return nil
}

// Clone returns a deep copy, so that a watcher can keep a snapshot while the
// engine builds the next one.
func (s Snapshot) Clone() Snapshot {
	links := make([]Link, len(s.Links))
	for i := range s.Links {
		links[i] = s.Links[i].Clone()
	}
	s.Links = links
	s.Services = slices.Clone(s.Services)
	return s
}

// Equal compares content, not the time the snapshot was taken.
func (s *Snapshot) Equal(o *Snapshot) bool {
	if s.Source != o.Source || s.Simulated != o.Simulated || s.Scenario != o.Scenario ||
		s.Primary != o.Primary || s.Connectivity != o.Connectivity || s.Level != o.Level ||
		s.Reason != o.Reason || s.Path != o.Path || !slices.Equal(s.Services, o.Services) ||
		len(s.Links) != len(o.Links) {
		return false
	}
	for i := range s.Links {
		if !s.Links[i].Equal(&o.Links[i]) {
			return false
		}
	}
	return true
}

// Delta is what changed between two snapshots.
type Delta struct {
	Added   []Link
	Removed []Link
	Changed []LinkDelta
	// PrimaryChanged and LevelChanged are about the snapshot as a whole.
	PrimaryChanged  bool
	LevelChanged    bool
	ServicesChanged bool
}

// LinkDelta is one link that changed, with the names of its changed fields.
type LinkDelta struct {
	Old, New Link
	Fields   []string
}

// Empty reports whether nothing changed.
func (d Delta) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0 &&
		!d.PrimaryChanged && !d.LevelChanged && !d.ServicesChanged
}

// Diff returns what changed from a to b; links are matched by ID.
func Diff(a, b *Snapshot) Delta {
	var d Delta
	for i := range b.Links {
		nl := &b.Links[i]
		ol := a.Link(nl.ID)
		if ol == nil {
			d.Added = append(d.Added, *nl)
			continue
		}
		if f := changedFields(ol, nl); len(f) > 0 {
			d.Changed = append(d.Changed, LinkDelta{Old: *ol, New: *nl, Fields: f})
		}
	}
	for i := range a.Links {
		if b.Link(a.Links[i].ID) == nil {
			d.Removed = append(d.Removed, a.Links[i])
		}
	}
	d.PrimaryChanged = a.Primary != b.Primary
	d.LevelChanged = a.Level != b.Level || a.Reason != b.Reason
	d.ServicesChanged = !slices.Equal(a.Services, b.Services)
	return d
}

// Has reports whether the named field changed.
func (d LinkDelta) Has(field string) bool { return slices.Contains(d.Fields, field) }

func changedFields(a, b *Link) []string {
	var f []string
	add := func(name string, changed bool) {
		if changed {
			f = append(f, name)
		}
	}
	add("state", a.State != b.State)
	add("carrier", a.Carrier != b.Carrier)
	add("profile", a.Profile != b.Profile)
	add("addresses", !slices.Equal(a.Addresses, b.Addresses) || a.Gateway != b.Gateway)
	add("default", a.Default != b.Default)
	add("demoted", a.Demoted != b.Demoted)
	add("connectivity", a.Connectivity != b.Connectivity)
	add("wifi", !a.WiFi.Equal(b.WiFi))
	add("cell", a.Cell != b.Cell)
	add("signal", a.Signal != b.Signal)
	add("probe", !a.Probe.Equal(b.Probe))
	add("level", a.Level != b.Level || a.Reason != b.Reason || a.Radio != b.Radio)
	add("other", a.Interface != b.Interface || a.Kind != b.Kind || a.Model != b.Model ||
		a.StateReason != b.StateReason || a.Metered != b.Metered || !slices.Equal(a.Profiles, b.Profiles))
	return f
}

// String summarises a delta for logs and tests.
func (d Delta) String() string {
	s := ""
	for _, l := range d.Added {
		s += fmt.Sprintf("+%s ", l.ID)
	}
	for _, l := range d.Removed {
		s += fmt.Sprintf("-%s ", l.ID)
	}
	for _, c := range d.Changed {
		s += fmt.Sprintf("~%s%v ", c.New.ID, c.Fields)
	}
	if d.PrimaryChanged {
		s += "primary "
	}
	if d.LevelChanged {
		s += "level "
	}
	if d.ServicesChanged {
		s += "services "
	}
	return s
}
