package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/control"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

// stubJoiner records what the instance in charge asked of NetworkManager.
type stubJoiner struct {
	mu     sync.Mutex
	joined []join.Request
	hold   chan struct{}
}

func (s *stubJoiner) Scan(context.Context) error { return nil }

func (s *stubJoiner) Join(_ context.Context, r join.Request) (string, error) {
	if s.hold != nil {
		<-s.hold
	}
	s.mu.Lock()
	s.joined = append(s.joined, r)
	s.mu.Unlock()
	return "Joined " + r.SSID + ".", nil
}

func (s *stubJoiner) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.joined)
}

type idleSource struct{}

func (idleSource) Name() string { return "test" }
func (idleSource) Run(ctx context.Context, emit func(netstate.Update)) error {
	<-ctx.Done()
	return nil
}

// peerProcess is a process whose command line makes it a kiosk (or not),
// for the instance in charge to judge as a peer.
func peerProcess(t *testing.T, kiosk bool) control.Peer {
	args := []string{"-c", "sleep 30", "fieldlink"}
	if kiosk {
		args = append(args, "--kiosk")
	}
	cmd := exec.Command("sh", args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return control.Peer{PID: cmd.Process.Pid, UID: os.Geteuid(), GID: os.Getegid()}
}

func joinRig(t *testing.T, w config.WiFi) (*running, *stubJoiner) {
	cfg := config.Default()
	cfg.WiFi = w
	j := &stubJoiner{}
	r := &running{cfg: cfg, joiner: j, eng: engine.New(idleSource{}, engine.Options{Role: engine.Holder})}
	return r, j
}

func ask(r *running, p control.Peer, req any) control.Reply {
	b, _ := json.Marshal(req)
	return r.handle(p, control.OpJoin, b)
}

func waitJoined(t *testing.T, r *running, j *stubJoiner, n int) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if j.count() == n && !r.joining.Load() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d joins, want %d", j.count(), n)
}

// TestJoinPolicyIsTheHoldersToEnforce: whatever a client's screen shows,
// the instance in charge decides from the peer's credentials and its own
// config (an attacker's client can claim nothing).
func TestJoinPolicyIsTheHoldersToEnforce(t *testing.T) {
	integration.NeedRoot(t) // the peers here are judged as root's processes
	screen, kiosk := peerProcess(t, false), peerProcess(t, true)
	nobodyPeer := screen
	nobodyPeer.UID = 65534 // a watcher: not the process's own account either

	r, j := joinRig(t, config.WiFi{Join: join.Nobody})
	if rep := ask(r, screen, join.Request{SSID: "NHS-Community"}); !rep.Refused || !strings.Contains(rep.Text, "turned off") {
		t.Fatalf("join = nobody: %+v", rep)
	}

	r, j = joinRig(t, config.WiFi{Join: join.Technicians})
	if rep := ask(r, kiosk, join.Request{SSID: "NHS-Community"}); !rep.Refused || !strings.Contains(rep.Text, "not from the kiosk") {
		t.Fatalf("technicians, from the kiosk as root: %+v", rep)
	}
	if rep := ask(r, screen, join.Request{SSID: "NHS-Community"}); rep.Refused {
		t.Fatalf("technicians, root over SSH: %+v", rep)
	}
	waitJoined(t, r, j, 1)

	r, j = joinRig(t, config.WiFi{Join: join.Everyone, Allow: []string{"NHS-*", "eduroam"}})
	for _, c := range []struct {
		peer control.Peer
		req  any
		want string
	}{
		{screen, join.Request{SSID: "BT-Hub-7A2F"}, "not on IT's list"},
		{nobodyPeer, join.Request{SSID: "NHS-Community"}, "may watch"},
		{screen, join.Request{SSID: "NHS\x1b[2J"}, "cannot be typed"},
		{screen, "not a request", "named no network"},
		{screen, join.Request{SSID: "eduroam", EAP: "md5"}, "not one fieldlink offers"},
	} {
		if rep := ask(r, c.peer, c.req); !rep.Refused || !strings.Contains(rep.Text, c.want) {
			t.Errorf("%+v: %+v, want refused with %q", c.req, rep, c.want)
		}
	}
	if j.count() != 0 {
		t.Fatalf("a refused request reached NetworkManager: %+v", j.joined)
	}
	j.hold = make(chan struct{})
	if rep := ask(r, kiosk, join.Request{SSID: "NHS-Community"}); rep.Refused {
		t.Fatalf("everyone, from the kiosk: %+v", rep)
	}
	if rep := ask(r, screen, join.Request{SSID: "eduroam", Identity: "n"}); !rep.Refused || !strings.Contains(rep.Text, "already") {
		t.Fatalf("a second join at once: %+v", rep)
	}
	close(j.hold)
	waitJoined(t, r, j, 1)
	var said []string
	for _, ev := range r.eng.Current().Events {
		if ev.Kind == netstate.EventJoin {
			said = append(said, ev.Text)
		}
	}
	if len(said) != 2 || !strings.Contains(said[0], "asked to join Wi-Fi NHS-Community") || said[1] != "Joined NHS-Community." {
		t.Fatalf("join events %q", said)
	}
}
