// Package app is fieldlink's root Bubble Tea model: it watches the engine's
// state and lays the components out for the terminal it is given, from wide
// desktop terminals down to 40x12.
package app

import (
	"errors"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/fieldlink/fieldlink/backend/agent"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/launch"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/ui/components/links"
	"github.com/fieldlink/fieldlink/ui/components/networks"
	"github.com/fieldlink/fieldlink/ui/components/prompt"
	"github.com/fieldlink/fieldlink/ui/components/work"
	"github.com/fieldlink/fieldlink/ui/keys"
	"github.com/fieldlink/fieldlink/ui/theme"
)

var errNoJournal = errors.New("this fieldlink keeps no journal (an observer reads the one in charge's with 'fieldlink report')")

// Minimum size for a usable screen; below it the app says so.
const (
	MinWidth  = 40
	MinHeight = 12
	// Full layout from here; between the minimum and this, compact.
	fullWidth  = 80
	fullHeight = 24
	// Wide layout (detail beside the list) from here.
	// A side pane for the selected link's details only where the list
	// keeps its full width beside it (at 120 columns the pane squeezed the
	// list to "2 network…").
	wideWidth  = 150
	wideHeight = 30
)

// Options configure the model.
type Options struct {
	// Frames is told of every message the screen handles, to pace its
	// frames (frames.Pacer); nil: the program's fixed rate.
	Frames     interface{ Activity() }
	Theme      *theme.Theme
	Thresholds netstate.Thresholds
	// Location formats event times (default time.Local).
	Location *time.Location
	// States delivers the engine's state; nil for tests that send
	// StateMsg themselves.
	States <-chan engine.State
	// MarkVisit starts or ends a visit and says what it did; nil where
	// this instance does not journal (an observer).
	MarkVisit func() (string, error)
	// Report builds this device's report for the reports view; nil where
	// there is no journal to read.
	Report func() (*report.Report, error)
	// Now is the clock for uptimes and prompt countdowns (default
	// time.Now).
	Now func() time.Time
	// Kiosk: no quit key; AdminKeys (from a root-owned config), pressed in
	// order, are the only way out.
	Kiosk     bool
	AdminKeys []string
	// ConnectVPN asks for the VPN now and says what came of it; nil where
	// this instance may not (an observer, unless technicians may act).
	ConnectVPN func() string
	// App is the clinical application; nil or unconfigured for none, and
	// nil where this account may not start it.
	App *launch.Runner
	// ReadOnly: this account may only watch (the instance in charge refuses
	// its requests, and says so).
	ReadOnly bool
	// AutoLaunch starts App by itself when it is due (launch = on-vpn-up,
	// or the kiosk); otherwise only 'a' does.
	AutoLaunch bool
	// Prompts delivers NetworkManager's requests for secrets; Answer and
	// Cancel reply to them. Nil where this instance is not the agent.
	Prompts <-chan agent.Request
	Answer  func(id uint64, values map[string]string) error
	Cancel  func(id uint64)
	// Scan and Join look for Wi-Fi networks and join one, through the
	// instance in charge, and say what came of the asking (the outcome
	// of a join arrives as an event). Nil where this screen may not.
	Scan func() string
	Join func(join.Request) string
	// JoinPolicy is IT's list of networks, to mark the others; JoinRefusal
	// says why this screen may not join at all ("" when it may). The
	// instance in charge decides again whatever the screen shows.
	JoinPolicy  join.Policy
	JoinRefusal string
}

// reportMsg carries a built report (or why there is none).
type reportMsg struct {
	rep *report.Report
	err error
}

// flashMsg is a one-line answer to a key, shown above the footer.
type flashMsg string

// promptMsg carries a request for secrets (or its withdrawal).
type promptMsg agent.Request

// tickMsg redraws uptimes and countdowns; seq tells a tick still wanted
// from one an earlier tick replaced.
type tickMsg struct{ seq int }

// StateMsg carries a new engine state into the model.
type StateMsg engine.State

// FatalMsg ends the program with an error, such as the network source
// failing for good.
type FatalMsg struct{ Err error }

type screen int

const (
	screenMain screen = iota
	screenDetail
	screenHelp
	screenReports
	screenNetworks
)

