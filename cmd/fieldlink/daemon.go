package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/memtrim"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

const daemonUsage = `Usage: fieldlink daemon [flags]

Runs fieldlink without a screen, as the system service (fieldlink.service):
it takes charge of the device, probes every link, fails over and back,
keeps the configured VPN up ([vpn] profile), journals, and logs each event
and decision as one line on stderr. It asks no passwords (that needs a
screen: the kiosk does). Every TUI on the device, whatever its account, is
a client of it. It refuses to start when another fieldlink is in charge.
Stops cleanly on SIGTERM or SIGINT.

Flags:
`

func cmdDaemon(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink daemon", flag.ContinueOnError)
	var c common
	c.register(fs)
	if err := parse(fs, args, daemonUsage, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, src, warn, err := c.setup()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r, err := c.start(ctx, cfg, src, "daemon")
	if err != nil {
		return err
	}
	go memtrim.After(ctx) // a service runs all day: start-up's pages go back
	if r.role != engine.Holder {
		cancel()
		r.stop()
		if h := r.claim.Holder; h.PID != 0 {
			return errors.New(h.Refusal())
		}
		return errors.New("this account may not take charge of the device: the fieldlink service (systemctl start fieldlink) does, as root")
	}
	defer r.stop()
	states, unsubscribe := r.eng.Subscribe()
	defer unsubscribe()
	fmt.Fprintf(stderr, "%s fieldlink daemon: in charge of %s\n", stamp(time.Now()), src.Name())
	for _, w := range []string{warn, r.claim.Warning} {
		if w != "" {
			fmt.Fprintf(stderr, "%s fieldlink daemon: warning: %s\n", stamp(time.Now()), w)
		}
	}
	var seen uint64
	for {
		select {
		case <-ctx.Done():
			// Let the engine finish: the bus connection closes and takes its
			// match rules with it.
			select {
			case <-r.errs:
			case <-time.After(3 * time.Second):
			}
			fmt.Fprintf(stderr, "%s fieldlink daemon: stopped\n", stamp(time.Now()))
			return nil
		case <-r.claim.Lost():
			// Another process holds the device now (the bus restarted
			// under us, or the service took over from a fallback lock):
			// two brains would fight over the routes.
			cancel()
			select {
			case <-r.errs:
			case <-time.After(3 * time.Second):
			}
			return errors.New("no longer in charge of this device: another fieldlink took charge")
		case err := <-r.errs:
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		case st := <-states:
			for _, ev := range st.Events {
				if ev.Seq <= seen {
					continue
				}
				seen = ev.Seq
				fmt.Fprintln(stderr, logLine(ev))
			}
		}
	}
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// logLine is one event as the daemon logs it.
func logLine(ev netstate.Event) string {
	link := ""
	if ev.Link != "" {
		link = " " + ev.Link
	}
	line := fmt.Sprintf("%s %s%s: %s", stamp(ev.Time), ev.Kind, link, ev.Text)
	// The full text of a daemon's error goes to the log, indented under
	// its one line.
	for _, d := range strings.Split(strings.TrimSpace(ev.Detail), "\n") {
		if d != "" {
			line += "\n    " + d
		}
	}
	return line
}

func warning(text string) netstate.Event {
	return netstate.Event{Time: time.Now(), Kind: netstate.EventService, Level: netstate.LevelAmber, Text: text}
}

func pid() int { return os.Getpid() }
