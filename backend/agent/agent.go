// Package agent is fieldlink's NetworkManager secret agent: when
// NetworkManager needs a Wi-Fi key, an 802.1X password or a VPN password or
// one-time code, it asks the agent, and the agent asks the person at the
// screen. On a kiosk with no desktop there is no other agent, and without
// one an activation that needs a secret fails silently.
//
// Secrets go only to NetworkManager. A Request carries what to ask, never
// an answer; answers pass straight from Answer to the D-Bus reply and are
// kept nowhere. Only NetworkManager itself may ask: any other process on
// the bus could otherwise phish the user with a prompt of its making.
package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// D-Bus names, from org.freedesktop.NetworkManager.SecretAgent.xml and
// AgentManager.xml.
const (
	nmName      = "org.freedesktop.NetworkManager"
	managerPath = dbus.ObjectPath("/org/freedesktop/NetworkManager/AgentManager")
	managerIf   = nmName + ".AgentManager"
	// Path is where NetworkManager calls its agents.
	Path  = dbus.ObjectPath("/org/freedesktop/NetworkManager/SecretAgent")
	iface = nmName + ".SecretAgent"
	// Identifier names fieldlink's agent to NetworkManager, which allows
	// one agent per identifier and user: a second fieldlink cannot take
	// the prompts from the first.
	Identifier = "uk.nhs.fieldlink"
)

// GetSecrets flags (NMSecretAgentGetSecretsFlags).
const (
	flagAllowInteraction = 0x1
	flagRequestNew       = 0x2
)

// capVPNHints (NM_SECRET_AGENT_CAPABILITY_VPN_HINTS) tells NetworkManager
// the agent answers a VPN plugin's own questions (OpenVPN's dynamic
// challenge); without it NetworkManager starts plugins non-interactively
// and a one-time code cannot be asked for at all.
const capVPNHints = 0x1

// Field is one thing to ask for.
type Field struct {
	Key    string // the setting's key ("psk", "password")
	Label  string // what the screen calls it
	Secret bool   // masked while typed
	Value  string // a non-secret's current value, to show
}

// Request is a prompt for the screen. It holds no secret.
type Request struct {
	ID uint64
	// Title says what asks and for what: "Wi-Fi network NHS-Community
	// needs its key".
	Title string
	// Detail is the VPN server's own words (a challenge), or that the
	// last answer was refused.
	Detail   string
	Fields   []Field
	Deadline time.Time
	// Withdrawn is set when NetworkManager no longer needs the answer, or
	// the time ran out: the screen drops the prompt.
	Withdrawn bool
	Reason    string
	// Kept says how long the answer is remembered, when it is ("in
	// memory until 20:00"); empty: not at all.
	Kept string
}

// Options configure an agent.
type Options struct {
	// Timeout is how long a prompt waits for an answer (default 90 s;
	// NetworkManager itself gives up after 120 s).
	Timeout time.Duration
	// Remember keeps a VPN log-in for the working day (zero: never).
	Remember Remember
	// Event is told what happened (asked, answered, cancelled), in words
	// that never hold a secret.
	Event func(netstate.Event)
	// Stopped is told when a VPN activation will get no answer from the
	// agent, and why in words: the server refused the log-in twice, or the
	// clinician cancelled the prompt or left it unanswered. The VPN then
	// waits for the clinician rather than trying again by itself.
	Stopped func(profile, why string)
	Now     func() time.Time
}

// Agent is a registered secret agent.
type Agent struct {
	conn    *bus.Conn
	opt     Options
	screens *screens
	mem     *memory

	mu         sync.Mutex
	next       uint64
	pending    map[uint64]*pending
	owner      string // NetworkManager's unique name: the only caller obeyed
	registered bool
	// done: Run returned (another agent holds the name, or it could not
	// export itself), so it will never register.
	done     bool
	attempts map[string]*attempt
	prompts  map[string]int // prompts shown, by local day ("2026-12-03")
}

