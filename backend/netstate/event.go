package netstate

import "time"

// EventKind says what sort of thing happened; the names are stable because
// the journal and `status --watch` carry them.
type EventKind string

// Event kinds.
const (
	EventLinkUp     EventKind = "link-up"
	EventLinkDown   EventKind = "link-down"
	EventLinkAdded  EventKind = "link-added"
	EventLinkGone   EventKind = "link-removed"
	EventLevel      EventKind = "level"
	EventFailover   EventKind = "failover"
	EventFailback   EventKind = "failback"
	EventDecision   EventKind = "decision"
	EventProbe      EventKind = "probe"
	EventVPNUp      EventKind = "vpn-up"
	EventVPNDown    EventKind = "vpn-down"
	EventApp        EventKind = "app"
	EventService    EventKind = "service"
	EventNote       EventKind = "note"
	EventVisit      EventKind = "visit"
	EventJournal    EventKind = "journal"
	EventCredential EventKind = "credential"
	// EventPrompt is a prompt put on the clinician's screen (the count a
	// day of them is what "one log-in a day" is measured by).
	EventPrompt EventKind = "prompt"
	// EventJoin is a Wi-Fi network asked for from the screen, and what
	// came of it.
	EventJoin EventKind = "join"
)

// Event is something that happened, for the events pane, `status --watch`
// and the journal. Text is written for a person and never holds a secret.
type Event struct {
	// Seq numbers events in the order the engine recorded them, so a
	// watcher can tell which it has already seen.
	Seq   uint64    `json:"seq"`
	Time  time.Time `json:"time"`
	Kind  EventKind `json:"kind"`
	Link  string    `json:"link,omitempty"`
	Level Level     `json:"level,omitempty"`
	Text  string    `json:"text"`
	// Detail is the full text behind a one-line Text (a daemon's error
	// reply), for the log and the details view.
	Detail string `json:"detail,omitempty"`
}

// Update is what a source hands the engine: the latest picture and anything
// it wants said about how it got there.
type Update struct {
	Snapshot Snapshot
	Events   []Event
}
