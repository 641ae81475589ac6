package control

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/agent"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/sim"
)

// fakeAgent stands in for the holder's secret agent.
type fakeAgent struct {
	mu       sync.Mutex
	screens  []chan agent.Request
	answers  map[uint64]map[string]string
	canceled []uint64
}

func (f *fakeAgent) Attach() (<-chan agent.Request, func()) {
	ch := make(chan agent.Request, 4)
	f.mu.Lock()
	f.screens = append(f.screens, ch)
	f.mu.Unlock()
	return ch, func() {}
}

func (f *fakeAgent) Answer(id uint64, v map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.answers == nil {
		f.answers = map[uint64]map[string]string{}
	}
	if _, dup := f.answers[id]; dup {
		return errors.New("NetworkManager no longer needs this answer")
	}
	f.answers[id] = map[string]string{}
	for k, x := range v {
		f.answers[id][k] = x
	}
	return nil
}

func (f *fakeAgent) Cancel(id uint64) {
	f.mu.Lock()
	f.canceled = append(f.canceled, id)
	f.mu.Unlock()
}

func (f *fakeAgent) ask(r agent.Request) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.screens {
		ch <- r
	}
	return len(f.screens)
}

func promptHolder(t *testing.T, may bool) (*fakeAgent, Locator, context.Context) {
	t.Helper()
	sc, err := sim.Builtin("steady")
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(sim.New(sc, sim.Options{Speed: 1}), engine.Options{Thresholds: netstate.DefaultThresholds()})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go eng.Run(ctx)
	<-eng.Ready()
	path := filepath.Join(t.TempDir(), "control.sock")
	fa := &fakeAgent{}
	go Serve(ctx, path, eng, ServeOptions{Holder: "test", Mode: 0o666, Prompts: fa, MayAnswer: func(Peer) bool { return may }})
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(path); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fa, func(context.Context) (string, int, bool, error) { return path, os.Getpid(), true, nil }, ctx
}

func client(t *testing.T, ctx context.Context, locate Locator) *Screen {
	sc, err := sim.Builtin("steady")
	if err != nil {
		t.Fatal(err)
	}
	ceng := engine.New(sim.New(sc, sim.Options{Speed: 1}), engine.Options{Thresholds: netstate.DefaultThresholds(), Role: engine.Observer})
	go ceng.Run(ctx)
	s := NewScreen()
	go FollowAsScreen(ctx, locate, ceng, time.Now, nil, s)
	return s
}

// TestPromptsReachAScreenAndAnswersComeBack: the holder's agent asks; the
// client screen shows the prompt; the clinician's answer goes back to the
// agent, and a stale second answer is refused.
func TestPromptsReachAScreenAndAnswersComeBack(t *testing.T) {
	fa, locate, ctx := promptHolder(t, true)
	s := client(t, ctx, locate)
	deadline := time.Now().Add(5 * time.Second)
	for fa.ask(agent.Request{ID: 7, Title: "VPN NHS-VPN needs your log-in"}) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the screen never attached")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var q agent.Request
	select {
	case q = <-s.Prompts():
	case <-time.After(5 * time.Second):
		t.Fatal("no prompt on the client")
	}
	if q.ID != 7 || q.Title != "VPN NHS-VPN needs your log-in" {
		t.Fatalf("prompt %+v", q)
	}
	if err := s.Answer(7, map[string]string{"password": "pw"}); err != nil {
		t.Fatal(err)
	}
	s.Cancel(8)
	for i := 0; i < 200; i++ {
		fa.mu.Lock()
		got, n := fa.answers[7]["password"], len(fa.canceled)
		fa.mu.Unlock()
		if got == "pw" && n == 1 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the holder got %+v, cancels %v", fa.answers, fa.canceled)
}

// TestWatchersNeverSeePrompts: an account that may only watch is never
// attached, so no prompt reaches it and its answers are dropped.
func TestWatchersNeverSeePrompts(t *testing.T) {
	fa, locate, ctx := promptHolder(t, false)
	s := client(t, ctx, locate)
	time.Sleep(300 * time.Millisecond)
	if n := fa.ask(agent.Request{ID: 1}); n != 0 {
		t.Fatalf("%d screens attached for a watcher", n)
	}
	s.Answer(1, map[string]string{"password": "x"})
	time.Sleep(100 * time.Millisecond)
	fa.mu.Lock()
	defer fa.mu.Unlock()
	if len(fa.answers) != 0 {
		t.Fatalf("a watcher's answer was taken: %v", fa.answers)
	}
}