type pending struct {
	req     Request
	path    dbus.ObjectPath
	setting string
	section string
	vpn     bool
	name    string
	uuid    string
	keep    bool // a VPN log-in to remember once answered
	reply   chan reply
	// local is a prompt of fieldlink's own (a SIM's PIN), not
	// NetworkManager's: its answer goes to this function.
	local func(values map[string]string, err error)
}

type reply struct {
	values map[string]string
	err    *dbus.Error
}

// attempt is what the agent knows of one activation of a VPN profile: the
// plugin's questions and the agent's answers, so that a question asked
// again after an answer reads as the server's refusal of it.
type attempt struct {
	last       time.Time
	answered   bool
	fromMemory bool
	refusals   int
}

// attemptGap separates activations: a question this long after the last
// one starts a new attempt.
const attemptGap = 2 * time.Minute

// New returns an agent on conn; Run registers it.
func New(conn *bus.Conn, opt Options) *Agent {
	if opt.Timeout <= 0 {
		opt.Timeout = 90 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Event == nil {
		opt.Event = func(netstate.Event) {}
	}
	if opt.Stopped == nil {
		opt.Stopped = func(string, string) {}
	}
	return &Agent{conn: conn, opt: opt, screens: newScreens(), mem: newMemory(), pending: map[uint64]*pending{},
		attempts: map[string]*attempt{}, prompts: map[string]int{}}
}

// Attach adds a screen where the clinician may answer: it receives every
// prompt from now on (and those waiting now) and their withdrawals, until
// detach is called.
func (a *Agent) Attach() (<-chan Request, func()) {
	a.mu.Lock()
	var waiting []Request
	for _, p := range a.pending {
		waiting = append(waiting, p.req)
	}
	a.mu.Unlock()
	sort.Slice(waiting, func(i, j int) bool { return waiting[i].ID < waiting[j].ID })
	return a.screens.attach(waiting)
}

// Registered reports whether NetworkManager has the agent now.
func (a *Agent) Registered() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.registered
}

// Ready reports whether an activation now would find the agent: it is
// registered, or it never will be and waiting for it is no use.
func (a *Agent) Ready() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.registered || a.done
}

// PromptsToday is how many prompts the clinician has been shown today.
func (a *Agent) PromptsToday() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.prompts[a.opt.Now().Format(time.DateOnly)]
}

// Forget drops every remembered log-in (a screen lock, the clinician's
// own "sign out"), saying why.
func (a *Agent) Forget(why string) {
	for _, name := range a.mem.forget("") {
		a.opt.Event(netstate.Event{Time: a.opt.Now(), Kind: netstate.EventCredential, Level: netstate.LevelAmber,
			Text: fmt.Sprintf("Forgot the log-in for %s: %s", name, why)})
	}
}

// ErrTaken is returned by Run when another agent (another fieldlink of
// this user) already holds the identifier.
var ErrTaken = errors.New("another fieldlink already answers NetworkManager's prompts")

// lockRule hears a login session being locked: a remembered log-in does
// not outlast the clinician walking away.
var lockRule = bus.Match{Sender: "org.freedesktop.login1", Interface: "org.freedesktop.login1.Session", Member: "Lock"}

// Run exports the agent, registers it with NetworkManager (again after
// each NetworkManager restart, which forgets agents) and unregisters it
// when ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	defer func() {
		a.mu.Lock()
		a.done, a.registered = true, false
		a.mu.Unlock()
	}()
	raw := a.conn.Raw()
	if err := raw.Export(&object{a}, Path, iface); err != nil {
		return fmt.Errorf("export the secret agent: %w", err)
	}
	defer raw.Export(nil, Path, iface)
	if err := a.conn.WatchName(ctx, nmName); err != nil {
		return err
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = a.conn.UnwatchName(uctx, nmName)
		_ = a.conn.RemoveMatch(uctx, lockRule)
	}()
	_ = a.conn.AddMatches(ctx, lockRule) // no login1 (a kiosk without logind): nothing to hear
	sigs, stop := a.conn.Subscribe()
	defer stop()
	err := a.register(ctx)
	if errors.Is(err, ErrTaken) {
		return err
	}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	if err != nil {
		retry.Reset(2 * time.Second)
	}
	for {
		select {
		case <-ctx.Done():
			a.stop()
			return nil
		case s := <-sigs:
			a.signal(ctx, s, retry)
		case <-retry.C:
			if err := a.register(ctx); err != nil && !errors.Is(err, ErrTaken) {
				retry.Reset(time.Second)
			}
		}
	}
}

