package sim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

var base = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func TestBuiltinScenariosParse(t *testing.T) {
	names := BuiltinNames()
	for _, want := range []string{"home-visit", "captive-portal", "cable-pulled", "rural-cellular", "nm-restart", "steady"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("built-in scenario %q missing (have %v)", want, names)
		}
	}
	for _, n := range names {
		sc, err := Builtin(n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if sc.Title == "" || sc.About == "" {
			t.Errorf("%s: needs a title and an about line", n)
		}
	}
	if _, err := Builtin("nope"); err == nil || !strings.Contains(err.Error(), "home-visit") {
		t.Errorf("unknown built-in should list the known ones: %v", err)
	}
}

// levels classifies each frame and returns the distinct traffic-light
// levels in order.
func levels(frames []Frame) []netstate.Level {
	var out []netstate.Level
	for _, f := range frames {
		s := f.Snapshot
		netstate.Apply(&s, netstate.DefaultThresholds())
		if len(out) == 0 || out[len(out)-1] != s.Level {
			out = append(out, s.Level)
		}
	}
	return out
}

func TestHomeVisitScriptedPart(t *testing.T) {
	sc, err := Builtin("home-visit")
	if err != nil {
		t.Fatal(err)
	}
	// As scripted, Wi-Fi fades, fails and comes back; cellular is left to
	// failover and never comes up by itself.
	frames := Play(sc, base, 2*time.Minute)
	got := levels(frames)
	want := []netstate.Level{netstate.LevelGreen, netstate.LevelAmber, netstate.LevelRed, netstate.LevelGreen}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("levels %v, want %v", got, want)
	}
	for _, f := range frames {
		if f.Snapshot.Link("wwan0").State != netstate.StateDisconnected {
			t.Fatalf("cellular scripted up at %v", f.At)
		}
	}
}

func TestCablePullKeepsRouteUntilNetworkManagerGivesUp(t *testing.T) {
	sc, err := Builtin("cable-pulled")
	if err != nil {
		t.Fatal(err)
	}
	var afterPull, afterGrace *netstate.Snapshot
	for _, f := range Play(sc, base, time.Minute) {
		s := f.Snapshot
		netstate.Apply(&s, netstate.DefaultThresholds())
		switch f.At {
		case 15 * time.Second:
			afterPull = &s
		case 21 * time.Second:
			afterGrace = &s
		}
	}
	if afterPull == nil || afterPull.Primary != "eth0" || afterPull.Level != netstate.LevelRed || afterPull.Reason != "no carrier" {
		t.Fatalf("right after the pull: %+v", afterPull)
	}
	if afterGrace == nil || afterGrace.Primary != "wlan0" || afterGrace.Level != netstate.LevelGreen {
		t.Fatalf("after NetworkManager's grace period: %+v", afterGrace)
	}
}

