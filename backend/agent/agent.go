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
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

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
	// Detail is the VPN's own message, or that the last answer was refused.
	Detail   string
	Fields   []Field
	Deadline time.Time
	// Withdrawn is set when NetworkManager no longer needs the answer, or
	// the time ran out: the screen drops the prompt.
	Withdrawn bool
	Reason    string
}

// Options configure an agent.
type Options struct {
	// Timeout is how long a prompt waits for an answer (default 90 s;
	// NetworkManager itself gives up after 120 s).
	Timeout time.Duration
	// Event is told what happened (asked, answered, cancelled), in words
	// that never hold a secret.
	Event func(netstate.Event)
	Now   func() time.Time
}

// Agent is a registered secret agent.
type Agent struct {
	conn *bus.Conn
	opt  Options
	reqs chan Request

	mu         sync.Mutex
	next       uint64
	pending    map[uint64]*pending
	owner      string // NetworkManager's unique name: the only caller obeyed
	registered bool
}

type pending struct {
	req     Request
	path    dbus.ObjectPath
	setting string
	section string
	vpn     bool
	name    string
	reply   chan reply
}

type reply struct {
	values map[string]string
	err    *dbus.Error
}

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
	return &Agent{conn: conn, opt: opt, reqs: make(chan Request, 16), pending: map[uint64]*pending{}}
}

// Requests delivers prompts and their withdrawals to the screen.
func (a *Agent) Requests() <-chan Request { return a.reqs }

// Registered reports whether NetworkManager has the agent now.
func (a *Agent) Registered() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.registered
}

// ErrTaken is returned by Run when another agent (another fieldlink of
// this user) already holds the identifier.
var ErrTaken = errors.New("another fieldlink already answers NetworkManager's prompts")

// Run exports the agent, registers it with NetworkManager (again after
// each NetworkManager restart, which forgets agents) and unregisters it
// when ctx ends.
func (a *Agent) Run(ctx context.Context) error {
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
	}()
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
			a.cancelAll("fieldlink is stopping")
			uctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if a.Registered() {
				_ = a.conn.CallStore(uctx, nmName, managerPath, managerIf+".Unregister", nil)
			}
			return nil
		case s := <-sigs:
			ch, ok := bus.ParseNameOwnerChanged(s)
			if !ok || ch.Name != nmName {
				continue
			}
			a.mu.Lock()
			a.registered = false
			a.owner = ch.New
			a.mu.Unlock()
			if ch.Old != "" {
				a.cancelAll("NetworkManager stopped")
			}
			if ch.New != "" {
				if err := a.register(ctx); err != nil && !errors.Is(err, ErrTaken) {
					retry.Reset(2 * time.Second)
				}
			}
		case <-retry.C:
			if err := a.register(ctx); err != nil && !errors.Is(err, ErrTaken) {
				retry.Reset(5 * time.Second)
			}
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
	// Capabilities 0: no VPN hints beyond the plain secrets.
	err = a.conn.CallStore(ctx, nmName, managerPath, managerIf+".RegisterWithCapabilities", []any{Identifier, uint32(0)})
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

// Answer hands the user's answer to NetworkManager.
func (a *Agent) Answer(id uint64, values map[string]string) error {
	a.mu.Lock()
	p := a.pending[id]
	delete(a.pending, id)
	a.mu.Unlock()
	if p == nil {
		return errors.New("NetworkManager no longer needs this answer")
	}
	// A copy of its own: the caller may wipe its map once this returns.
	own := make(map[string]string, len(values))
	for k, v := range values {
		own[k] = v
	}
	p.reply <- reply{values: own}
	a.opt.Event(netstate.Event{Time: a.opt.Now(), Kind: netstate.EventCredential, Level: netstate.LevelGreen,
		Text: fmt.Sprintf("Gave NetworkManager the %s for %s", fieldNames(p.req.Fields), p.name)})
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
		a.withdraw(p, why)
	}
}