// stop withdraws every prompt and unregisters.
func (a *Agent) stop() {
	a.cancelAll("fieldlink is stopping")
	a.mem.forget("")
	uctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if a.Registered() {
		_ = a.conn.CallStore(uctx, nmName, managerPath, managerIf+".Unregister", nil)
	}
}

// signal follows NetworkManager across restarts and forgets log-ins when a
// session is locked.
func (a *Agent) signal(ctx context.Context, s *dbus.Signal, retry *time.Timer) {
	if s.Name == lockRule.Interface+"."+lockRule.Member {
		a.Forget("the screen was locked")
		return
	}
	ch, ok := bus.ParseNameOwnerChanged(s)
	if !ok || ch.Name != nmName {
		return
	}
	a.mu.Lock()
	a.registered = false
	a.owner = ch.New
	a.mu.Unlock()
	if ch.Old != "" {
		a.cancelAll("NetworkManager stopped")
	}
	if ch.New != "" {
		// A NetworkManager just on the bus may not answer its agent
		// manager yet: try again soon, since an activation meanwhile
		// finds no agent at all.
		if err := a.register(ctx); err != nil && !errors.Is(err, ErrTaken) {
			retry.Reset(250 * time.Millisecond)
		}
	}
}

func (a *Agent) register(ctx context.Context) error {
	owner, err := a.conn.NameOwner(ctx, nmName)
	if err != nil {
		return err
	}
	if owner == "" {
		return nil // registered when it appears
	}
	a.mu.Lock()
	a.owner = owner
	a.mu.Unlock()
	err = a.conn.CallStore(ctx, nmName, managerPath, managerIf+".RegisterWithCapabilities", []any{Identifier, uint32(capVPNHints)})
	if bus.ErrorName(err) == managerIf+".PermissionDenied" {
		return ErrTaken
	}
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.registered = true
	a.mu.Unlock()
	return nil
}

// AskLocal puts a prompt of fieldlink's own on the screens (a locked SIM's
// PIN, for ModemManager): the answer, or an error when it is cancelled or
// not answered in time, goes to done. The prompt's ID is returned, for
// Withdraw.
func (a *Agent) AskLocal(req Request, done func(values map[string]string, err error)) uint64 {
	p := &pending{name: req.Title, reply: make(chan reply, 1), local: done}
	req = a.hold(p, req, a.opt.Now())
	a.screens.send(req)
	go func() {
		t := time.NewTimer(a.opt.Timeout)
		defer t.Stop()
		select {
		case r := <-p.reply:
			done(r.values, errOf(r))
			clear(r.values)
		case <-t.C:
			if a.take(req.ID) != nil {
				a.screens.send(withdrawn(req, "not answered in time"))
				done(nil, errors.New("not answered in time"))
			} else {
				r := <-p.reply
				done(r.values, errOf(r))
			}
		}
	}()
	return req.ID
}

// Withdraw takes a prompt of fieldlink's own off the screens (it is no
// longer needed).
func (a *Agent) Withdraw(id uint64, why string) {
	if p := a.take(id); p != nil {
		a.screens.send(withdrawn(p.req, why))
		p.reply <- reply{err: &dbus.Error{Name: iface + ".AgentCanceled", Body: []any{why}}}
	}
}

func (a *Agent) take(id uint64) *pending {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending[id]
	delete(a.pending, id)
	return p
}

func errOf(r reply) error {
	if r.err != nil {
		if len(r.err.Body) > 0 {
			if s, ok := r.err.Body[0].(string); ok {
				return errors.New(s)
			}
		}
		return errors.New(r.err.Name)
	}
	return nil
}