func TestLoopRestartsFromInitialState(t *testing.T) {
	sc, err := Parse("loop.scn", strings.NewReader(`
link eth0 ethernet
  state connected carrier yes probe ok 3ms
at 0:05 eth0 carrier no
loop 0:10
`))
	if err != nil {
		t.Fatal(err)
	}
	frames := Play(sc, base, 25*time.Second)
	var carriers []netstate.Tristate
	for _, f := range frames {
		carriers = append(carriers, f.Snapshot.Links[0].Carrier)
	}
	want := []netstate.Tristate{netstate.Yes, netstate.No, netstate.Yes, netstate.No, netstate.Yes, netstate.No}
	if len(carriers) != len(want) {
		t.Fatalf("carriers %v want %v", carriers, want)
	}
	for i := range want {
		if carriers[i] != want[i] {
			t.Fatalf("carriers %v want %v", carriers, want)
		}
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"link wlan0 wifi\n  strenght 50\n", `x.scn:2: unknown setting "strenght" (did you mean "strength"?)`},
		{"link wlan0 wifi\n  strength 150\n", "x.scn:2: strength: 150 is outside 0…100"},
		{"link wlan0 wifi\nat 0:10 wwan0 strength 3\n", `x.scn:2: unknown link "wwan0"`},
		{"link wlan0 wifi\nat 0:10 wlan0 strength 3\nat 0:05 wlan0 strength 4\n", "x.scn:3: time 0:05 is before the previous step (0:10)"},
		{"link wlan0 wifi\nat 1:75 wlan0 strength 3\n", `x.scn:2: time "1:75"`},
		{"link wlan0 modem-thing\n", `x.scn:1: unknown link kind "modem-thing"`},
		{"link wlan0 wifi\nlink wlan0 wifi\n", `x.scn:2: link "wlan0" declared twice`},
		{"strength 4\n", `x.scn:1: unknown directive "strength"`},
		{"link wlan0 wifi\n  ssid \"open\n", "x.scn:2: unterminated quoted string"},
		{"link wwan0 cellular\n  plmn 23430\n", `x.scn:2: plmn: "23430" is not MCC-MNC like 234-30`},
		{"link wwan0 cellular\n  probe ok fast\n", `x.scn:2: probe: "fast" is not a round-trip time`},
		{"link wlan0 wifi\nat 0:01 wlan0\n", "x.scn:2: nothing to change on wlan0"},
		{"link wlan0 wifi\nat 0:10 wlan0 strength 1\nloop 0:05\n", "x.scn:3: loop time is before the last step"},
		{"# nothing here\n", "x.scn:1: no links declared"},
		{"link wlan0 wifi\n  ap \"x\" gone\n", `no access point "x" to remove`},
		{"link wlan0 wifi\n  state connected carrier\n", "x.scn:2: carrier needs 1 value(s)"},
	}
	for _, c := range cases {
		_, err := Parse("x.scn", strings.NewReader(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("doc %q:\n got %v\nwant %s", c.doc, err, c.want)
		}
		var pe *ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Errorf("doc %q: error %T is not a *ParseError", c.doc, err)
		}
	}
}