func (a *Agent) withdraw(p *pending, why string) {
	r := p.req
	r.Withdrawn, r.Reason = true, why
	select {
	case a.reqs <- r:
	default:
	}
}

// object is what NetworkManager calls.
type object struct{ a *Agent }

// GetSecrets implements SecretAgent.GetSecrets: it blocks until the user
// answers, cancels or the prompt times out (godbus runs each call on its
// own goroutine).
func (o *object) GetSecrets(sender dbus.Sender, conn map[string]map[string]dbus.Variant, path dbus.ObjectPath,
	setting string, hints []string, flags uint32) (map[string]map[string]dbus.Variant, *dbus.Error) {
	a := o.a
	if err := a.checkCaller(string(sender)); err != nil {
		return nil, err
	}
	name := describe(conn)
	if flags&flagAllowInteraction == 0 {
		// fieldlink keeps no secrets; without asking there is nothing.
		return nil, &dbus.Error{Name: iface + ".NoSecrets", Body: []any{"fieldlink keeps no secrets"}}
	}
	p := &pending{path: path, setting: setting, name: name, reply: make(chan reply, 1)}
	req, section, vpn := prompt(conn, setting, hints, name)
	if flags&flagRequestNew != 0 && req.Detail == "" {
		req.Detail = "The last one was not accepted."
	}
	p.section, p.vpn = section, vpn
	a.mu.Lock()
	a.next++
	req.ID = a.next
	req.Deadline = a.opt.Now().Add(a.opt.Timeout)
	p.req = req
	a.pending[req.ID] = p
	a.mu.Unlock()
	a.opt.Event(netstate.Event{Time: a.opt.Now(), Kind: netstate.EventCredential, Level: netstate.LevelAmber,
		Text: fmt.Sprintf("NetworkManager asks for the %s for %s", fieldNames(req.Fields), name)})
	select {
	case a.reqs <- req:
	default:
		a.mu.Lock()
		delete(a.pending, req.ID)
		a.mu.Unlock()
		return nil, &dbus.Error{Name: iface + ".NoSecrets", Body: []any{"too many prompts waiting"}}
	}
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
		a.withdraw(p, "not answered in time")
		a.opt.Event(netstate.Event{Time: a.opt.Now(), Kind: netstate.EventCredential, Level: netstate.LevelRed,
			Text: fmt.Sprintf("Prompt for %s not answered within %s", name, a.opt.Timeout.Round(time.Second))})
		return nil, &dbus.Error{Name: iface + ".UserCanceled", Body: []any{"not answered in time"}}
	}
	if r.err != nil {
		return nil, r.err
	}
	out := secrets(p.section, p.vpn, r.values)
	clear(r.values)
	return out, nil
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
		a.withdraw(p, "NetworkManager no longer needs it")
	}
	return nil
}

// SaveSecrets implements SecretAgent.SaveSecrets: fieldlink keeps no
// secrets, so there is nothing to save.
func (o *object) SaveSecrets(sender dbus.Sender, conn map[string]map[string]dbus.Variant, path dbus.ObjectPath) *dbus.Error {
	return o.a.checkCaller(string(sender))
}

