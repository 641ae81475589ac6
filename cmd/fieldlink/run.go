package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/fieldlink/fieldlink/backend/agent"
	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/charge"
	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/control"
	"github.com/fieldlink/fieldlink/backend/demohistory"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/fleet/upload"
	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/probe"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/backend/sim"
	"github.com/fieldlink/fieldlink/backend/simpin"
	"github.com/fieldlink/fieldlink/backend/system"
	"github.com/fieldlink/fieldlink/backend/traffic"
	"github.com/fieldlink/fieldlink/backend/vpn"
)

// running is an engine started for a front end: in charge of the device,
// or a client of the one that is.
type running struct {
	eng   *engine.Engine
	role  engine.Role
	claim *charge.Claim
	errs  chan error
	// rec journals what the holder sees; nil for clients.
	rec     *journal.Recorder
	recDone chan struct{}
	journal string
	// agent answers NetworkManager's requests for secrets: the holder's,
	// for the whole device.
	agent *agent.Agent
	// screen is a client's window onto the holder's agent (tui, kiosk).
	screen *control.Screen
	cfg    config.Config
	// visitLimit spaces the visit marks a client's account may ask for.
	visitLimit control.Spacing
	// apartJournal is a demo apart's own journal, removed when it ends.
	apartJournal string
	// joiner joins Wi-Fi networks (the holder's source); joining is
	// set while one join runs.
	joiner  join.Joiner
	joining atomic.Bool
}

// stop waits (a little) for the journal's last write after ctx ended, and
// gives the charge up.
func (r *running) stop() {
	if r.rec != nil {
		select {
		case <-r.recDone:
		case <-time.After(3 * time.Second):
		}
	}
	r.claim.Release()
	if r.apartJournal != "" {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(r.apartJournal + suffix)
		}
	}
}