func TestParseReportsSeveralErrors(t *testing.T) {
	_, err := Parse("x.scn", strings.NewReader("link a wifi\n  bogus 1\n  strength x\n"))
	if err == nil || !strings.Contains(err.Error(), "x.scn:2:") || !strings.Contains(err.Error(), "x.scn:3:") {
		t.Fatalf("want both lines reported, got %v", err)
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0:05": 5 * time.Second, "1:30": 90 * time.Second, "1:02:03": time.Hour + 2*time.Minute + 3*time.Second,
		"0:00.5": 500 * time.Millisecond, "90s": 90 * time.Second, "250ms": 250 * time.Millisecond,
	} {
		if got, err := parseTime(in); err != nil || got != want {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1s", "1:60", "a:00", "1:2:3:4", "soon"} {
		if _, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
}

func TestActivationTakesTheScenarioDelay(t *testing.T) {
	sc, err := Builtin("captive-portal")
	if err != nil {
		t.Fatal(err)
	}
	p := NewPlayer(sc)
	p.Advance(5*time.Second, base.Add(5*time.Second))
	if _, err := p.Activate("Vodafone Internet", base.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s := p.Snapshot(base); s.Link("wwan0").State != netstate.StateConnecting {
		t.Fatalf("state right after activation: %v", s.Link("wwan0").State)
	}
	p.Advance(5*time.Second+DefaultActivation, base.Add(5*time.Second+DefaultActivation))
	s := p.Snapshot(base)
	if s.Link("wwan0").State != netstate.StateConnected {
		t.Fatalf("state after the activation delay: %v", s.Link("wwan0").State)
	}
	// Wi-Fi still has the lower metric; demoting it moves the route.
	if s.Primary != "wlan0" {
		t.Fatalf("primary %q", s.Primary)
	}
	if err := p.SetDemoted("wlan0", true); err != nil {
		t.Fatal(err)
	}
	if s := p.Snapshot(base); s.Primary != "wwan0" || !s.Link("wlan0").Demoted {
		t.Fatalf("after demotion primary %q", s.Primary)
	}
	if _, err := p.Activate("No Such Profile", base); err == nil {
		t.Fatal("activating an unknown profile should fail")
	}
	if _, err := p.Deactivate("Vodafone Internet", base); err != nil {
		t.Fatal(err)
	}
}

func TestActivationRefusedWhenNotRegistered(t *testing.T) {
	sc, err := Parse("x.scn", strings.NewReader("link wwan0 cellular\n  profile \"P\" registration denied\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewPlayer(sc).Activate("P", base)
	if err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Fatalf("err = %v", err)
	}
}

func TestSourceFollowsClockAndSpeed(t *testing.T) {
	sc, err := Builtin("cable-pulled")
	if err != nil {
		t.Fatal(err)
	}
	fc := clock.NewFake(base)
	src := New(sc, Options{Clock: fc, Speed: 10})
	if src.Name() != "Cable pulled at base (x10)" {
		t.Fatalf("name %q", src.Name())
	}
	updates := make(chan netstate.Update, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- src.Run(ctx, func(u netstate.Update) { updates <- u }) }()

	first := <-updates
	if first.Snapshot.Link("eth0").Carrier != netstate.Yes || len(first.Events) == 0 {
		t.Fatalf("first update: %+v", first)
	}
	// At x10, the pull at scenario 0:15 happens 1.5 s of clock time in.
	waitArmed(t, fc)
	fc.Advance(1400 * time.Millisecond)
	select {
	case u := <-updates:
		if u.Snapshot.Link("eth0").Carrier == netstate.No {
			t.Fatalf("cable pulled too early: %+v", u.Events)
		}
	default:
	}
	waitArmed(t, fc)
	fc.Advance(100 * time.Millisecond)
	var pulled bool
	timeout := time.After(2 * time.Second)
	for !pulled {
		select {
		case u := <-updates:
			pulled = u.Snapshot.Link("eth0").Carrier == netstate.No
		case <-timeout:
			t.Fatal("no update for the cable pull")
		}
	}
	// An action wakes the source and produces an update at once.
	if err := src.Activate(ctx, "EE Internet"); err != nil {
		t.Fatal(err)
	}
	select {
	case u := <-updates:
		if u.Snapshot.Link("wwan0").State != netstate.StateConnecting {
			t.Fatalf("after Activate: %v", u.Snapshot.Link("wwan0").State)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no update after Activate")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitArmed(t *testing.T, fc *clock.Fake) {
	t.Helper()
	select {
	case <-fc.Armed():
	case <-time.After(2 * time.Second):
		t.Fatal("source never armed its timer")
	}
	// Drain extra notifications so the next wait sees a fresh arming.
	for {
		select {
		case <-fc.Armed():
		default:
			return
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range BuiltinNames() {
		sc, _ := Builtin(n)
		_ = sc
	}
	f.Add("link wlan0 wifi\n  strength 50 probe ok 30ms\nat 0:10 wlan0 strength 20\nloop 1:00\n")
	f.Add("link w cellular\n  plmn 234-30 tech lte rsrp -100\nat 1:00 add m cellular tech 5g\nat 1:01 remove m\n")
	f.Add("at 0:1 note \"x\\\"y\"\nservice NetworkManager stopped\n")
	f.Add("link a wifi\n  ap \"x\" 40 2412 open\n  ap \"x\" gone\n")
	f.Fuzz(func(t *testing.T, doc string) {
		sc, err := Parse("fuzz.scn", strings.NewReader(doc))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) && !strings.Contains(err.Error(), "fuzz.scn") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		// Whatever parses must also play without panicking.
		Play(sc, base, time.Minute)
	})
}
