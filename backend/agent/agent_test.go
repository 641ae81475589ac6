package agent

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
)

const secret = "Corr3ct-Horse-Battery"

type rig struct {
	d      *fakebus.Daemon
	n      *fakebus.NM
	a      *Agent
	conn   *bus.Conn
	mu     sync.Mutex
	events []netstate.Event
	done   chan error
	screen <-chan Request
	detach func()
}

func start(t testing.TB, timeout time.Duration) *rig {
	t.Helper()
	return startWith(t, Options{Timeout: timeout})
}

func startWith(t testing.TB, opt Options) *rig {
	t.Helper()
	r := &rig{d: fakebus.StartDaemon(t), done: make(chan error, 1)}
	var err error
	if r.n, err = fakebus.NewNM(r.d.Address); err != nil {
		t.Fatal(err)
	}
	if r.conn, err = bus.Dial(r.d.Address); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.conn.Close() })
	opt.Event = func(e netstate.Event) {
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
	}
	r.a = New(r.conn, opt)
	r.screen, r.detach = r.a.Attach()
	t.Cleanup(r.detach)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); <-r.done })
	go func() { r.done <- r.a.Run(ctx) }()
	waitFor(t, "registration", func() bool { return len(r.n.Agents()) == 1 && r.a.Registered() })
	return r
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func (r *rig) noSecretInEvents(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if strings.Contains(e.Text, secret) {
			t.Fatalf("the secret reached an event: %q", e.Text)
		}
	}
}

func (r *rig) eventText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.events {
		b.WriteString(e.Text + "\n")
	}
	return b.String()
}

type asked struct {
	out map[string]map[string]dbus.Variant
	err error
}

func (r *rig) ask(p *fakebus.Profile, setting string, hints []string) chan asked {
	ch := make(chan asked, 1)
	go func() {
		out, err := r.n.AskSecrets(p, setting, hints, 1, 10*time.Second)
		ch <- asked{out, err}
	}()
	return ch
}

func (r *rig) profile(t testing.TB, settings map[string]map[string]dbus.Variant) *fakebus.Profile {
	path := r.n.AddProfile(settings)
	for _, p := range r.n.Profiles() {
		if p.Path == path {
			return p
		}
	}
	t.Fatal("no profile")
	return nil
}

// next is the next prompt on the rig's screen (withdrawals of prompts
// answered or cancelled at the screen are skipped).
func next(t *testing.T, r *rig) Request {
	t.Helper()
	for {
		select {
		case q := <-r.screen:
			if q.Withdrawn && (q.Reason == "answered" || q.Reason == "cancelled") {
				continue
			}
			return q
		case <-time.After(5 * time.Second):
			t.Fatal("no prompt")
		}
	}
}

func TestWiFiKeyAnswered(t *testing.T) {
	r := start(t, 10*time.Second)
	p := r.profile(t, fakebus.WiFiProfileSettings("NHS-Community", "NHS-Community"))
	res := r.ask(p, "802-11-wireless-security", []string{"psk"})
	q := next(t, r)
	if q.Title != "Wi-Fi network NHS-Community needs its key" || len(q.Fields) != 1 || q.Fields[0].Key != "psk" || !q.Fields[0].Secret {
		t.Fatalf("prompt %+v", q)
	}
	if err := r.a.Answer(q.ID, map[string]string{"psk": secret}); err != nil {
		t.Fatal(err)
	}
	got := <-res
	if got.err != nil || got.out["802-11-wireless-security"]["psk"].Value() != secret {
		t.Fatalf("NetworkManager got %+v %v", got.out, got.err)
	}
	if err := r.a.Answer(q.ID, map[string]string{"psk": "again"}); err == nil {
		t.Fatal("a second answer to one prompt was taken")
	}
	text := r.eventText()
	if !strings.Contains(text, "NetworkManager asks for the Wi-Fi key for Wi-Fi network NHS-Community") ||
		!strings.Contains(text, "Gave NetworkManager the Wi-Fi key for Wi-Fi network NHS-Community") {
		t.Fatalf("events:\n%s", text)
	}
	r.noSecretInEvents(t)
}

