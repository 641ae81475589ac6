package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"

	tea "charm.land/bubbletea/v2"

	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/ui/app"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func cmdTUI(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink", flag.ContinueOnError)
	var c common
	c.register(fs)
	if err := parse(fs, args, usage, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, src, err := c.setup()
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
	ao := app.Options{Theme: theme.New(opts), Thresholds: cfg.NetThresholds(), States: states}
	if r.rec != nil {
		ao.MarkVisit = r.markVisit
		ao.Report = func() (*report.Report, error) { return r.report(cfg) }
	}
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
