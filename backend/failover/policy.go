package failover

import (
	"fmt"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Standby is how cellular waits while a better link carries the work.
type Standby int

func (s Standby) String() string {
	if s == Hot {
		return "hot"
	}
	return "cold"
}

// Policy is the failover configuration.
type Policy struct {
	// Prefer lists link kinds ("ethernet", "wifi", "cellular") or link IDs
	// ("veth0"), best first.
	Prefer []string
	// Down is how many consecutive probe failures make a link down.
	Down int
	// RedHold is how long a link may stay red (weak radio, slow or lossy
	// probes) before fieldlink moves off it.
	RedHold time.Duration
	// FailbackAfter is how long a preferred link must stay usable before
	// fieldlink goes back to it.
	FailbackAfter time.Duration
	// MinDwell is the least time on a link before a fail-back.
	MinDwell time.Duration
	// FlapWindow: a fail-back followed within it by another fail-over is
	// a flap, and each flap doubles the fail-back wait, up to MaxBackoff;
	// a FlapWindow in which no link failed forgets the flaps.
	FlapWindow time.Duration
	MaxBackoff time.Duration
	Standby    Standby
	// ActivationTimeout is how long an activation may take before another
	// link is tried.
	ActivationTimeout time.Duration
	// RetryAfter spaces repeated attempts of an action that failed.
	RetryAfter time.Duration
}

// DefaultPolicy returns the defaults documented in README.md.
func DefaultPolicy() Policy {
	return Policy{
		Prefer:            []string{"ethernet", "wifi", "cellular"},
		Down:              3,
		RedHold:           10 * time.Second,
		FailbackAfter:     30 * time.Second,
		MinDwell:          10 * time.Second,
		FlapWindow:        10 * time.Minute,
		MaxBackoff:        10 * time.Minute,
		Standby:           Cold,
		ActivationTimeout: 45 * time.Second,
		RetryAfter:        15 * time.Second,
	}
}

// ActionKind is what the engine is asked to do.
type ActionKind string

// Standby modes.
const (
	Cold Standby = iota // activate on demand, deactivate after fail-back
	Hot                 // keep the mobile profile up as a backup route
)

// Actions.
const (
	Activate   ActionKind = "activate"
	Deactivate ActionKind = "deactivate"
	Demote     ActionKind = "demote"
	Restore    ActionKind = "restore"
	// Reconnect takes a profile down and brings it up again (a VPN moving
	// to the new path after a failover), in that order.
	Reconnect ActionKind = "reconnect"
	// Diagnose asks why a VPN profile did not connect, from what the
	// device can check itself (its files, whether its server answers).
	Diagnose ActionKind = "diagnose"
	// MakeWay takes a VPN down and activates the profile Then, which
	// starts the VPN itself (IT's connection.secondaries): NetworkManager
	// fails a profile whose secondary is already up elsewhere.
	MakeWay ActionKind = "make-way"
)

// Action is one thing to do, with the reason for it.
type Action struct {
	Kind    ActionKind
	Link    string
	Profile string
	Reason  string
	// Then is a profile to activate once Profile is down (MakeWay).
	Then string
}

func (a Action) String() string {
	if a.Profile != "" {
		return fmt.Sprintf("%s %s (%s)", a.Kind, a.Link, a.Profile)
	}
	return fmt.Sprintf("%s %s", a.Kind, a.Link)
}

// Output is what one Step decided.
type Output struct {
	Actions []Action
	// Events say what was decided and why, for the events pane and the
	// journal.
	Events []netstate.Event
	// Next is when to Step again if nothing new arrives (a hold or a
	// fail-back wait ends then); zero when nothing is pending.
	Next time.Time
}
