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
}

func start(t testing.TB, timeout time.Duration) *rig {
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
	r.a = New(r.conn, Options{Timeout: timeout, Event: func(e netstate.Event) {
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
	}})
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

func next(t *testing.T, a *Agent) Request {
	t.Helper()
	select {
	case q := <-a.Requests():
		return q
	case <-time.After(5 * time.Second):
		t.Fatal("no prompt")
	}
	return Request{}
}

func TestWiFiKeyAnswered(t *testing.T) {
	r := start(t, 10*time.Second)
	p := r.profile(t, fakebus.WiFiProfileSettings("NHS-Community", "NHS-Community"))
	res := r.ask(p, "802-11-wireless-security", []string{"psk"})
	q := next(t, r.a)
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
	res := r.ask(p, "vpn", []string{"password", "x-vpn-message:Enter the code from your token", "otp"})
	q := next(t, r.a)
	if q.Title != "VPN NHS-VPN needs your log-in" || q.Detail != "Enter the code from your token" || len(q.Fields) != 2 ||
		q.Fields[0].Label != "Password" || q.Fields[1].Label != "One-time code" {
		t.Fatalf("prompt %+v", q)
	}
	r.a.Answer(q.ID, map[string]string{"password": secret, "otp": "123456"})
	got := <-res
	sec, _ := got.out["vpn"]["secrets"].Value().(map[string]string)
	if got.err != nil || sec["password"] != secret || sec["otp"] != "123456" {
		t.Fatalf("NetworkManager got %+v %v", got.out, got.err)
	}
	r.noSecretInEvents(t)
}

func TestCancelTimeoutAndWithdraw(t *testing.T) {
	r := start(t, 300*time.Millisecond)
	p := r.profile(t, fakebus.WiFiProfileSettings("NHS-Community", "NHS-Community"))

	res := r.ask(p, "802-11-wireless-security", nil)
	q := next(t, r.a)
	r.a.Cancel(q.ID)
	if got := <-res; got.err == nil || !strings.Contains(got.err.Error(), "cancelled at the screen") {
		t.Fatalf("cancel: %+v", got)
	}
	res = r.ask(p, "802-11-wireless-security", nil)
	q = next(t, r.a)
	if w := next(t, r.a); !w.Withdrawn || w.ID != q.ID || w.Reason != "not answered in time" {
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
	q2 := next(t, r2.a)
	r2.n.CancelSecrets(p2, "802-11-wireless-security")
	if w := next(t, r2.a); !w.Withdrawn || w.ID != q2.ID {
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
	case q := <-r.a.Requests():
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