func TestVPNPasswordAndCode(t *testing.T) {
	r := start(t, 10*time.Second)
	p := r.profile(t, fakebus.VPNProfileSettings("NHS-VPN"))
	// A plugin that asks for two things with a message of the server's:
	// both asked, the server's words shown.
	res := r.ask(p, "vpn", []string{"password", "x-vpn-message:Enter the code from your token", "otp"})
	q := next(t, r)
	if q.Title != "VPN NHS-VPN needs your log-in" || q.Detail != "Enter the code from your token" || len(q.Fields) != 2 ||
		q.Fields[0].Label != "Password" || q.Fields[1].Label != "One-time code" {
		t.Fatalf("prompt %+v", q)
	}
	r.a.Answer(q.ID, map[string]string{"password": secret, "otp": "123456", "smuggled": "x"})
	got := <-res
	sec, _ := got.out["vpn"]["secrets"].Value().(map[string]string)
	if got.err != nil || sec["password"] != secret || sec["otp"] != "123456" || len(sec) != 2 {
		t.Fatalf("NetworkManager got %+v %v (only the keys asked may go back)", got.out, got.err)
	}
	// OpenVPN's dynamic challenge: one code, in the server's words, back
	// as the password key.
	res = r.ask(p, "vpn", []string{"password", "x-vpn-message:Enter the 6-digit code"})
	q = next(t, r)
	if q.Title != "VPN NHS-VPN asks for a one-time code" || q.Detail != "Enter the 6-digit code" || len(q.Fields) != 1 ||
		q.Fields[0].Key != "password" || q.Fields[0].Label != "One-time code" {
		t.Fatalf("challenge prompt %+v", q)
	}
	r.a.Answer(q.ID, map[string]string{"password": "654321"})
	got = <-res
	if sec, _ := got.out["vpn"]["secrets"].Value().(map[string]string); got.err != nil || sec["password"] != "654321" || len(sec) != 1 {
		t.Fatalf("NetworkManager got %+v %v", got.out, got.err)
	}
	r.noSecretInEvents(t)
}

func TestCancelTimeoutAndWithdraw(t *testing.T) {
	r := start(t, 300*time.Millisecond)
	p := r.profile(t, fakebus.WiFiProfileSettings("NHS-Community", "NHS-Community"))

	res := r.ask(p, "802-11-wireless-security", nil)
	q := next(t, r)
	r.a.Cancel(q.ID)
	if got := <-res; got.err == nil || !strings.Contains(got.err.Error(), "cancelled at the screen") {
		t.Fatalf("cancel: %+v", got)
	}
	res = r.ask(p, "802-11-wireless-security", nil)
	q = next(t, r)
	if w := next(t, r); !w.Withdrawn || w.ID != q.ID || w.Reason != "not answered in time" {
		t.Fatalf("after the timeout: %+v", w)
	}
	if got := <-res; got.err == nil || !strings.Contains(got.err.Error(), "not answered in time") {
		t.Fatalf("timeout: %+v", got)
	}
	if !strings.Contains(r.eventText(), "Prompt for Wi-Fi network NHS-Community not answered within 0s") {
		t.Fatalf("events:\n%s", r.eventText())
	}

	// NetworkManager gives up on the activation: the prompt goes.
	r2 := start(t, 10*time.Second)
	p2 := r2.profile(t, fakebus.WiFiProfileSettings("NHS-Community", "NHS-Community"))
	res2 := r2.ask(p2, "802-11-wireless-security", nil)
	q2 := next(t, r2)
	r2.n.CancelSecrets(p2, "802-11-wireless-security")
	if w := next(t, r2); !w.Withdrawn || w.ID != q2.ID {
		t.Fatalf("withdrawal %+v", w)
	}
	if got := <-res2; got.err == nil {
		t.Fatal("a withdrawn prompt answered")
	}
}

