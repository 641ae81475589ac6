package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fieldlink/fieldlink/backend/agent"
	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/control"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/lock"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/probe"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/backend/sim"
	"github.com/fieldlink/fieldlink/backend/system"
	"github.com/fieldlink/fieldlink/backend/vpn"
)

// running is an engine started for a front end.
type running struct {
	eng    *engine.Engine
	role   engine.Role
	holder string
	lock   *lock.Lock
	errs   chan error
	// rec journals what the holder sees; nil for observers.
	rec     *journal.Recorder
	recDone chan struct{}
	journal string
	// agent answers NetworkManager's requests for secrets at the screen
	// (the holder's TUI on the real system only).
	agent *agent.Agent
	sock  string
}

// stop waits (a little) for the journal's last write after ctx ended.
func (r *running) stop() {
	if r.rec == nil {
		return
	}
	select {
	case <-r.recDone:
	case <-time.After(3 * time.Second):
	}
}

// markVisit starts or ends a visit and tells the events pane.
func (r *running) markVisit() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v := r.rec.MarkVisit(ctx)
	if v.Err != nil {
		return "", v.Err
	}
	r.eng.AddEvents(netstate.Event{Time: time.Now(), Kind: netstate.EventVisit, Text: v.Text()})
	if st := r.rec.Status(); !st.OK {
		return v.Text() + " (kept in memory: " + st.Problem + ")", nil
	}
	return v.Text(), nil
}

// report builds this device's report over the last 30 days.
func (r *running) report(cfg config.Config) (*report.Report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r.rec != nil {
		r.rec.Flush(ctx) // what the screen shows now is in the report
	}
	j, err := journal.OpenReadOnly(r.journal)
	if errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("%w: the journal belongs to the user fieldlink runs as; read it as that user or with sudo", err)
	}
	if err != nil {
		return nil, err
	}
	defer j.Close()
	since := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -29)
	return report.Build(ctx, j.DB(), report.Query{Since: since, Device: j.Device().ID,
		VisitShare: cfg.Journal.VisitShare, DeviceShare: cfg.Journal.DeviceShare, Recent: 12})
}

func (c *common) socketPath() (string, error) {
	dir, err := c.stateDirectory()
	if err != nil {
		return "", err
	}
	name := control.SocketName
	if c.simulated() {
		name = control.DemoSocketName
	}
	return filepath.Join(dir, name), nil
}

