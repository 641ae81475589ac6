package control

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/sim"
)

// TestPools: each class draws from its own pool, an account from at most
// its share; root overflows into the members' pool, never a guest's.
func TestPools(t *testing.T) {
	a := newAdmission(Pools{Members: 3, Guests: 2, Privileged: 1, MemberPerUID: 2, GuestPerUID: 1})
	ok := func(c Class, uid int) bool { _, ok := a.admit(c, uid); return ok }
	if !ok(Guest, 1000) || ok(Guest, 1000) || !ok(Guest, 1001) || ok(Guest, 1002) {
		t.Fatal("guests: one each, two in all")
	}
	if !ok(Member, 2000) || !ok(Member, 2000) || ok(Member, 2000) || !ok(Member, 2001) {
		t.Fatal("members: two an account")
	}
	if !ok(Privileged, 0) {
		t.Fatal("root's own place")
	}
	if ok(Privileged, 0) {
		t.Fatal("root past its pool, with the members' pool full")
	}
	a.leave(Member, 2001)
	if pool, ok := a.admit(Privileged, 0); !ok || pool != Member {
		t.Fatalf("root overflowing: %v %v, want the members' pool", pool, ok)
	}
	a.leave(Guest, 1000)
	if !ok(Guest, 1002) {
		t.Fatal("a guest's place given back")
	}
}

// TestWatchersCannotStarveMembers: 40 connections of an account that may
// only watch leave a member's request served, and the refused connections
// are told why.
func TestWatchersCannotStarveMembers(t *testing.T) {
	sc, _ := sim.Builtin("steady")
	eng := engine.New(sim.New(sc, sim.Options{Speed: 1}), engine.Options{Thresholds: netstate.DefaultThresholds()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	<-eng.Ready()
	path := filepath.Join(t.TempDir(), "control.sock")
	var guests atomic.Bool
	guests.Store(true)
	go Serve(ctx, path, eng, ServeOptions{Holder: "test", Mode: 0o600,
		Handle:   func(p Peer, op string, _ json.RawMessage) Reply { return Reply{Text: "done"} },
		Classify: func(Peer) Class { return map[bool]Class{true: Guest, false: Member}[guests.Load()] }})
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(path); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	busy := 0
	for i := 0; i < 40; i++ {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 512)
		n, _ := c.Read(buf)
		if strings.Contains(string(buf[:n]), `"busy"`) {
			busy++
		}
	}
	if busy != 40-DefaultPools.GuestPerUID {
		t.Errorf("%d of 40 watcher connections told there is no place, want %d", busy, 40-DefaultPools.GuestPerUID)
	}
	guests.Store(false)
	me := func(context.Context) (string, int, bool, error) { return path, os.Getpid(), true, nil }
	t0 := time.Now()
	rep, err := Request(ctx, me, OpVisit)
	if err != nil || rep.Text != "done" {
		t.Fatalf("a member's request with 40 watchers connected: %+v %v", rep, err)
	}
	t.Logf("a member's request while 40 watcher connections are held: %v", time.Since(t0).Round(time.Microsecond))
}

// TestSpacing: one request an account per period; other accounts are not
// held back.
func TestSpacing(t *testing.T) {
	s := Spacing{Every: 2 * time.Second}
	t0 := time.Now()
	if !s.Allow(1000, t0) || s.Allow(1000, t0.Add(time.Second)) || !s.Allow(1001, t0.Add(time.Second)) || !s.Allow(1000, t0.Add(2*time.Second)) {
		t.Fatal("spacing")
	}
}