func TestOnlyNetworkManagerMayAsk(t *testing.T) {
	r := start(t, 10*time.Second)
	other, err := dbus.Connect(r.d.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var out map[string]map[string]dbus.Variant
	err = other.Object(r.conn.UniqueName(), Path).Call(iface+".GetSecrets", 0,
		fakebus.WiFiProfileSettings("Evil", "Evil"), dbus.ObjectPath("/x"), "802-11-wireless-security", []string{}, uint32(1)).Store(&out)
	if err == nil || !strings.Contains(err.Error(), "only NetworkManager may ask") {
		t.Fatalf("a stranger was answered: %v", err)
	}
	select {
	case q := <-r.screen:
		t.Fatalf("a stranger's request reached the screen: %+v", q)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestSecondAgentDoesNotStealAndReRegisters(t *testing.T) {
	r := start(t, 10*time.Second)
	first := r.n.Agents()[0]
	conn2, err := bus.Dial(r.d.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	a2 := New(conn2, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a2.Run(ctx); err != ErrTaken {
		t.Fatalf("second agent: %v", err)
	}
	if ag := r.n.Agents(); len(ag) != 1 || ag[0] != first {
		t.Fatalf("agents %v, want only %s", ag, first)
	}
	// NetworkManager restarts and forgets its agents: the agent comes back.
	r.n.Close()
	waitFor(t, "the agent to notice", func() bool { return !r.a.Registered() })
	n2, err := fakebus.NewNM(r.d.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	waitFor(t, "re-registration", func() bool { return len(n2.Agents()) == 1 && r.a.Registered() })
}

func TestUnregistersOnStop(t *testing.T) {
	d := fakebus.StartDaemon(t)
	n, err := fakebus.NewNM(d.Address)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := bus.Dial(d.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	a := New(conn, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitFor(t, "registration", func() bool { return len(n.Agents()) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ag := n.Agents(); len(ag) != 0 {
		t.Fatalf("still registered: %v", ag)
	}
	if rules := conn.Rules(); len(rules) != 0 {
		t.Fatalf("match rules left: %v", rules)
	}
}

// clockAt is a settable clock for the agent's day.
type clockAt struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clockAt) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clockAt) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// startDay is a rig whose agent remembers VPN log-ins until 20:00, on a
// clock that starts at 08:30.
func startDay(t *testing.T) (*rig, *clockAt) {
	clk := &clockAt{t: time.Date(2026, 12, 3, 8, 30, 0, 0, time.Local)}
	r := startWith(t, Options{Timeout: 10 * time.Second, Now: clk.now, Remember: Remember{Until: 20 * time.Hour, Max: 14 * time.Hour}})
	return r, clk
}

// askVPN asks as NetworkManager and the OpenVPN plugin do (hints, flags).
func (r *rig) askVPN(p *fakebus.Profile, hints []string, flags uint32) chan asked {
	ch := make(chan asked, 1)
	go func() {
		out, err := r.n.AskSecrets(p, "vpn", hints, flags, 10*time.Second)
		ch <- asked{out, err}
	}()
	return ch
}

func password(t *testing.T, got asked) string {
	t.Helper()
	if got.err != nil {
		t.Fatalf("NetworkManager got an error: %v", got.err)
	}
	sec, _ := got.out["vpn"]["secrets"].Value().(map[string]string)
	return sec["password"]
}

func (r *rig) quiet(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case q := <-r.screen:
			if !q.Withdrawn {
				t.Fatalf("a prompt where none was due: %+v", q)
			}
		case <-deadline:
			return
		}
	}
}

var refusal = []string{"password", "x-vpn-message:A password is required."}

// TestVPNLogInRememberedForTheDay: the clinician types the password once;
// NetworkManager's later requests for the profile (the re-makes after a
// failover) are answered from memory without a prompt until the end of
// the working day.
func TestVPNLogInRememberedForTheDay(t *testing.T) {
	r, clk := startDay(t)
	p := r.profile(t, fakebus.VPNProfileSettings("NHS-VPN"))
	if got := <-r.askVPN(p, nil, 0x4); got.err == nil {
		t.Fatal("answered without interaction before any log-in")
	}
	res := r.askVPN(p, nil, 0x5)
	q := next(t, r)
	r.a.Answer(q.ID, map[string]string{"password": secret})
	if pw := password(t, <-res); pw != secret {
		t.Fatalf("got %q", pw)
	}
	for i := 0; i < 5; i++ {
		clk.set(clk.now().Add(90 * time.Minute))
		if pw := password(t, <-r.askVPN(p, nil, 0x4)); pw != secret {
			t.Fatalf("re-make %d: got %q", i, pw)
		}
	}
	r.quiet(t, 100*time.Millisecond)
	if n := r.a.PromptsToday(); n != 1 {
		t.Fatalf("%d prompts today, want 1", n)
	}
	clk.set(time.Date(2026, 12, 3, 20, 0, 1, 0, time.Local))
	if got := <-r.askVPN(p, nil, 0x4); got.err == nil {
		t.Fatal("the log-in outlived the working day")
	}
	r.noSecretInEvents(t)
	if !strings.Contains(r.eventText(), "Answered NetworkManager for VPN NHS-VPN with today's log-in (no prompt)") {
		t.Fatalf("events:\n%s", r.eventText())
	}
}

// TestRefusedLogInIsAskedAgainOnceThenStopped: the server refuses the
// remembered password (changed at the trust): it is forgotten and asked
// for once; refused again, the agent stops answering (NetworkManager
// would otherwise ask once a second for a minute) and says why.
func TestRefusedLogInIsAskedAgainOnceThenStopped(t *testing.T) {
	r, _ := startDay(t)
	var refused []string
	var mu sync.Mutex
	r.a.opt.Stopped = func(p, why string) { mu.Lock(); refused = append(refused, p+": "+why); mu.Unlock() }
	p := r.profile(t, fakebus.VPNProfileSettings("NHS-VPN"))
	res := r.askVPN(p, nil, 0x5)
	r.a.Answer(next(t, r).ID, map[string]string{"password": secret})
	password(t, <-res)
	// A re-make: memory answers; the server refuses.
	password(t, <-r.askVPN(p, nil, 0x4))
	res = r.askVPN(p, refusal, 0x5)
	q := next(t, r)
	if !strings.Contains(q.Detail, "refused the password typed earlier today") {
		t.Fatalf("re-ask %+v", q)
	}
	r.a.Answer(q.ID, map[string]string{"password": "still-wrong"})
	password(t, <-res)
	got := <-r.askVPN(p, refusal, 0x5)
	if got.err == nil || !strings.Contains(got.err.Error(), "refused the password again") {
		t.Fatalf("third answer to a refusing server: %+v", got)
	}
	r.quiet(t, 100*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(refused) != 1 || refused[0] != "NHS-VPN: the VPN server refused the password for NHS-VPN" {
		t.Fatalf("refused callback %v", refused)
	}
	if !strings.Contains(r.eventText(), "The VPN server refused the password for NHS-VPN: not trying again") {
		t.Fatalf("events:\n%s", r.eventText())
	}
	if n := r.a.PromptsToday(); n != 2 {
		t.Fatalf("%d prompts, want 2 (the log-in and one re-ask)", n)
	}
}

// TestKeyPassphraseAskedByTheProfilesFlags: a certificate key under a
// passphrase (a smartcard PIN's stand-in): the plugin hints nothing, and
// the agent asks for the profile's agent-owned secret, cert-pass, and
// returns that key alone.
func TestKeyPassphraseAskedByTheProfilesFlags(t *testing.T) {
	r, _ := startDay(t)
	settings := fakebus.VPNProfileSettings("NHS-VPN")
	settings["vpn"]["data"] = dbus.MakeVariant(map[string]string{"connection-type": "tls", "cert-pass-flags": "1", "remote": "10.77.0.1"})
	p := r.profile(t, settings)
	res := r.askVPN(p, nil, 0x5)
	q := next(t, r)
	if len(q.Fields) != 1 || q.Fields[0].Key != "cert-pass" || q.Fields[0].Label != "Key passphrase (smartcard PIN)" {
		t.Fatalf("prompt %+v", q)
	}
	r.a.Answer(q.ID, map[string]string{"cert-pass": "2468", "password": "not asked"})
	got := <-res
	sec, _ := got.out["vpn"]["secrets"].Value().(map[string]string)
	if got.err != nil || len(sec) != 1 || sec["cert-pass"] != "2468" {
		t.Fatalf("NetworkManager got %v %v", sec, got.err)
	}
}

// TestScreenLockForgetsTheLogIn: logind says a session locked: today's
// log-in is gone, and the next request asks again.
func TestScreenLockForgetsTheLogIn(t *testing.T) {
	r, _ := startDay(t)
	p := r.profile(t, fakebus.VPNProfileSettings("NHS-VPN"))
	res := r.askVPN(p, nil, 0x5)
	r.a.Answer(next(t, r).ID, map[string]string{"password": secret})
	password(t, <-res)
	login1, err := fakebus.NewService(r.d.Address, "org.freedesktop.login1", "/org/freedesktop/login1")
	if err != nil {
		t.Fatal(err)
	}
	defer login1.Close()
	login1.Emit("/org/freedesktop/login1/session/_31", "org.freedesktop.login1.Session.Lock")
	waitFor(t, "the log-in forgotten", func() bool {
		return strings.Contains(r.eventText(), "Forgot the log-in for VPN NHS-VPN: the screen was locked")
	})
	if got := <-r.askVPN(p, nil, 0x4); got.err == nil {
		t.Fatal("answered from memory after a screen lock")
	}
}

// TestPromptWaitsForAScreenAndTheFirstAnswerWins: with no screen attached
// the prompt waits; a screen that attaches gets it; of two screens the
// first answer goes to NetworkManager and the other sees it withdrawn.
func TestPromptWaitsForAScreenAndTheFirstAnswerWins(t *testing.T) {
	r, _ := startDay(t)
	r.detach()
	p := r.profile(t, fakebus.VPNProfileSettings("NHS-VPN"))
	res := r.askVPN(p, nil, 0x5)
	waitFor(t, "the prompt noted", func() bool { return strings.Contains(r.eventText(), "waiting for a screen to show it on") })
	one, detach1 := r.a.Attach()
	defer detach1()
	two, detach2 := r.a.Attach()
	defer detach2()
	q := <-one
	if q2 := <-two; q2.ID != q.ID {
		t.Fatalf("screens got %d and %d", q.ID, q2.ID)
	}
	if err := r.a.Answer(q.ID, map[string]string{"password": secret}); err != nil {
		t.Fatal(err)
	}
	if w := <-two; !w.Withdrawn || w.ID != q.ID {
		t.Fatalf("second screen got %+v", w)
	}
	if err := r.a.Answer(q.ID, map[string]string{"password": "late"}); err == nil {
		t.Fatal("a second answer was taken")
	}
	if pw := password(t, <-res); pw != secret {
		t.Fatalf("got %q", pw)
	}
}
