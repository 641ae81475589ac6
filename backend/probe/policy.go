package probe

import (
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Role is what a link is to the work, which sets how often it is probed.
type Role int

// Roles.
const (
	// Backup: connected, ranked below the link carrying the work. Probed
	// when it comes up, then rarely, and at once when the link carrying
	// the work falls in doubt (the fail-over decision then has a fresh
	// answer for it).
	Backup Role = iota
	// Primary: the link carrying the work.
	Primary
	// Preferred: ranked above the link carrying the work (a cable plugged
	// back): probed often enough to prove itself for fail-back.
	Preferred
)

func (r Role) String() string {
	switch r {
	case Primary:
		return "primary"
	case Preferred:
		return "preferred"
	}
	return "backup"
}

// view is what the schedule decides from: one link's state.
type view struct {
	role    Role
	metered bool
	last    netstate.Probe // the last round recorded
	// failures is the run of failed rounds; overdue: a round has been out
	// longer than RecoverRTT without an answer.
	failures int
	overdue  bool
	// suspect: the link's own traffic went unanswered since its last
	// passing round.
	suspect bool
	// refresh: a round is wanted at once (the link took the work with an
	// old check, the link carrying the work fell in doubt, a screen asked).
	refresh bool
	// checked is when the link was last known good: a round passed, or its
	// traffic was answered.
	checked time.Time
	// lastStart is when the last round started (zero: none yet).
	lastStart time.Time
}

// next says when the next round on a link should start (from lastStart,
// or at once), and whether to probe the link at all. It is the probing
// policy in one place, a pure function so that a day of it can be run on
// a model (policy_test.go):
//
//   - the link carrying the work is probed at once when it has never been,
//     in a burst (Doubt apart) while its traffic goes unanswered or its
//     rounds fail, at Active while it is slow or lossy, and otherwise only
//     when nothing else has checked it for Idle (MeteredIdle on a metered
//     link): traffic answered both ways is the check;
//   - a preferred link is probed at Active while it passes (fail-back needs
//     it proven over FailbackAfter), backing off while it fails;
//   - a backup is probed when it comes up, at Standby (never, when it is
//     metered and healthy), backing off while it fails, and at once when
//     asked for (refresh).
//
// A link whose rounds keep failing past Down backs off from Active,
// doubling, up to its quiet interval: it costs little while it is dead.
func (c *Config) next(v view) (at time.Time, ok bool) {
	soon := func(d time.Duration) time.Time {
		if v.lastStart.IsZero() {
			return time.Time{}
		}
		return v.lastStart.Add(d)
	}
	never := v.last.OK == netstate.Unknown && !v.overdue && v.lastStart.IsZero()
	failing := v.last.OK == netstate.No || v.failures > 0 || v.overdue
	quiet := c.Standby
	if v.role == Primary {
		quiet = c.Idle
		if v.metered {
			quiet = c.MeteredIdle
		}
	}
	switch {
	case never:
		return time.Time{}, true
	case v.refresh:
		return soon(c.Doubt), true
	case failing && v.failures >= c.Down:
		return soon(c.backoff(v.failures-c.Down, quiet)), true
	}
	switch v.role {
	case Primary:
		slow := (v.last.RTT.OK && v.last.RTT.V > float64(c.RecoverRTT/time.Millisecond)) ||
			(v.last.Loss.OK && v.last.Loss.V/100 > c.RecoverLoss)
		switch {
		case v.suspect || failing:
			return soon(c.Doubt), true
		case slow:
			return soon(c.Active), true
		}
		from := v.checked
		if v.lastStart.After(from) {
			from = v.lastStart
		}
		return from.Add(quiet), true
	case Preferred:
		if failing {
			return soon(c.backoff(v.failures-1, c.Standby)), true
		}
		return soon(c.Active), true
	}
	switch {
	case failing:
		return soon(c.backoff(v.failures-1, c.Standby)), true
	case v.metered && !c.MeteredStandby && v.last.OK == netstate.Yes:
		return time.Time{}, false // a healthy metered backup costs nothing
	}
	return soon(c.Standby), true
}

// backoff is Active doubled n times, at most limit.
func (c *Config) backoff(n int, limit time.Duration) time.Duration {
	d := c.Active
	for i := 0; i < n && d < limit; i++ {
		d *= 2
	}
	return max(c.Doubt, min(d, limit))
}