// Answer hands the user's answer to NetworkManager: only the keys the
// prompt asked for, since NetworkManager saves any other key into the
// profile and every later activation of it then fails.
func (a *Agent) Answer(id uint64, values map[string]string) error {
	a.mu.Lock()
	p := a.pending[id]
	delete(a.pending, id)
	a.mu.Unlock()
	if p == nil {
		return errors.New("NetworkManager no longer needs this answer")
	}
	own := make(map[string]string, len(p.req.Fields))
	for _, f := range p.req.Fields {
		if v, ok := values[f.Key]; ok {
			own[f.Key] = v
		}
	}
	p.reply <- reply{values: own}
	a.screens.send(withdrawn(p.req, "answered"))
	if p.local == nil {
		a.opt.Event(netstate.Event{Time: a.opt.Now(), Kind: netstate.EventCredential, Level: netstate.LevelGreen,
			Text: fmt.Sprintf("Gave NetworkManager the %s for %s", fieldNames(p.req.Fields), p.name)})
	}
	return nil
}

// Cancel tells NetworkManager the user declined.
func (a *Agent) Cancel(id uint64) {
	a.mu.Lock()
	p := a.pending[id]
	delete(a.pending, id)
	a.mu.Unlock()
	if p == nil {
		return
	}
	p.reply <- reply{err: &dbus.Error{Name: iface + ".UserCanceled", Body: []any{"cancelled at the screen"}}}
	a.screens.send(withdrawn(p.req, "cancelled"))
	if p.vpn {
		a.opt.Stopped(vpnName(p.name), "the log-in was cancelled at the screen")
	}
	a.opt.Event(netstate.Event{Time: a.opt.Now(), Kind: netstate.EventCredential, Level: netstate.LevelAmber,
		Text: fmt.Sprintf("Prompt for %s cancelled", p.name)})
}

func (a *Agent) cancelAll(why string) {
	a.mu.Lock()
	ps := a.pending
	a.pending = map[uint64]*pending{}
	a.mu.Unlock()
	for _, p := range ps {
		p.reply <- reply{err: &dbus.Error{Name: iface + ".AgentCanceled", Body: []any{why}}}
		a.screens.send(withdrawn(p.req, why))
	}
}

func withdrawn(r Request, why string) Request {
	r.Withdrawn, r.Reason = true, why
	return r
}

// object is what NetworkManager calls.
type object struct{ a *Agent }

// GetSecrets implements SecretAgent.GetSecrets: it answers from a
// remembered log-in, or asks at the screen and blocks until the user
// answers, cancels or the prompt times out (godbus runs each call on its
// own goroutine).
func (o *object) GetSecrets(sender dbus.Sender, conn map[string]map[string]dbus.Variant, path dbus.ObjectPath,
	setting string, hints []string, flags uint32) (map[string]map[string]dbus.Variant, *dbus.Error) {
	a := o.a
	if err := a.checkCaller(string(sender)); err != nil {
		return nil, err
	}
	name := describe(conn)
	req, section, vpn := prompt(conn, setting, hints, name)
	p := &pending{path: path, setting: setting, section: section, vpn: vpn, name: name, reply: make(chan reply, 1),
		uuid: str(conn, "connection", "uuid")}
	if p.uuid == "" {
		p.uuid = string(path)
	}
	if vpn {
		if out, err, done := a.vpnTurn(p, &req, vpnMessage(hints), flags); done {
			return out, err
		}
	}
	if flags&flagRequestNew != 0 && req.Detail == "" {
		req.Detail = "The last one was not accepted."
	}
	if flags&flagAllowInteraction == 0 {
		// fieldlink keeps no secrets but a log-in of today; without
		// asking there is nothing.
		return nil, &dbus.Error{Name: iface + ".NoSecrets", Body: []any{"fieldlink keeps no secrets"}}
	}
	return a.ask(p, req)
}

