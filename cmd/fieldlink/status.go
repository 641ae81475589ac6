package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fieldlink/fieldlink/backend/charge"
	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/control"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/status"
)

const statusUsage = `Usage: fieldlink status [flags]

Prints one snapshot of every link, the traffic light and recent events, as
a table or (--json) as the JSON document described in README.md. With
--watch, prints one line (or one JSON object) per change until interrupted.

Flags:
`

// statusArgs are status's flags, parsed.
type statusArgs struct {
	c               common
	asJSON, watch   bool
	wait, stopAfter time.Duration
}

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	a, err := parseStatus(args, stdout, stderr)
	if err != nil {
		return err
	}
	cfg, src, _, err := a.c.setup()
	if err != nil {
		return err
	}
	// status never takes charge: it only reports who is.
	dir, err := a.c.stateDirectory()
	if err != nil {
		return err
	}
	obs, err := charge.Observe(context.Background(), charge.Options{StateDir: dir, Demo: a.c.simulated()})
	if err != nil {
		return err
	}
	defer obs.Release()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if a.watch && a.stopAfter > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.stopAfter)
		defer cancel()
	}
	eng, inCharge := observeEngine(a, cfg, src, obs)
	engErr := make(chan error, 1)
	go func() { engErr <- eng.Run(ctx) }()
	if inCharge != nil {
		locate := func(ctx context.Context) (string, int, bool, error) {
			h, path, ok, err := obs.Locate(ctx)
			return path, h.PID, ok, err
		}
		go control.Follow(ctx, locate, eng, time.Now, nil)
	}
	return printStates(ctx, a, eng, inCharge, engErr, stdout)
}

func parseStatus(args []string, stdout, stderr io.Writer) (*statusArgs, error) {
	a := &statusArgs{}
	fs := flag.NewFlagSet("fieldlink status", flag.ContinueOnError)
	a.c.register(fs)
	fs.BoolVar(&a.asJSON, "json", false, "print JSON (one object per line with --watch)")
	fs.BoolVar(&a.watch, "watch", false, "keep printing, one line per change")
	fs.DurationVar(&a.wait, "timeout", 5*time.Second, "how long to wait for the first picture")
	fs.DurationVar(&a.stopAfter, "for", 0, "with --watch, stop after this long (default: until interrupted)")
	if err := parse(fs, args, statusUsage, stdout, stderr); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return nil, errUsage
	}
	return a, nil
}

// observeEngine is the engine status reads: an observer of the one in
// charge, or, for a scenario, one that fails over itself (a scenario plays
// in this process alone, and the story must match what the TUI shows).
func observeEngine(a *statusArgs, cfg config.Config, src engine.Source, obs *charge.Claim) (*engine.Engine, *charge.Holder) {
	var inCharge *charge.Holder
	holder := ""
	if obs.Holder.PID != 0 {
		h := obs.Holder
		inCharge, holder = &h, h.String()
	}
	opts := engine.Options{Thresholds: cfg.NetThresholds(), Role: engine.Observer, Holder: holder}
	if a.c.simulated() {
		opts.Failover = failover.New(a.c.failoverPolicy(cfg))
		opts.Actuator, _ = src.(engine.Actuator)
	}
	return engine.New(src, opts), inCharge
}

// printStates prints the first picture (and, with --watch, every change)
// until the context or the engine ends.
func printStates(ctx context.Context, a *statusArgs, eng *engine.Engine, inCharge *charge.Holder, engErr <-chan error, stdout io.Writer) error {
	states, unsubscribe := eng.Subscribe()
	defer unsubscribe()
	timeout := time.NewTimer(a.wait)
	defer timeout.Stop()
	w := &statusWriter{a: a, out: stdout, loc: time.Local}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-engErr:
			return err
		case <-timeout.C:
			if w.last == nil {
				return fmt.Errorf("no network picture within %s", a.wait)
			}
		case st := <-states:
			d := status.FromState(st)
			d.InCharge = inCharge
			if !a.watch {
				if a.asJSON {
					return status.WriteJSON(stdout, d)
				}
				return status.WriteText(stdout, d, w.loc)
			}
			if err := w.change(st, d); err != nil {
				return err
			}
		}
	}
}

// statusWriter prints status --watch: a line (or JSON object) per change.
type statusWriter struct {
	a    *statusArgs
	out  io.Writer
	loc  *time.Location
	last *status.Doc
	jw   jsonWatch
	seen uint64
}

func (w *statusWriter) change(st engine.State, d status.Doc) error {
	fresh := newEvents(st.Events, &w.seen)
	if w.last == nil {
		fresh = nil // the first line is the picture; its history is not news
	}
	defer func() { w.last = &d }()
	if w.a.asJSON {
		if !w.jw.news(d) {
			return nil
		}
		return status.WriteLineJSON(w.out, d)
	}
	l := w.last
	if l == nil || l.Word != d.Word || l.Path != d.Path || l.Reason != d.Reason || len(fresh) > 0 {
		_, err := fmt.Fprintln(w.out, status.Line(d, fresh, w.loc))
		return err
	}
	return nil
}

// jsonWatch remembers the last document status --watch --json wrote.
type jsonWatch struct{ last string }

// news reports whether d differs from the last document written in more
// than its time: a picture republished (an access point the document does
// not list went, a device's object changed) is not a line of its own.
func (w *jsonWatch) news(d status.Doc) bool {
	d.Time = time.Time{}
	b, _ := json.Marshal(d)
	if string(b) == w.last {
		return false
	}
	w.last = string(b)
	return true
}

// newEvents returns the events after the last one printed.
func newEvents(evs []netstate.Event, seen *uint64) []netstate.Event {
	var out []netstate.Event
	for _, ev := range evs {
		if ev.Seq > *seen {
			out = append(out, ev)
		}
	}
	if n := len(evs); n > 0 {
		*seen = max(*seen, evs[n-1].Seq)
	}
	return out
}
