package system

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/agent"
	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
)

const wifiKey = "Corr3ct-Horse-Battery"

// joinEnv is a Wi-Fi radio seeing three networks, fieldlink's source, and
// its secret agent, whose prompts the test answers as the person at the
// screen would.
type joinEnv struct {
	*env
	dev    dbus.ObjectPath
	aps    map[string]dbus.ObjectPath
	agent  *agent.Agent
	prompt <-chan agent.Request
}

func newJoinEnv(t *testing.T) *joinEnv {
	e := &joinEnv{env: newEnv(t, false), aps: map[string]dbus.ObjectPath{}}
	e.nm.WiFiKeys = map[string]string{"BT-Hub-7A2F": wifiKey, "WPA3-Home": wifiKey, "eduroam": wifiKey}
	e.nm.SecretTimeout = 5 * time.Second
	e.dev = e.nm.AddDevice(fakebus.DeviceSpec{Interface: "wlan0", Type: fakebus.DevWiFi, State: 30})
	for _, ap := range []fakebus.APSpec{
		{SSID: "BT-Hub-7A2F", Strength: 70, Frequency: 2412, RsnFlags: 0x100},
		{SSID: "WPA3-Home", Strength: 60, Frequency: 5180, RsnFlags: 0x400},
		{SSID: "eduroam", Strength: 50, Frequency: 5200, RsnFlags: 0x200},
		{SSID: "Cafe-Free", Strength: 40, Frequency: 2437},
	} {
		e.aps[ap.SSID] = e.nm.AddAP(e.dev, ap)
	}
	e.nm.Set(e.aps["Cafe-Free"], fakebus.NMAP, map[string]any{"Flags": uint32(0)})
	e.start(Options{})
	conn, err := bus.Dial(e.d.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e.agent = agent.New(conn, agent.Options{Timeout: 5 * time.Second})
	var detach func()
	e.prompt, detach = e.agent.Attach()
	t.Cleanup(detach)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.agent.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for i := 0; i < 500 && !e.agent.Registered(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	e.waitFor("four networks", func(s *netstate.Snapshot) bool {
		l := s.Link("wlan0")
		return l != nil && len(l.WiFi.AccessPoints) == 4
	})
	return e
}

// answer types a key into the next prompt, as the screen does.
func (e *joinEnv) answer(t *testing.T, key string, wantField string) agent.Request {
	t.Helper()
	select {
	case r := <-e.prompt:
		if r.Withdrawn {
			return e.answer(t, key, wantField)
		}
		found := false
		vals := map[string]string{}
		for _, f := range r.Fields {
			if f.Key == wantField {
				found = true
				if !f.Secret {
					t.Fatalf("the %s field is not masked: %+v", f.Key, r)
				}
				vals[f.Key] = key
			} else if f.Value != "" {
				vals[f.Key] = f.Value
			}
		}
		if !found {
			t.Fatalf("prompt %q asks for %+v, not %s", r.Title, r.Fields, wantField)
		}
		if err := e.agent.Answer(r.ID, vals); err != nil {
			t.Fatal(err)
		}
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("NetworkManager asked no key through the agent")
	}
	return agent.Request{}
}

func (e *joinEnv) join(r join.Request) chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := e.src.Join(ctx, r)
		done <- err
	}()
	return done
}

func wait(t *testing.T, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("join did not end")
	}
	return nil
}