// Model is the root model.
type Model struct {
	opt    Options
	keys   keys.Map
	help   help.Model
	width  int
	height int
	state  engine.State
	have   bool
	links  links.Model
	nets   networks.Model
	screen screen
	scroll int
	err    error
	rep    *report.Report
	repErr error
	flash  string
	// prompt is the open request for secrets; queued ones wait their turn.
	prompt   *prompt.Model
	queued   []agent.Request
	ticking  bool
	tickSeq  int
	tickAt   time.Time
	adminPos int
	// adminExit: the kiosk was left by the admin key sequence.
	adminExit bool
}

// AdminExit reports whether the kiosk was left by IT's key sequence.
func (m *Model) AdminExit() bool { return m.adminExit }

// Err is the error that ended the program, if any.
func (m *Model) Err() error { return m.err }

// New returns the root model.
func New(opt Options) *Model {
	if opt.Location == nil {
		opt.Location = time.Local
	}
	if opt.Theme == nil {
		opt.Theme = theme.New(theme.Options{})
	}
	h := help.New()
	t := opt.Theme
	h.Styles = help.Styles{
		ShortKey: t.Key, ShortDesc: t.Desc, ShortSeparator: t.Dim, Ellipsis: t.Dim,
		FullKey: t.Key, FullDesc: t.Desc, FullSeparator: t.Dim,
	}
	h.Ellipsis = t.G.Ellipsis
	h.ShortSeparator = t.G.Sep
	if opt.Now == nil {
		opt.Now = time.Now
	}
	km := keys.New(t.ASCII)
	if opt.Kiosk {
		km.Quit.SetEnabled(false) // and so gone from the help too
	}
	return &Model{opt: opt, keys: km, help: h, width: fullWidth, height: fullHeight}
}

// Init starts watching the engine and NetworkManager's prompts.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.wait(), m.waitPrompt()) }

func (m *Model) waitPrompt() tea.Cmd {
	ch := m.opt.Prompts
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		r, ok := <-ch
		if !ok {
			return nil
		}
		return promptMsg(r)
	}
}

// nextTick is how long until something on screen that counts time reads
// otherwise, and whether anything does: uptimes and a visit's length in
// their own grain (seconds in the first minute, then minutes), the
// prompt's countdown and the details' ages each second while shown.
func (m *Model) nextTick(now time.Time) (time.Duration, bool) {
	w := m.state.Work
	var next time.Duration
	add := func(d time.Duration) {
		if next == 0 || d < next {
			next = d
		}
	}
	if m.prompt != nil || m.screen == screenDetail {
		add(time.Second)
	}
	switch w.VPN.Phase {
	case netstate.VPNUp:
		add(work.NextChange(now.Sub(w.VPN.Since)))
	case netstate.VPNRetrying:
		add(work.NextChangeDown(w.VPN.Retry.Sub(now)))
	}
	if w.App.Phase == netstate.AppRunning {
		add(work.NextChange(now.Sub(w.App.Since)))
	}
	if w.Visit.Open {
		add(time.Minute - max(now.Sub(w.Visit.Since), 0)%time.Minute)
	}
	return next, next > 0
}

// tick asks for a redraw when the next figure that counts time changes;
// a tick already asked for that comes sooner stands.
func (m *Model) tick() tea.Cmd {
	now := m.opt.Now()
	d, ok := m.nextTick(now)
	if !ok {
		return nil
	}
	at := now.Add(d + 5*time.Millisecond) // just past the change
	if m.ticking && !at.Before(m.tickAt) {
		return nil
	}
	m.ticking, m.tickAt = true, at
	m.tickSeq++
	seq := m.tickSeq
	return tea.Tick(at.Sub(now), func(time.Time) tea.Msg { return tickMsg{seq} })
}

// SetFrames sets the pacer of the screen's frames, once the program that
// draws them exists (before it runs).
func (m *Model) SetFrames(f interface{ Activity() }) { m.opt.Frames = f }

// pathWorkable reports whether work can go over the path now.
func (m *Model) pathWorkable() bool {
	l := m.state.Snapshot.PrimaryLink()
	return l != nil && l.Workable()
}

// launch starts the clinical application: a terminal one in place of the
// screen (Bubble Tea hands it the terminal and takes it back), a graphical
// one detached.
func (m *Model) launch() tea.Cmd {
	r := m.opt.App
	if r.Running() {
		m.flash = r.Status().Name + " is already running."
		return nil
	}
	if !r.Terminal() {
		if err := r.StartDetached(); err != nil {
			m.flash = "Could not start " + r.Status().Name + ": " + err.Error()
		}
		return m.tick()
	}
	cmd, err := r.Command()
	if err != nil {
		m.flash = r.Failed(err)
		return nil
	}
	r.Started(0)
	return tea.ExecProcess(cmd, func(err error) tea.Msg { return flashMsg(r.Exited(err)) })
}

