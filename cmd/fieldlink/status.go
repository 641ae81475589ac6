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

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink status", flag.ContinueOnError)
	var c common
	c.register(fs)
	asJSON := fs.Bool("json", false, "print JSON (one object per line with --watch)")
	watch := fs.Bool("watch", false, "keep printing, one line per change")
	wait := fs.Duration("timeout", 5*time.Second, "how long to wait for the first picture")
	stopAfter := fs.Duration("for", 0, "with --watch, stop after this long (default: until interrupted)")
	if err := parse(fs, args, statusUsage, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, src, _, err := c.setup()
	if err != nil {
		return err
	}
	// status never takes charge: it only reports who is.
	dir, err := c.stateDirectory()
	if err != nil {
		return err
	}
	obs, err := charge.Observe(context.Background(), charge.Options{StateDir: dir, Demo: c.simulated()})
	if err != nil {
		return err
	}
	defer obs.Release()
	var inCharge *charge.Holder
	holder := ""
	if obs.Holder.PID != 0 {
		h := obs.Holder
		inCharge, holder = &h, h.String()
	}
	opts := engine.Options{Thresholds: cfg.NetThresholds(), Role: engine.Observer, Holder: holder}
	if c.simulated() {
		// A scenario plays in this process alone: fail over in it, so the
		// story matches what the TUI shows.
		opts.Failover = failover.New(c.failoverPolicy(cfg))
		opts.Actuator, _ = src.(engine.Actuator)
	}
	eng := engine.New(src, opts)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *watch && *stopAfter > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *stopAfter)
		defer cancel()
	}
	engErr := make(chan error, 1)
	go func() { engErr <- eng.Run(ctx) }()
	if inCharge != nil {
		locate := func(ctx context.Context) (string, int, bool, error) {
			h, path, ok, err := obs.Locate(ctx)
			return path, h.PID, ok, err
		}
		go control.Follow(ctx, locate, eng, time.Now, nil)
	}
	states, unsubscribe := eng.Subscribe()
	defer unsubscribe()

	timeout := time.NewTimer(*wait)
	defer timeout.Stop()
	loc := time.Local
	var last *status.Doc
	var jw jsonWatch
	var seen uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-engErr:
			if err != nil {
				return err
			}
			return nil
		case <-timeout.C:
			if last == nil {
				return fmt.Errorf("no network picture within %s", *wait)
			}
		case st := <-states:
			d := status.FromState(st)
			d.InCharge = inCharge
			if !*watch {
				if *asJSON {
					return status.WriteJSON(stdout, d)
				}
				return status.WriteText(stdout, d, loc)
			}
			fresh := newEvents(st.Events, &seen)
			if last == nil {
				fresh = nil // the first line is the picture; its history is not news
			}
			if *asJSON {
				if !jw.news(d) {
					last = &d
					continue
				}
				if err := status.WriteLineJSON(stdout, d); err != nil {
					return err
				}
			} else if last == nil || last.Word != d.Word || last.Path != d.Path || last.Reason != d.Reason || len(fresh) > 0 {
				if _, err := fmt.Fprintln(stdout, status.Line(d, fresh, loc)); err != nil {
					return err
				}
			}
			last = &d
		}
	}
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
