package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/fieldlink/fieldlink/backend/charge"
	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/control"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/launch"
	"github.com/fieldlink/fieldlink/backend/memtrim"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/ui/app"
	"github.com/fieldlink/fieldlink/ui/frames"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func cmdTUI(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink", flag.ContinueOnError)
	var c common
	c.register(fs)
	fs.BoolVar(&c.kiosk, "kiosk", false, "kiosk mode for the boot console: no quit key, the app started by itself, waits for the system bus")
	if err := parse(fs, args, rootUsage(), stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The kiosk holds the terminal from the first instant, before it waits
	// for anything.
	guard := guardScreen(os.Stdin, stderr, c.kiosk, cancel)
	defer guard.release()

	cfg, trustWarn, cfgErr := c.loadConfig()
	if cfgErr != nil {
		if !c.kiosk {
			return cfgErr
		}
		// Bad input never ends the kiosk: it runs on the defaults and
		// shows the mistake, with its file and line, until IT fixes it.
		cfg = config.Default()
	}
	var src engine.Source
	var err error
	if c.kiosk {
		src, err = c.waitForSource(ctx, cfg, guard.say)
	} else {
		src, err = c.source(cfg)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // a signal ended the wait
		}
		return err
	}
	r, err := c.start(ctx, cfg, src, c.screenMode())
	if err != nil {
		return err
	}
	if r.role == engine.Observer {
		// A screen following the service only draws: one thread of Go
		// code is plenty, and it spares each message the runtime waking
		// a second thread to share the work (about a third of the
		// wakeups of a screen showing a busy day).
		runtime.GOMAXPROCS(1)
	}
	showConfigWarnings(r.eng, cfgErr, trustWarn)
	states, unsubscribe := r.eng.Subscribe()
	defer unsubscribe()

	opts := theme.Detect(theme.FromEnviron(os.Environ()))
	opts.ASCII = opts.ASCII || c.ascii || cfg.UI.ASCII
	ao := r.appOptions(ctx, cfg, theme.New(opts), &c)
	ao.States = states
	model := app.New(ao)
	p := tea.NewProgram(model, tea.WithContext(ctx), tea.WithOutput(stdout), tea.WithFPS(fps), tea.WithoutSignalHandler())
	model.SetFrames(frames.New(p, fps))
	r.eng.Refresh()       // a screen opened: "can I work here?" deserves a fresh answer
	go memtrim.After(ctx) // a screen stays open all day: start-up's pages go back
	guard.onSignal(p.Quit)
	go func() {
		if err := <-r.errs; err != nil {
			p.Send(app.FatalMsg{Err: err})
		}
	}()
	go func() {
		select {
		case <-r.claim.Lost():
			p.Send(app.FatalMsg{Err: errHandover})
		case <-ctx.Done():
		}
	}()
	final, err := p.Run()
	cancel()
	r.stop()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return err
	}
	return screenEnded(final, guard)
}

// screenMode names what this screen is for the lock and the others'
// screens: a simulated run, the boot console's kiosk, or a desktop TUI.
func (c *common) screenMode() string {
	switch {
	case c.simulated():
		return "demo"
	case c.kiosk:
		return "kiosk"
	}
	return "tui"
}

// showConfigWarnings puts a config's mistake (the screen runs on the
// defaults meanwhile) and a config's doubtful ownership on the screen.
func showConfigWarnings(eng *engine.Engine, cfgErr error, trustWarn string) {
	if cfgErr != nil {
		eng.SetWarning("config", cfgErr.Error()+" (running on the built-in defaults until it is fixed)")
	}
	if trustWarn != "" {
		eng.SetWarning("config-trust", trustWarn)
	}
}

// screenEnded turns how the screen ended into the command's outcome: a
// handover starts this fieldlink again as the new owner's client, the
// admin's key sequence exits with its own status.
func screenEnded(final tea.Model, guard *screenGuard) error {
	m, ok := final.(*app.Model)
	switch {
	case !ok:
		return nil
	case errors.Is(m.Err(), errHandover):
		guard.release()
		return reexec()
	case m.Err() != nil:
		return m.Err()
	case m.AdminExit():
		return errAdminExit
	}
	return nil
}

// errAdminExit ends the kiosk by IT's key sequence: exit status 3, which
// the kiosk unit takes as success (tty1 gets its login prompt back) where
// any other end restarts the kiosk.
var errAdminExit = errors.New("left by the admin key sequence")