// vpnTurn decides a VPN request before any prompt: the plugin asking again
// after an answer means the server refused it (forget it; ask once more;
// then stop), a message of the server's own is a challenge (ask it, in its
// words, never remember the code), and anything else may be answered from
// today's log-in. done says the reply is decided.
func (a *Agent) vpnTurn(p *pending, req *Request, msg string, flags uint32) (map[string]map[string]dbus.Variant, *dbus.Error, bool) {
	now := a.opt.Now()
	at := a.attempt(p.uuid, msg, now)
	switch {
	case at.answered && refusalMessage(msg):
		at.refusals++
		at.answered = false
		a.mem.forget(p.uuid)
		if at.refusals >= 2 {
			a.opt.Event(netstate.Event{Time: now, Kind: netstate.EventCredential, Level: netstate.LevelRed,
				Text: fmt.Sprintf("The VPN server refused the password for %s: not trying again", vpnName(p.name))})
			a.opt.Stopped(vpnName(p.name), "the VPN server refused the password for "+vpnName(p.name))
			return nil, &dbus.Error{Name: iface + ".UserCanceled", Body: []any{"the VPN server refused the password again"}}, true
		}
		req.Detail = "The VPN server refused that password. Type it again (one more try)."
		if at.fromMemory {
			req.Detail = "The VPN server refused the password typed earlier today. Type it again."
		}
	case msg != "" && !refusalMessage(msg):
		// The server's challenge: its own words, and the answer goes back
		// as the password key, as the plugin expects.
		req.Detail = msg
		if len(req.Fields) == 1 && req.Fields[0].Key == "password" {
			// OpenVPN's dynamic challenge: the code goes back as the
			// password.
			req.Title = p.name + " asks for a one-time code"
			req.Fields[0].Label = "One-time code"
		}
		return nil, nil, false
	default:
		if vals, ok := a.mem.answer(p.uuid, keysOf(req.Fields), now); ok {
			at.answered, at.fromMemory = true, true
			a.opt.Event(netstate.Event{Time: now, Kind: netstate.EventCredential, Level: netstate.LevelGreen,
				Text: fmt.Sprintf("Answered NetworkManager for %s with today's log-in (no prompt)", p.name)})
			out := secrets(p.section, true, vals)
			clear(vals)
			return out, nil, true
		}
	}
	p.keep = a.opt.Remember.Until > 0
	if p.keep {
		req.Kept = "in memory until " + a.opt.Remember.expiry(now).Format("15:04") + ", to re-make the VPN without asking"
	}
	return nil, nil, false
}

// attempt returns the profile's current attempt, starting a new one after
// a pause or when the plugin asks afresh: a question without a message
// begins an activation (the plugin's re-asks always carry one).
func (a *Agent) attempt(uuid, msg string, now time.Time) *attempt {
	a.mu.Lock()
	defer a.mu.Unlock()
	at := a.attempts[uuid]
	if at == nil || now.Sub(at.last) > attemptGap || msg == "" {
		at = &attempt{}
		a.attempts[uuid] = at
	}
	at.last = now
	return at
}

// hold numbers a prompt, gives it its deadline, keeps it pending and
// counts it in today's prompts.
func (a *Agent) hold(p *pending, req Request, now time.Time) Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next++
	req.ID = a.next
	req.Deadline = now.Add(a.opt.Timeout)
	p.req = req
	a.pending[req.ID] = p
	a.prompts[now.Format(time.DateOnly)]++
	return req
}