func (m *Model) openNext() {
	m.prompt = nil
	if len(m.queued) > 0 {
		m.prompt = prompt.New(m.queued[0])
		m.queued = m.queued[1:]
	}
}

func (m *Model) wait() tea.Cmd {
	ch := m.opt.States
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		s, ok := <-ch
		if !ok {
			return nil
		}
		return StateMsg(s)
	}
}

// Update handles messages.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m.opt.Frames != nil {
		m.opt.Frames.Activity()
	}
	switch msg := msg.(type) {
	case StateMsg:
		m.state, m.have = engine.State(msg), true
		cmds := []tea.Cmd{m.wait(), m.tick()}
		if r := m.opt.App; r != nil && m.opt.AutoLaunch && r.Due(m.state.Work, m.pathWorkable(), m.opt.Kiosk) {
			cmds = append(cmds, m.launch())
		}
		return m, tea.Batch(cmds...)
	case promptMsg:
		r := agent.Request(msg)
		if r.Withdrawn {
			if m.prompt != nil && m.prompt.Req.ID == r.ID {
				m.prompt.Clear()
				m.flash = "Prompt withdrawn (" + r.Reason + "): " + m.prompt.Req.Title
				m.openNext()
			}
			for i, q := range m.queued {
				if q.ID == r.ID {
					m.queued = append(m.queued[:i:i], m.queued[i+1:]...)
					break
				}
			}
			return m, m.waitPrompt()
		}
		if m.prompt == nil {
			m.prompt = prompt.New(r)
		} else {
			m.queued = append(m.queued, r)
		}
		return m, tea.Batch(m.waitPrompt(), m.tick())
	case tickMsg:
		if msg.seq != m.tickSeq {
			return m, nil // replaced by a sooner one
		}
		m.ticking = false
		return m, m.tick()
	case tea.PasteMsg:
		switch {
		case m.prompt != nil:
			m.prompt.Paste(msg.Content)
		case m.screen == screenNetworks:
			m.nets.Paste(msg.Content)
		}
	case FatalMsg:
		m.err = msg.Err
		return m, tea.Quit
	case reportMsg:
		m.rep, m.repErr = msg.rep, msg.err
	case flashMsg:
		m.flash = string(msg)
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
	case tea.KeyPressMsg:
		if m.prompt != nil {
			return m, m.promptKey(msg)
		}
		if m.screen == screenNetworks {
			if m.admin(msg) {
				m.adminExit = true
				return m, tea.Quit
			}
			return m, m.networksKey(msg)
		}
		return m, m.key(msg)
	}
	return m, nil
}

func (m *Model) promptKey(msg tea.KeyPressMsg) tea.Cmd {
	p := m.prompt
	switch p.Key(msg) {
	case prompt.Submit:
		vals := p.Values()
		p.Clear()
		if m.opt.Answer != nil {
			if err := m.opt.Answer(p.Req.ID, vals); err != nil {
				m.flash = err.Error()
			} else {
				m.flash = "Given to NetworkManager."
			}
		}
		clear(vals)
		m.openNext()
	case prompt.Cancel:
		if m.opt.Cancel != nil {
			m.opt.Cancel(p.Req.ID)
		}
		m.flash = "Cancelled: NetworkManager was told."
		m.openNext()
	}
	return nil
}