// errHandover ends a screen that was in charge when another fieldlink
// (the service) takes charge: it starts again as that one's client.
var errHandover = errors.New("another fieldlink took charge of this device")

// reexec starts this fieldlink afresh with the same arguments, so that it
// comes back as a client of the instance now in charge.
func reexec() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%w, and fieldlink cannot restart itself: %v", errHandover, err)
	}
	return syscall.Exec(exe, os.Args, os.Environ())
}

// fps is the frame rate while something changes (a key, a new picture):
// a key shows within 1/fps. While nothing changes there are no frames at
// all (frames.Pacer), so the rate costs nothing idle; the first frame
// waits for the first tick, which counts against start-up.
const fps = 30

// appOptions wires the screen to this instance: visits, reports and the
// VPN through the instance in charge (itself, or by request), and the
// application where the clinician is.
func (r *running) appOptions(ctx context.Context, cfg config.Config, th *theme.Theme, c *common) app.Options {
	ao := app.Options{Theme: th, Thresholds: cfg.NetThresholds(), Kiosk: c.kiosk}
	if c.kiosk {
		ao.AdminKeys = cfg.Kiosk.AdminKeys
	}
	if r.role == engine.Holder {
		ao.MarkVisit = r.markVisit
		ao.Report = r.report
		ao.ConnectVPN = func() string {
			if !r.eng.ConnectVPN() {
				return "No VPN is configured ([vpn] profile in the config)."
			}
			return "Connecting the VPN now."
		}
	} else {
		ao.ReadOnly = !charge.MayAct(os.Geteuid(), r.claim.Holder.UID)
		ao.MarkVisit = func() (string, error) {
			rep, err := r.ask(ctx, control.OpVisit)
			return rep.Text, err
		}
		ao.Report = func() (*report.Report, error) { return r.remoteReport(ctx, c, cfg) }
		ao.ConnectVPN = func() string {
			rep, err := control.Request(ctx, r.locate, control.OpConnectVPN)
			if err != nil {
				return err.Error()
			}
			return rep.Text
		}
	}
	r.joinOptions(ctx, &ao, c.kiosk)
	// The application runs as the account at this screen, never as the
	// service: the holder's screen, or a client whose account may act.
	if r.role == engine.Holder || charge.MayAct(os.Geteuid(), r.claim.Holder.UID) {
		ao.App = launch.New(cfg.AppSpec(), launch.Options{
			Event:  func(ev netstate.Event) { r.eng.AddEvents(ev) },
			Status: r.eng.SetApp,
		})
		// Started by itself on the kiosk and the screen in charge; a client
		// over SSH (a technician) starts it only with 'a'.
		ao.AutoLaunch = r.role == engine.Holder || c.kiosk || os.Getenv("SSH_CONNECTION") == ""
	}
	switch {
	case r.agent != nil:
		prompts, detach := r.agent.Attach()
		go func() { <-ctx.Done(); detach() }()
		ao.Prompts, ao.Answer, ao.Cancel = prompts, r.agent.Answer, r.agent.Cancel
	case r.screen != nil && !ao.ReadOnly:
		ao.Prompts, ao.Answer, ao.Cancel = r.screen.Prompts(), r.screen.Answer, r.screen.Cancel
	}
	return ao
}

// remoteReport asks the instance in charge for this device's report; with
// --db, a client reads that journal itself.
func (r *running) remoteReport(ctx context.Context, c *common, cfg config.Config) (*report.Report, error) {
	if c.db != "" {
		j, err := journal.OpenReadOnly(c.db)
		if err != nil {
			return nil, err
		}
		defer j.Close()
		since := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -29)
		names, _ := areaMap(cfg)
		return report.Build(ctx, j.DB(), report.Query{Since: since, Device: j.Device().ID, Areas: names, PeriodsOfUse: true,
			VisitShare: cfg.Journal.VisitShare, DeviceShare: cfg.Journal.DeviceShare, Recent: 12})
	}
	rep, err := r.ask(ctx, control.OpReport)
	if err != nil {
		return nil, err
	}
	var out report.Report
	if err := json.Unmarshal(rep.Data, &out); err != nil {
		return nil, fmt.Errorf("the report from the fieldlink in charge: %w", err)
	}
	return &out, nil
}
