package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"

	tea "charm.land/bubbletea/v2"

	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/control"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/launch"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/ui/app"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func cmdTUI(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink", flag.ContinueOnError)
	var c common
	c.register(fs)
	kiosk := fs.Bool("kiosk", false, "kiosk mode for the boot console: no quit key, the app started by itself, waits for the system bus")
	if err := parse(fs, args, usage, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	var cfg config.Config
	var src engine.Source
	var err error
	if *kiosk {
		cfg, src, err = c.setupWaiting(stderr)
	} else {
		cfg, src, err = c.setup()
	}
	if err != nil {
		return err
	}
	mode := "tui"
	if c.simulated() {
		mode = "demo"
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := c.start(ctx, cfg, src, mode)
	if err != nil {
		return err
	}
	defer r.lock.Release()
	states, unsubscribe := r.eng.Subscribe()
	defer unsubscribe()

	opts := theme.Detect(theme.FromEnviron(os.Environ()))
	opts.ASCII = opts.ASCII || c.ascii || cfg.UI.ASCII
	ao := r.appOptions(ctx, cfg, theme.New(opts), *kiosk)
	ao.States = states
	model := app.New(ao)
	p := tea.NewProgram(model, tea.WithContext(ctx), tea.WithOutput(stdout), tea.WithFPS(fps))
	go func() {
		if err := <-r.errs; err != nil {
			p.Send(app.FatalMsg{Err: err})
		}
	}()
	final, err := p.Run()
	cancel()
	r.stop()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return err
	}
	if m, ok := final.(*app.Model); ok && m.Err() != nil {
		return m.Err()
	}
	return nil
}

// fps caps redraws. Nothing on screen animates and the engine publishes at
// most every 100 ms, so 20 frames a second lose nothing visible. The
// number trades two targets: each frame tick wakes the process even when
// idle (~150 us of CPU on the VMs measured, so 60 fps would cost ~0.5 % of
// a core doing nothing), and the first frame waits for the first tick
// (50 ms here), which counts against start-up.
const fps = 20

// appOptions wires the screen to this instance: visits and reports from
// the journal, the VPN and the app where this instance is in charge, the
// secret agent's prompts, and requests to the holder where it observes.
func (r *running) appOptions(ctx context.Context, cfg config.Config, th *theme.Theme, kiosk bool) app.Options {
	ao := app.Options{Theme: th, Thresholds: cfg.NetThresholds(), Kiosk: kiosk}
	if kiosk {
		keys, why := cfg.TrustedAdminKeys()
		ao.AdminKeys = keys
		if why != "" {
			r.eng.AddEvents(warning(why))
		}
	}
	if r.rec != nil {
		ao.MarkVisit = r.markVisit
	}
	if r.journal != "" {
		ao.Report = func() (*report.Report, error) { return r.report(cfg) }
	}
	if r.role == engine.Holder {
		ao.ConnectVPN = func() string {
			if !r.eng.ConnectVPN() {
				return "No VPN is configured ([vpn] profile in the config)."
			}
			return "Connecting the VPN now."
		}
		ao.App = launch.New(cfg.AppSpec(), launch.Options{
			Event:  func(ev netstate.Event) { r.eng.AddEvents(ev) },
			Status: r.eng.SetApp,
		})
	}
	if r.role == engine.Observer {
		ao.ConnectVPN = func() string {
			text, err := control.Request(ctx, r.sock, control.OpConnectVPN)
			if err != nil {
				return err.Error()
			}
			return text
		}
	}
	if r.agent != nil {
		ao.Prompts, ao.Answer, ao.Cancel = r.agent.Requests(), r.agent.Answer, r.agent.Cancel
	}
	return ao
}