// locate finds the holder's socket, for a client.
func (r *running) locate(ctx context.Context) (string, int, bool, error) {
	h, path, ok, err := r.claim.Locate(ctx)
	return path, h.PID, ok, err
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
func (r *running) report() (*report.Report, error) {
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
	names, _ := areaMap(r.cfg)
	return report.Build(ctx, j.DB(), report.Query{Since: since, Device: j.Device().ID, Areas: names, PeriodsOfUse: true,
		VisitShare: r.cfg.Journal.VisitShare, DeviceShare: r.cfg.Journal.DeviceShare, Recent: 12})
}

// start claims charge of the device (or finds who has it) and runs the
// engine: the holder probes, fails over, acts, journals and serves its
// clients; a client follows the holder and changes nothing itself.
func (c *common) start(ctx context.Context, cfg config.Config, src engine.Source, mode string) (*running, error) {
	claim, err := c.claim(ctx, mode)
	if err != nil {
		return nil, err
	}
	r := &running{claim: claim, errs: make(chan error, 2), cfg: cfg, role: engine.Observer,
		// A key held down or a script must not journal hundreds of empty visits.
		visitLimit: control.Spacing{Every: time.Second}}
	if claim.InCharge {
		r.role = engine.Holder
	}
	names, namesErr := areaMap(cfg)
	opts := engine.Options{Thresholds: cfg.NetThresholds(), Role: r.role, Holder: holderName(claim), Areas: names,
		Metered: cfg.MeteredProfiles()}
	if r.role == engine.Holder {
		if err := c.holderOptions(r, &opts, src); err != nil {
			claim.Release()
			return nil, err
		}
	}
	r.eng = engine.New(src, opts)
	if claim.Warning != "" {
		r.eng.SetWarning("charge", claim.Warning)
	}
	if namesErr != nil {
		r.eng.SetWarning("areas", oneLine(namesErr)+" (places are shown as codes until it is fixed)")
	}
	if r.rec != nil {
		go func() {
			defer close(r.recDone)
			r.rec.Run(ctx)
			r.rec.Close()
		}()
	}
	go func() { r.errs <- r.eng.Run(ctx) }()
	if r.role == engine.Holder {
		c.runHolder(ctx, r, src, mode, opts.VPN != nil)
	} else if mode == "tui" || mode == "kiosk" {
		r.screen = control.NewScreen()
		go control.FollowAsScreen(ctx, r.locate, r.eng, time.Now, r.following, r.screen)
	} else {
		go control.Follow(ctx, r.locate, r.eng, time.Now, r.following)
	}
	return r, nil
}

// holderName is who holds the device, for a client's screen ("" when it
// cannot tell).
func holderName(claim *charge.Claim) string {
	if claim.InCharge || claim.Holder.PID == 0 {
		return ""
	}
	return claim.Holder.String()
}

// holderOptions gives the holder what only it has: the failover policy,
// the VPN keeper, the probes, the secret agent and the journal.
func (c *common) holderOptions(r *running, opts *engine.Options, src engine.Source) error {
	opts.Failover = failover.New(c.failoverPolicy(r.cfg))
	r.agent = newAgent(r, src)
	if pol := c.vpnPolicy(r.cfg, src); pol.Profile != "" {
		if a := r.agent; a != nil {
			pol.AgentReady = a.Ready
		}
		opts.VPN = vpn.New(pol)
	}
	if act, ok := src.(engine.Actuator); ok {
		opts.Actuator = act
	}
	if j, ok := src.(join.Joiner); ok {
		r.joiner = j
	}
	if _, real := src.(*system.Source); real && !c.noProbe {
		pc := r.cfg.ProbeConfig()
		bind := probe.CanBind()
		opts.Prober = probe.NewProber(pc, probe.Dialer{Timeout: pc.Timeout, NoBind: !bind}, nil, bind).WithTraffic(traffic.Kernel{})
	}
	rec, err := c.recorder(r, opts.Areas)
	if err != nil {
		return err
	}
	opts.Recorder = rec
	return nil
}

// recorder opens the holder's journal. It is written whether or not there
// is a network, and whether or not its file can be opened yet (read-only
// or full at boot): the recorder keeps a bounded backlog and retries.
func (c *common) recorder(r *running, names *areas.Map) (*journal.Recorder, error) {
	path, err := c.journalPathFor(r.cfg, r.claim.DemoJournal())
	if err != nil {
		return nil, err
	}
	if r.claim.Apart {
		r.apartJournal = path
	}
	jo := journalOptions(r.cfg)
	if !c.simulated() {
		// The real system's pictures are timed by the wall clock: a steady
		// one is sampled again at the heartbeat.
		jo.Resample = jo.Heartbeat
	}
	jo.Areas = names
	jo.OnStatus = func(st journal.Status) { r.journalStatus(st) }
	jo.OnVisit = func(v netstate.VisitStatus) {
		if r.eng != nil {
			r.eng.SetVisit(v)
		}
	}
	r.journal = path
	demo := c.simulated()
	r.rec = journal.NewRecorderOpening(func() (*journal.Journal, error) {
		j, err := journal.Open(path)
		if err == nil && demo {
			// Simulated sessions say so in every report and export,
			// and are refused by a fleet's import unless asked for.
			err = j.MarkDemo(context.Background())
			if err == nil {
				// A first demo's report shows what reports are for: four
				// weeks of visits on three operators in named areas.
				err = demohistory.Seed(context.Background(), j, time.Now())
			}
			if err != nil {
				j.Close()
				j = nil
			}
		}
		return j, err
	}, jo)
	r.recDone = make(chan struct{})
	return r.rec, nil
}

// runHolder starts what the holder runs beside the engine: the fleet
// sync, the secret agent, the orphaned VPNs' reaper, the SIM PIN prompts
// and the control socket.
func (c *common) runHolder(ctx context.Context, r *running, src engine.Source, mode string, keepsVPN bool) {
	if r.journal != "" && !c.simulated() && r.cfg.Sync.Server != "" {
		news := make(aheadNews, 1)
		go r.syncLoop(ctx, r.cfg, time.Now, news)
		go r.watchAhead(ctx, news)
	}
	// One agent for the device, the holder's: NetworkManager asks only
	// agents of the account that asked for an activation (the service's),
	// and the prompts go to the screens where the clinician is.
	r.runAgent(ctx)
	if sys, ok := src.(*system.Source); ok && keepsVPN {
		go sys.ReapOrphanVPNs(ctx, func(ev netstate.Event) { r.eng.AddEvents(ev) })
	}
	r.askSIMPINs(ctx, src)
	r.serve(ctx, mode)
}

// newAgent makes the secret agent, so that NetworkManager's requests for
// Wi-Fi keys and VPN passwords are asked for on this device's screens; nil
// when there is no NetworkManager to ask (a demo) or it is turned off.
func newAgent(r *running, src engine.Source) *agent.Agent {
	sys, ok := src.(*system.Source)
	if !ok || !r.cfg.Agent.Enabled {
		return nil
	}
	opt := agent.Options{Timeout: r.cfg.Agent.PromptTimeout.D(),
		Event:   func(ev netstate.Event) { r.eng.AddEvents(ev) },
		Stopped: func(profile, why string) { r.eng.VPNHold(profile, why) }}
	if r.cfg.Agent.RememberVPN {
		opt.Remember = agent.Remember{Until: r.cfg.Agent.DayEnds.D(), Max: r.cfg.Agent.RememberMax.D()}
	}
	return agent.New(sys.Conn(), opt)
}

// runAgent registers the agent and says so on the screen when it cannot.
func (r *running) runAgent(ctx context.Context) {
	if r.agent == nil {
		return
	}
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

// askSIMPINs has the device's agent ask the clinician for a locked SIM's
// PIN and gives it to ModemManager.
func (r *running) askSIMPINs(ctx context.Context, src engine.Source) {
	sys, ok := src.(*system.Source)
	if !ok || r.agent == nil {
		return
	}
	k := simpin.New(r.agent, sys, func(ev netstate.Event) { r.eng.AddEvents(ev) })
	states, stop := r.eng.Subscribe()
	go func() {
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case st := <-states:
				k.Observe(&st.Snapshot)
			}
		}
	}()
}