func TestJoinWPA2AsksTheKeyThroughTheAgentAndNetworkManagerKeepsIt(t *testing.T) {
	e := newJoinEnv(t)
	done := e.join(join.Request{SSID: "BT-Hub-7A2F"})
	r := e.answer(t, wifiKey, "psk")
	if !strings.Contains(r.Title, "BT-Hub-7A2F") {
		t.Fatalf("the prompt does not name the network: %q", r.Title)
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("join: %v", err)
	}
	calls := e.nm.AddAndActivates()
	if len(calls) != 1 || calls[0].Device != e.dev || calls[0].Object != e.aps["BT-Hub-7A2F"] {
		t.Fatalf("AddAndActivate calls %+v: want one, on wlan0 and the network's access point", calls)
	}
	sec := calls[0].Settings["802-11-wireless-security"]
	if sec["key-mgmt"].Value() != "wpa-psk" || sec["psk"].Value() != nil || sec["psk-flags"].Value() != uint32(0) {
		t.Fatalf("security settings %v: want wpa-psk, no key, kept by NetworkManager", sec)
	}
	// NetworkManager saved the key the agent gave; fieldlink kept none.
	var saved string
	for _, p := range e.nm.Profiles() {
		if p.ID() == "BT-Hub-7A2F" {
			saved = e.nm.SavedSecret(p.Path, "802-11-wireless-security")
		}
	}
	if saved != wifiKey {
		t.Fatalf("NetworkManager's profile holds %q, want the typed key", saved)
	}
	s := e.waitFor("saved and in use", func(s *netstate.Snapshot) bool {
		l := s.Link("wlan0")
		return l != nil && l.State == netstate.StateConnected && l.Profile == "BT-Hub-7A2F"
	})
	for _, ap := range s.Link("wlan0").WiFi.AccessPoints {
		if ap.SSID == "BT-Hub-7A2F" && !ap.Saved {
			t.Fatalf("the joined network is not marked saved: %+v", ap)
		}
	}
	if strings.Contains(e.eventText(), wifiKey) {
		t.Fatal("the key reached an event")
	}

	// Joining it again asks nothing and makes no second profile.
	e.src.Deactivate(context.Background(), "BT-Hub-7A2F")
	if err := wait(t, e.join(join.Request{SSID: "BT-Hub-7A2F"})); err != nil {
		t.Fatalf("rejoin: %v", err)
	}
	if n := len(e.nm.AddAndActivates()); n != 1 {
		t.Fatalf("rejoining a saved network made a new profile (%d calls)", n)
	}
	for {
		select {
		case r := <-e.prompt:
			if !r.Withdrawn {
				t.Fatalf("a saved network asked again: %q", r.Title)
			}
			continue
		default:
		}
		break
	}
}

func TestJoinWithAWrongKeyLeavesNoProfileBehind(t *testing.T) {
	e := newJoinEnv(t)
	done := e.join(join.Request{SSID: "WPA3-Home"})
	e.answer(t, "wrong-key-123", "psk")
	err := wait(t, done)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("a wrong key: got %v, want the key refused", err)
	}
	if calls := e.nm.AddAndActivates(); len(calls) != 1 || calls[0].Settings["802-11-wireless-security"]["key-mgmt"].Value() != "sae" {
		t.Fatalf("WPA3 settings %+v: want key-mgmt sae", calls)
	}
	for i := 0; i < 100; i++ {
		if len(e.nm.Profiles()) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the failed try left %d profiles", len(e.nm.Profiles()))
}

func TestJoinCancelledPromptSaysNoKeyWasGiven(t *testing.T) {
	e := newJoinEnv(t)
	done := e.join(join.Request{SSID: "BT-Hub-7A2F"})
	select {
	case r := <-e.prompt:
		e.agent.Cancel(r.ID)
	case <-time.After(5 * time.Second):
		t.Fatal("no prompt")
	}
	if err := wait(t, done); err == nil || !strings.Contains(err.Error(), "no key was given") {
		t.Fatalf("cancelled: got %v", err)
	}
}

func TestJoin8021XAsksThePasswordAndChecksTheServer(t *testing.T) {
	e := newJoinEnv(t)
	done := e.join(join.Request{SSID: "eduroam", EAP: join.TTLS, Identity: "nurse@trust.nhs.uk", Domain: "radius.trust.nhs.uk"})
	r := e.answer(t, wifiKey, "password")
	if err := wait(t, done); err != nil {
		t.Fatalf("join: %v (prompt %+v)", err, r)
	}
	x := e.nm.AddAndActivates()[0].Settings["802-1x"]
	eap, _ := x["eap"].Value().([]string)
	if len(eap) != 1 || eap[0] != "ttls" || x["phase2-auth"].Value() != "pap" || x["identity"].Value() != "nurse@trust.nhs.uk" ||
		x["domain-suffix-match"].Value() != "radius.trust.nhs.uk" || x["system-ca-certs"].Value() != true || x["password"].Value() != nil {
		t.Fatalf("802-1x settings %v", x)
	}
}

func TestJoinOpenNetworkAndOneOutOfRange(t *testing.T) {
	e := newJoinEnv(t)
	if err := wait(t, e.join(join.Request{SSID: "Cafe-Free"})); err != nil {
		t.Fatalf("open network: %v", err)
	}
	if _, ok := e.nm.AddAndActivates()[0].Settings["802-11-wireless-security"]; ok {
		t.Fatal("an open network got security settings")
	}
	err := wait(t, e.join(join.Request{SSID: "Not-Here"}))
	if err == nil || !strings.Contains(err.Error(), "not in range") {
		t.Fatalf("out of range: %v", err)
	}
	if err := e.src.Scan(context.Background()); err != nil || e.nm.Scans() != 1 {
		t.Fatalf("scan: %v, %d scans", err, e.nm.Scans())
	}
}
