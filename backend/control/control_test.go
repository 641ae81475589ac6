package control

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/sim"
)

func holder(t *testing.T) (*engine.Engine, string, context.Context) {
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
	go Serve(ctx, path, eng, ServeOptions{Holder: "fieldlink pid 1 (test)", Mode: 0o666, Handle: func(p Peer, op string, _ json.RawMessage) Reply {
		return Reply{Text: "did " + op + " for uid " + strconv.Itoa(p.UID)}
	}})
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(path); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return eng, path, ctx
}

// TestRequestsCarryTheKernelsWordOfWhoAsks: the holder decides on the
// account the kernel reports for the connection, and the socket is open
// to every account (mode 0666) when asked.
func TestRequestsCarryTheKernelsWordOfWhoAsks(t *testing.T) {
	_, path, ctx := holder(t)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o666 {
		t.Fatalf("socket mode %v %v", st.Mode(), err)
	}
	me := func(context.Context) (string, int, bool, error) { return path, os.Getpid(), true, nil }
	rep, err := Request(ctx, me, OpVisit)
	if err != nil || rep.Text != "did visit for uid "+strconv.Itoa(os.Getuid()) {
		t.Fatalf("request: %+v %v", rep, err)
	}
}

// TestImpostorSocketRefused: a client talks only to the process the bus
// says is in charge; a socket served by any other process is refused
// before a word is read from it.
func TestImpostorSocketRefused(t *testing.T) {
	_, path, ctx := holder(t)
	wrong := func(context.Context) (string, int, bool, error) { return path, os.Getpid() + 1, true, nil }
	if _, err := Request(ctx, wrong, OpVisit); err == nil || !strings.Contains(err.Error(), "is not served by the fieldlink in charge") {
		t.Fatalf("impostor: %v", err)
	}
	nobody := func(context.Context) (string, int, bool, error) { return "", 0, false, nil }
	if _, err := Request(ctx, nobody, OpVisit); err != ErrNobody {
		t.Fatalf("nobody in charge: %v", err)
	}
}

// TestFollowShowsTheHolder: a client's engine takes the holder's name,
// work and decisions from the stream.
func TestFollowShowsTheHolder(t *testing.T) {
	heng, path, ctx := holder(t)
	sc, _ := sim.Builtin("steady")
	ceng := engine.New(sim.New(sc, sim.Options{Speed: 1}), engine.Options{Thresholds: netstate.DefaultThresholds(), Role: engine.Observer})
	go ceng.Run(ctx)
	<-ceng.Ready()
	me := func(context.Context) (string, int, bool, error) { return path, os.Getpid(), true, nil }
	go Follow(ctx, me, ceng, time.Now, nil)
	heng.SetVisit(netstate.VisitStatus{Open: true, Since: time.Now()})
	heng.AddEvents(netstate.Event{Time: time.Now(), Kind: netstate.EventFailover, Text: "Switched to cellular"})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st := ceng.Current()
		seen := false
		for _, ev := range st.Events {
			seen = seen || ev.Text == "[in charge] Switched to cellular"
		}
		if st.Holder == "fieldlink pid 1 (test)" && st.Work.Visit.Open && seen {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("client state: %+v", ceng.Current().Work)
}