// following tells a client's screen whether it hears from the holder.
func (r *running) following(ok bool, err error) {
	switch {
	case ok:
		r.eng.SetWarning("follow", "")
		if r.claim.Warning != "" {
			r.eng.SetWarning("charge", "")
		}
	case errors.Is(err, control.ErrNobody):
		r.eng.SetHolder("")
		if r.claim.Warning != "" {
			r.eng.SetWarning("charge", r.claim.Warning)
		} else {
			r.eng.SetWarning("follow", "no fieldlink is in charge of this device: nothing probes, fails over or keeps the VPN up")
		}
	default:
		r.eng.SetWarning("follow", "the fieldlink in charge is not answering: showing NetworkManager's picture only")
	}
}

// serve answers the holder's clients: anyone on the device may watch
// (device-wide holders), and requests are decided by the asking account.
func (r *running) serve(ctx context.Context, mode string) {
	perm := os.FileMode(0o600)
	if r.claim.Scope == charge.Device {
		perm = 0o666
		if err := os.MkdirAll(charge.RunDir(), 0o755); err != nil {
			r.eng.AddEvents(warning(fmt.Sprintf("other screens cannot follow this instance: %v", err)))
			return
		}
	}
	self := r.claim.Holder
	self.Mode = mode
	go func() {
		so := control.ServeOptions{Holder: self.String(), Mode: perm, Handle: r.handle,
			MayAnswer: func(p control.Peer) bool { return charge.PeerMayAct(p.PID, p.UID, os.Geteuid()) },
			Classify:  classify}
		if r.agent != nil {
			so.Prompts = r.agent
		}
		err := control.Serve(ctx, r.claim.Socket(), r.eng, so)
		if err != nil {
			r.eng.AddEvents(warning(fmt.Sprintf("other screens cannot follow this instance: %v", err)))
		}
	}()
}

// classify puts root and this instance's account in their own pool of
// connections, the fieldlink group in the members' pool, and every other
// account in the small pool of watchers.
func classify(p control.Peer) control.Class {
	switch {
	case p.UID == 0 || p.UID == os.Geteuid():
		return control.Privileged
	case charge.PeerMayAct(p.PID, p.UID, os.Geteuid()):
		return control.Member
	}
	return control.Guest
}

// handle carries out a client's request if its account may: root, this
// instance's own account and members of the fieldlink group act; anyone
// else watches, except that [technician] act lets them connect the VPN.
func (r *running) handle(p control.Peer, op string, args json.RawMessage) control.Reply {
	may := charge.PeerMayAct(p.PID, p.UID, os.Geteuid())
	who := charge.Describe(p.PID, p.UID).User
	if who == "" {
		who = fmt.Sprintf("uid %d", p.UID)
	}
	refuse := func(what string) control.Reply {
		return control.Reply{Refused: true, Text: fmt.Sprintf("Your account (%s) may watch but not %s: IT adds clinicians to the %q group.", who, what, charge.Group)}
	}
	switch op {
	case control.OpConnectVPN:
		if !may && !r.cfg.Technician.Act {
			return refuse("connect the VPN ([technician] act = true lets any account)")
		}
		r.eng.AddEvents(netstate.Event{Time: time.Now(), Kind: netstate.EventDecision, Text: who + " asked to connect the VPN"})
		if !r.eng.ConnectVPN() {
			return control.Reply{Text: "No VPN is configured on the fieldlink in charge."}
		}
		return control.Reply{Text: "The fieldlink in charge is connecting the VPN."}
	case control.OpVisit:
		if !may {
			return refuse("mark visits")
		}
		if r.rec == nil {
			return control.Reply{Refused: true, Text: "The fieldlink in charge keeps no journal."}
		}
		if !r.visitLimit.Allow(p.UID, time.Now()) {
			return control.Reply{Refused: true, Text: "Visit just marked: press v again in a moment."}
		}
		text, err := r.markVisit()
		if err != nil {
			return control.Reply{Refused: true, Text: "Visit not recorded: " + err.Error()}
		}
		return control.Reply{Text: text}
	case control.OpScan, control.OpJoin:
		return r.handleJoin(p, op, args, who)
	case control.OpReport:
		if !may {
			return refuse("read the journal")
		}
		rep, err := r.report()
		if err != nil {
			return control.Reply{Refused: true, Text: err.Error()}
		}
		b, err := json.Marshal(rep)
		if err != nil {
			return control.Reply{Refused: true, Text: err.Error()}
		}
		return control.Reply{Data: b}
	}
	return control.Reply{Refused: true, Text: "The fieldlink in charge does not know " + op + "."}
}