// admin follows the kiosk's admin key sequence and reports a complete one.
func (m *Model) admin(msg tea.KeyPressMsg) bool {
	seq := m.opt.AdminKeys
	if !m.opt.Kiosk || len(seq) == 0 {
		return false
	}
	k := msg.String()
	switch {
	case k == seq[m.adminPos]:
		m.adminPos++
	case k == seq[0]:
		m.adminPos = 1
	default:
		m.adminPos = 0
	}
	if m.adminPos == len(seq) {
		m.adminPos = 0
		return true
	}
	return false
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	m.flash = ""
	if m.admin(msg) {
		m.adminExit = true
		return tea.Quit
	}
	switch {
	case m.opt.Kiosk && (msg.String() == "q" || msg.String() == "ctrl+c" || msg.String() == "ctrl+z"):
		m.flash = "This is a kiosk: fieldlink stays on screen."
		return nil
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.VPN):
		switch {
		case m.state.Work.VPN.Profile == "":
			m.flash = "No VPN is configured ([vpn] profile in the config)."
		case m.state.Work.VPN.Phase == netstate.VPNUp:
			m.flash = "The VPN is up."
		case m.state.Work.VPN.Phase == netstate.VPNConnecting:
			m.flash = "The VPN is connecting."
		case m.opt.ConnectVPN == nil:
			m.flash = "An observer cannot connect the VPN: the fieldlink in charge does ([technician] act allows it)."
		default:
			m.flash = m.opt.ConnectVPN()
		}
	case key.Matches(msg, k.App):
		switch {
		case m.opt.App == nil && m.state.Role == engine.Observer:
			m.flash = "This account may not start the app here: it runs where the clinician works."
		case m.opt.App == nil || !m.opt.App.Configured():
			m.flash = "No application is configured ([app] command in the config)."
		default:
			return m.launch()
		}
	case key.Matches(msg, k.Visit):
		mark := m.opt.MarkVisit
		if mark == nil {
			m.flash = "Visits cannot be marked here."
			return nil
		}
		return func() tea.Msg {
			text, err := mark()
			if err != nil {
				return flashMsg("Visit not recorded: " + err.Error())
			}
			return flashMsg(text)
		}
	case key.Matches(msg, k.Reports):
		if m.screen == screenReports {
			m.screen = screenMain
			return nil
		}
		m.screen, m.rep, m.repErr = screenReports, nil, nil
		build := m.opt.Report
		if build == nil {
			m.repErr = errNoJournal
			return nil
		}
		return func() tea.Msg {
			r, err := build()
			return reportMsg{r, err}
		}
	case key.Matches(msg, k.Networks):
		m.screen, m.nets = screenNetworks, networks.Model{}
		return m.scanCmd(false)
	case key.Matches(msg, k.Help):
		if m.screen == screenHelp {
			m.screen = screenMain
		} else {
			m.screen, m.scroll = screenHelp, 0
		}
	case key.Matches(msg, k.Back):
		m.screen, m.scroll = screenMain, 0
	case key.Matches(msg, k.Details):
		if m.screen == screenDetail {
			m.screen = screenMain
		} else {
			m.screen, m.scroll = screenDetail, 0
			return m.tick() // its ages count while it is shown
		}
	case key.Matches(msg, k.Up):
		if m.screen == screenDetail || m.screen == screenHelp {
			m.scroll = max(0, m.scroll-1)
		} else {
			m.links.Move(&m.state.Snapshot, -1)
		}
	case key.Matches(msg, k.Down):
		if m.screen == screenDetail || m.screen == screenHelp {
			m.scroll++
		} else {
			m.links.Move(&m.state.Snapshot, 1)
		}
	}
	return nil
}

// networksKey handles a key on the list of Wi-Fi networks.
func (m *Model) networksKey(msg tea.KeyPressMsg) tea.Cmd {
	m.flash = ""
	act, req := m.nets.Key(msg, m.networkRows())
	switch act {
	case networks.Close:
		m.screen = screenMain
	case networks.Scan:
		return m.scanCmd(true)
	case networks.Join:
		switch {
		case m.opt.Join == nil:
			m.flash = "Networks cannot be joined from this screen."
		case m.opt.JoinRefusal != "":
			m.flash = "Not joined: " + m.opt.JoinRefusal + "."
		case !m.opt.JoinPolicy.Allows(req.SSID):
			m.flash = "Not joined: " + req.SSID + " is not on IT's list of networks for this device."
		default:
			do := m.opt.Join
			m.flash = "Asking to join " + req.SSID + "..."
			return func() tea.Msg { return flashMsg(do(req)) }
		}
	}
	return nil
}

// scanCmd asks the radios to look again; loud says what came of it (a
// scan on opening the list is silent unless refused).
func (m *Model) scanCmd(loud bool) tea.Cmd {
	scan := m.opt.Scan
	if scan == nil {
		if loud {
			m.flash = "This screen cannot scan for networks."
		}
		return nil
	}
	return func() tea.Msg {
		text := scan()
		if !loud {
			return nil
		}
		return flashMsg(text)
	}
}

// networkRows are the networks on the list now.
func (m *Model) networkRows() []networks.Row {
	return networks.Rows(&m.state.Snapshot, m.opt.JoinPolicy)
}