// ask puts a prompt on every screen and waits for the answer.
func (a *Agent) ask(p *pending, req Request) (map[string]map[string]dbus.Variant, *dbus.Error) {
	now := a.opt.Now()
	req = a.hold(p, req, now)
	where := ""
	if a.screens.count() == 0 {
		where = "; waiting for a screen to show it on"
	}
	a.opt.Event(netstate.Event{Time: now, Kind: netstate.EventPrompt, Level: netstate.LevelAmber,
		Text: fmt.Sprintf("NetworkManager asks for the %s for %s%s", fieldNames(req.Fields), p.name, where)})
	a.screens.send(req)
	timer := time.NewTimer(a.opt.Timeout)
	defer timer.Stop()
	var r reply
	select {
	case r = <-p.reply:
	case <-timer.C:
		a.mu.Lock()
		_, still := a.pending[req.ID]
		delete(a.pending, req.ID)
		a.mu.Unlock()
		if !still {
			r = <-p.reply // answered as the time ran out
			break
		}
		a.screens.send(withdrawn(req, "not answered in time"))
		if p.vpn {
			a.opt.Stopped(vpnName(p.name), "nobody answered the log-in prompt")
		}
		a.opt.Event(netstate.Event{Time: a.opt.Now(), Kind: netstate.EventCredential, Level: netstate.LevelRed,
			Text: fmt.Sprintf("Prompt for %s not answered within %s", p.name, a.opt.Timeout.Round(time.Second))})
		return nil, &dbus.Error{Name: iface + ".UserCanceled", Body: []any{"not answered in time"}}
	}
	if r.err != nil {
		return nil, r.err
	}
	if p.vpn {
		a.answered(p, r.values)
	}
	out := secrets(p.section, p.vpn, r.values)
	clear(r.values)
	return out, nil
}

// answered notes a VPN answer in its attempt, and remembers a log-in (not
// a one-time code) for the working day.
func (a *Agent) answered(p *pending, values map[string]string) {
	now := a.opt.Now()
	a.mu.Lock()
	if at := a.attempts[p.uuid]; at != nil {
		at.answered, at.fromMemory, at.last = true, false, now
	}
	a.mu.Unlock()
	if p.keep && len(values) > 0 {
		a.mem.keep(p.uuid, p.name, values, a.opt.Remember.expiry(now))
	}
}

// CancelGetSecrets implements SecretAgent.CancelGetSecrets: NetworkManager
// gave up on the activation; the prompt goes.
func (o *object) CancelGetSecrets(sender dbus.Sender, path dbus.ObjectPath, setting string) *dbus.Error {
	a := o.a
	if err := a.checkCaller(string(sender)); err != nil {
		return err
	}
	a.mu.Lock()
	var gone []*pending
	for id, p := range a.pending {
		if p.path == path && p.setting == setting {
			gone = append(gone, p)
			delete(a.pending, id)
		}
	}
	a.mu.Unlock()
	for _, p := range gone {
		p.reply <- reply{err: &dbus.Error{Name: iface + ".AgentCanceled", Body: []any{"cancelled by NetworkManager"}}}
		a.screens.send(withdrawn(p.req, "NetworkManager no longer needs it"))
	}
	return nil
}

// SaveSecrets implements SecretAgent.SaveSecrets: fieldlink keeps no
// secrets on disk, so there is nothing to save.
func (o *object) SaveSecrets(sender dbus.Sender, conn map[string]map[string]dbus.Variant, path dbus.ObjectPath) *dbus.Error {
	return o.a.checkCaller(string(sender))
}

// DeleteSecrets implements SecretAgent.DeleteSecrets: the profile's
// secrets are gone, so today's log-in for it goes too.
func (o *object) DeleteSecrets(sender dbus.Sender, conn map[string]map[string]dbus.Variant, path dbus.ObjectPath) *dbus.Error {
	if err := o.a.checkCaller(string(sender)); err != nil {
		return err
	}
	o.a.mem.forget(str(conn, "connection", "uuid"))
	return nil
}

func (a *Agent) checkCaller(sender string) *dbus.Error {
	a.mu.Lock()
	owner := a.owner
	a.mu.Unlock()
	if sender == "" || sender != owner {
		a.opt.Event(netstate.Event{Time: a.opt.Now(), Kind: netstate.EventCredential, Level: netstate.LevelRed,
			Text: fmt.Sprintf("Refused a request for secrets from %s: only NetworkManager may ask", sender)})
		return &dbus.Error{Name: iface + ".PermissionDenied", Body: []any{"only NetworkManager may ask"}}
	}
	return nil
}