// DeleteSecrets implements SecretAgent.DeleteSecrets: nothing is kept.
func (o *object) DeleteSecrets(sender dbus.Sender, conn map[string]map[string]dbus.Variant, path dbus.ObjectPath) *dbus.Error {
	return o.a.checkCaller(string(sender))
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

func str(conn map[string]map[string]dbus.Variant, section, key string) string {
	switch v := conn[section][key].Value().(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

// describe names a profile for the person at the screen.
func describe(conn map[string]map[string]dbus.Variant) string {
	id := str(conn, "connection", "id")
	switch str(conn, "connection", "type") {
	case "802-11-wireless":
		if ssid := str(conn, "802-11-wireless", "ssid"); ssid != "" {
			return "Wi-Fi network " + ssid
		}
		return "Wi-Fi " + id
	case "vpn", "wireguard":
		return "VPN " + id
	case "gsm":
		return "mobile data " + id
	case "802-3-ethernet":
		return "wired network " + id
	}
	return id
}

// prompt works out what to ask for which setting.
func prompt(conn map[string]map[string]dbus.Variant, setting string, hints []string, name string) (Request, string, bool) {
	r := Request{}
	secret := func(key, label string) { r.Fields = append(r.Fields, Field{Key: key, Label: label, Secret: true}) }
	switch setting {
	case "802-11-wireless-security":
		r.Title = name + " needs its key"
		switch str(conn, setting, "key-mgmt") {
		case "none":
			secret("wep-key0", "WEP key")
		case "wpa-eap", "ieee8021x":
			secret("password", "Password") // handled as 802-1x below by NetworkManager, rarely here
		default:
			secret("psk", "Wi-Fi key")
		}
		return r, setting, false
	case "802-1x":
		r.Title = name + " needs your network log-in"
		if id := str(conn, "802-1x", "identity"); id != "" {
			r.Fields = append(r.Fields, Field{Key: "identity", Label: "User", Value: id})
		} else {
			r.Fields = append(r.Fields, Field{Key: "identity", Label: "User"})
		}
		secret("password", "Password")
		return r, setting, false
	case "vpn":
		r.Title = name + " needs your log-in"
		var keys []string
		for _, h := range hints {
			if msg, ok := strings.CutPrefix(h, "x-vpn-message:"); ok {
				r.Detail = msg
				continue
			}
			if h != "" {
				keys = append(keys, h)
			}
		}
		if len(keys) == 0 {
			keys = []string{"password"}
		}
		sort.SliceStable(keys, func(i, j int) bool { return keys[i] == "password" && keys[j] != "password" })
		for _, k := range keys {
			secret(k, label(k))
		}
		return r, setting, true
	case "wireguard":
		r.Title = name + " needs its private key"
		secret("private-key", "Private key")
		return r, setting, false
	}
	// Mobile data and anything newer: the keys NetworkManager hints at.
	r.Title = name + " needs a secret"
	if setting != "gsm" {
		r.Title += " (" + setting + ")"
	}
	keys := hints
	if len(keys) == 0 {
		keys = []string{"password"}
	}
	for _, k := range keys {
		secret(k, label(k))
	}
	return r, setting, false
}

func label(key string) string {
	switch strings.ToLower(key) {
	case "password":
		return "Password"
	case "pin":
		return "PIN"
	case "otp", "token", "2fa", "challenge", "code":
		return "One-time code"
	case "psk":
		return "Wi-Fi key"
	}
	k := strings.TrimSpace(strings.NewReplacer("-", " ", "_", " ").Replace(key))
	if k == "" {
		return "Secret"
	}
	r, n := utf8.DecodeRuneInString(k)
	return string(unicode.ToUpper(r)) + k[n:]
}

// secrets builds GetSecrets' reply. A VPN's secrets are a string map under
// vpn.secrets; every other setting's are plain keys.
func secrets(section string, vpn bool, values map[string]string) map[string]map[string]dbus.Variant {
	out := map[string]map[string]dbus.Variant{section: {}}
	if vpn {
		m := map[string]string{}
		for k, v := range values {
			m[k] = v
		}
		out[section]["secrets"] = dbus.MakeVariant(m)
		return out
	}
	for k, v := range values {
		out[section][k] = dbus.MakeVariant(v)
	}
	return out
}

func fieldNames(fs []Field) string {
	var names []string
	for _, f := range fs {
		if f.Secret {
			l := f.Label
			if !strings.HasPrefix(l, "Wi-Fi") && !strings.HasPrefix(l, "PIN") && !strings.HasPrefix(l, "WEP") {
				r, n := utf8.DecodeRuneInString(l)
				l = string(unicode.ToLower(r)) + l[n:]
			}
			names = append(names, l)
		}
	}
	if len(names) == 0 {
		return "details"
	}
	return strings.Join(names, " and ")
}