// start takes the lock (or becomes an observer) and runs the engine: the
// holder probes, fails over and acts, and serves its decisions to
// observers; an observer follows the holder's socket and changes nothing.
func (c *common) start(ctx context.Context, cfg config.Config, src engine.Source, mode string) (*running, error) {
	lk, role, holder, err := c.acquire(mode)
	if err != nil {
		return nil, err
	}
	sock, err := c.socketPath()
	if err != nil {
		lk.Release()
		return nil, err
	}
	opts := engine.Options{Thresholds: cfg.NetThresholds(), Role: role, Holder: holder}
	if role == engine.Holder {
		opts.Failover = failover.New(cfg.FailoverPolicy())
		if pol := vpnPolicy(cfg, src); pol.Profile != "" {
			opts.VPN = vpn.New(pol)
		}
		if act, ok := src.(engine.Actuator); ok {
			opts.Actuator = act
		}
		if _, real := src.(*system.Source); real && !c.noProbe {
			pc := cfg.ProbeConfig()
			bind := probe.CanBind()
			opts.Prober = probe.NewProber(pc, probe.Dialer{Timeout: pc.Timeout, NoBind: !bind}, nil, bind)
		}
	}
	r := &running{role: role, holder: holder, lock: lk, errs: make(chan error, 2), sock: sock}
	if role == engine.Holder {
		// The journal is written whether or not there is a network, and
		// whether or not its file can be opened yet (read-only or full at
		// boot): the recorder keeps a bounded backlog and retries.
		path, err := c.journalPath(cfg)
		if err != nil {
			lk.Release()
			return nil, err
		}
		jo := journalOptions(cfg)
		jo.OnStatus = func(st journal.Status) { r.journalStatus(st) }
		r.journal = path
		r.rec = journal.NewRecorderOpening(func() (*journal.Journal, error) { return journal.Open(path) }, jo)
		r.recDone = make(chan struct{})
		opts.Recorder = r.rec
	}
	if role == engine.Observer {
		// A technician reads the holder's journal (recent sessions,
		// reports) where the file lets them; nothing is written.
		if path, err := c.journalPath(cfg); err == nil {
			r.journal = path
		}
	}
	r.eng = engine.New(src, opts)
	if r.rec != nil {
		go func() {
			defer close(r.recDone)
			r.rec.Run(ctx)
			r.rec.Close()
		}()
	}
	go func() { r.errs <- r.eng.Run(ctx) }()
	if sys, ok := src.(*system.Source); ok && role == engine.Holder && mode == "tui" && cfg.Agent.Enabled {
		r.agent = agent.New(sys.Conn(), agent.Options{Timeout: cfg.Agent.PromptTimeout.D(),
			Event: func(ev netstate.Event) { r.eng.AddEvents(ev) }})
		go func() {
			err := r.agent.Run(ctx)
			switch {
			case errors.Is(err, agent.ErrTaken):
				r.eng.AddEvents(warning(err.Error() + ": Wi-Fi keys and VPN passwords are asked for there"))
			case err != nil:
				r.eng.AddEvents(warning(fmt.Sprintf("NetworkManager cannot ask for passwords here: %v", err)))
			}
		}()
	}
	if role == engine.Holder {
		self := lock.Holder{PID: pid(), Since: time.Now(), Mode: mode}.String()
		go func() {
			var h control.Handler
			if cfg.Technician.Act {
				h = func(op string) string {
					if op != control.OpConnectVPN {
						return "The fieldlink in charge does not know " + op + "."
					}
					r.eng.AddEvents(netstate.Event{Time: time.Now(), Kind: netstate.EventDecision, Text: "A technician asked to connect the VPN"})
					if !r.eng.ConnectVPN() {
						return "No VPN is configured on the fieldlink in charge."
					}
					return "The fieldlink in charge is connecting the VPN."
				}
			}
			if err := control.Serve(ctx, sock, self, r.eng, h); err != nil {
				r.eng.AddEvents(warning(fmt.Sprintf("observers cannot follow this instance: %v", err)))
			}
		}()
	} else {
		go control.Follow(ctx, sock, r.eng, time.Now)
	}
	return r, nil
}

// vpnPolicy is the configured VPN; a demo whose scenario has a VPN link
// keeps that one when the config names none, so the demo shows the VPN
// coming up and following a failover.
func vpnPolicy(cfg config.Config, src engine.Source) vpn.Policy {
	pol := cfg.VPNPolicy()
	if s, ok := src.(*sim.Source); ok && pol.Profile == "" {
		if name := s.Scenario().VPNProfile(); name != "" {
			pol.Profile, pol.Auto = name, true
		}
	}
	return pol
}

// journalStatus shows a journal problem as a standing warning (and an
// event), and clears it when writing resumes.
func (r *running) journalStatus(st journal.Status) {
	if r.eng == nil {
		return
	}
	if st.OK {
		r.eng.SetWarning("journal", "")
		r.eng.AddEvents(netstate.Event{Time: time.Now(), Kind: netstate.EventJournal, Level: netstate.LevelGreen, Text: "Journal written again: nothing lost"})
		return
	}
	text := st.Problem + "; fieldlink keeps working and holds the record in memory"
	r.eng.SetWarning("journal", text)
	r.eng.AddEvents(netstate.Event{Time: time.Now(), Kind: netstate.EventJournal, Level: netstate.LevelAmber, Text: st.Problem})
}