// ask sends a request to the holder and words the answer for the screen.
func (r *running) ask(ctx context.Context, op string) (control.Reply, error) {
	rep, err := control.Request(ctx, r.locate, op)
	if err != nil {
		return rep, err
	}
	if rep.Refused {
		return rep, errors.New(rep.Text)
	}
	return rep, nil
}

// vpnPolicy is the configured VPN; a demo whose scenario has a VPN link
// keeps that one when the config names none, so the demo shows the VPN
// coming up and following a failover. A scenario played faster waits
// faster too.
func (c *common) vpnPolicy(cfg config.Config, src engine.Source) vpn.Policy {
	pol := cfg.VPNPolicy()
	if s, ok := src.(*sim.Source); ok && pol.Profile == "" {
		if name := s.Scenario().VPNProfile(); name != "" {
			pol.Profile, pol.Auto = name, true
		}
	}
	for _, d := range []*time.Duration{&pol.ActivationTimeout, &pol.RetryMin, &pol.RetryMax} {
		*d = c.scaled(*d)
	}
	return pol
}

// failoverPolicy is the configured policy, every duration scaled for a
// scenario played faster (--speed): a demo at 4x shows the fail-back a
// real day would, a quarter as late.
func (c *common) failoverPolicy(cfg config.Config) failover.Policy {
	p := cfg.FailoverPolicy()
	if p.RetryAfter <= 0 {
		p.RetryAfter = failover.DefaultPolicy().RetryAfter
	}
	for _, d := range []*time.Duration{&p.RedHold, &p.FailbackAfter, &p.MinDwell, &p.FlapWindow, &p.MaxBackoff,
		&p.ActivationTimeout, &p.RetryAfter} {
		*d = c.scaled(*d)
	}
	return p
}

// scaled is a policy duration at the scenario's speed (real time for the
// real system).
func (c *common) scaled(d time.Duration) time.Duration {
	if !c.simulated() || c.speed == 1 || c.speed <= 0 {
		return d
	}
	return max(time.Duration(float64(d)/c.speed), time.Millisecond)
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

// syncLoop sends the journal to the fleet server every [sync] interval
// while a workable path is up (and the VPN, when one is configured),
// backing off after a failure, and tells every screen when the journal
// last reached the server.
func (r *running) syncLoop(ctx context.Context, cfg config.Config, now func() time.Time, news aheadNews) {
	publish := func(j *journal.Journal) {
		st, err := j.Sync(ctx, cfg.Sync.Server)
		if err == nil {
			r.eng.SetSync(netstate.SyncStatus{Server: cfg.Sync.Server, LastOK: st.LastOK, Error: st.LastError, Sent: st.LastSent})
		}
	}
	if j, err := journal.Open(r.journal); err == nil {
		publish(j)
		j.Close()
	}
	interval := cfg.Sync.Interval.D()
	backoff := time.Minute
	wait := 15 * time.Second // a first try once the path has settled
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		st := r.eng.Current()
		p := st.Snapshot.PrimaryLink()
		ready := p != nil && p.Workable() && (cfg.VPN.Profile == "" || st.Work.VPN.Phase == netstate.VPNUp)
		if !ready {
			wait = 30 * time.Second
			continue
		}
		j, err := journal.Open(r.journal)
		if err == nil {
			var res upload.Result
			res, err = syncJournal(ctx, j, cfg)
			if res.Ahead != nil {
				select {
				case news <- res.Ahead:
				default: // the one before is still unread: the next sync brings another
				}
			}
			if err != nil {
				// Why the sync could not even start, for the screens.
				if s, serr := j.Sync(ctx, cfg.Sync.Server); serr == nil && s.LastError == "" {
					s.LastError, s.LastTry = err.Error(), now()
					j.SetSync(ctx, s)
				}
			}
			publish(j)
			j.Close()
		}
		if err != nil {
			wait, backoff = backoff, min(2*backoff, interval)
			continue
		}
		wait, backoff = interval, time.Minute
	}
}
