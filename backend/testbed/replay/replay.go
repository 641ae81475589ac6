// Package replay plays a scenario through the engine and the failover
// machine without a clock: scenario time advances from one change to the
// next, failover's actions are carried out in the scenario at once, and
// every moment comes out the same on every run. Tests and the golden
// screens use it; the live demo runs the same engine with real time.
package replay

import (
	"context"
	"time"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/sim"
	"github.com/fieldlink/fieldlink/backend/vpn"
)

// Moment is the engine's state right after the changes at one time.
type Moment struct {
	At    time.Duration
	State engine.State
	// Notes are the scenario's narration at this moment; Decisions are
	// failover's words.
	Notes     []string
	Decisions []string
}

type named string

func (n named) Name() string                                         { return string(n) }
func (named) Run(ctx context.Context, _ func(netstate.Update)) error { <-ctx.Done(); return nil }

// Options tune a replay.
type Options struct {
	Thresholds netstate.Thresholds
	// Policy enables failover; nil replays the scenario as scripted.
	Policy *failover.Policy
	// VPN keeps a VPN profile up (the scenario's VPN link).
	VPN *vpn.Policy
}

// Run replays sc from scenario time 0 to until; base is the wall time of
// time 0.
func Run(sc *sim.Scenario, base time.Time, until time.Duration, opt Options) []Moment {
	p := sim.NewPlayer(sc)
	eo := engine.Options{Thresholds: opt.Thresholds}
	var machine *failover.Machine
	if opt.Policy != nil {
		machine = failover.New(*opt.Policy)
		eo.Failover = machine
	}
	var keeper *vpn.Keeper
	if opt.VPN != nil {
		keeper = vpn.New(*opt.VPN)
		eo.VPN = keeper
	}
	eng := engine.New(named(sc.Title), eo)
	var out []Moment
	var at time.Duration
	var seen uint64
	var next time.Time
	for {
		now := base.Add(at)
		events, _ := p.Advance(at, now)
		eng.Ingest(netstate.Update{Snapshot: p.Snapshot(now), Events: events}, now)
		// Carry out what failover decided, and look again at the same
		// instant, until it has nothing more to do.
		for i := 0; (machine != nil || keeper != nil) && i < 10; i++ {
			acts, n := eng.TakeActions()
			next = n
			if len(acts) == 0 {
				break
			}
			for _, a := range acts {
				var err error
				switch a.Kind {
				case failover.Activate:
					_, err = p.Activate(a.Profile, now)
				case failover.Deactivate:
					_, err = p.Deactivate(a.Profile, now)
				case failover.Demote:
					err = p.SetDemoted(a.Link, true)
				case failover.Restore:
					err = p.SetDemoted(a.Link, false)
				case failover.Reconnect:
					p.Deactivate(a.Profile, now)
					_, err = p.Activate(a.Profile, now)
				}
				switch {
				case err == nil:
				case keeper != nil && keeper.Owns(a):
					eng.AddEvents(keeper.Failed(a, err, now)...)
				case machine != nil:
					machine.Failed(a, now)
				}
			}
			eng.Ingest(netstate.Update{Snapshot: p.Snapshot(now)}, now)
		}
		st := eng.Current()
		m := Moment{At: at, State: st}
		for _, ev := range st.Events {
			if ev.Seq <= seen {
				continue
			}
			switch ev.Kind {
			case netstate.EventNote:
				m.Notes = append(m.Notes, ev.Text)
			case netstate.EventFailover, netstate.EventFailback, netstate.EventDecision:
				m.Decisions = append(m.Decisions, ev.Text)
			}
		}
		if n := len(st.Events); n > 0 {
			seen = st.Events[n-1].Seq
		}
		out = append(out, m)

		// The next moment: the scenario's next change or failover's timer.
		nextAt, ok := p.NextAt()
		if !next.IsZero() {
			if t := next.Sub(base); !ok || t < nextAt {
				nextAt, ok = t, true
			}
		}
		if !ok || nextAt > until {
			return out
		}
		if nextAt <= at {
			nextAt = at + time.Millisecond
		}
		at = nextAt // the Ingest at the top re-runs failover at this time
	}
}
