package failover

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// world is a hand-driven network: links whose fields a test sets, and a
// default route chosen as NetworkManager would (lowest metric among
// connected, undemoted links).
type world struct {
	links []netstate.Link
	now   time.Time
	m     *Machine
	log   []string // events said
	acts  []Action
}

func ok() netstate.Probe { return netstate.Probe{OK: netstate.Yes, RTT: netstate.Some(30)} }

func eth(id string) netstate.Link {
	return netstate.Link{ID: id, Kind: netstate.KindEthernet, Interface: id, State: netstate.StateConnected,
		Carrier: netstate.Yes, Profile: "Base dock", Probe: ok()}
}

func wifi(pct float64) netstate.Link {
	return netstate.Link{ID: "wlan0", Kind: netstate.KindWiFi, Interface: "wlan0", State: netstate.StateConnected,
		Profile: "NHS-Community", WiFi: netstate.WiFi{SSID: "NHS-Community"}, Signal: netstate.Signal{Strength: netstate.Some(pct)}, Probe: ok()}
}

func cell(state netstate.State) netstate.Link {
	return netstate.Link{ID: "wwan0", Kind: netstate.KindCellular, Interface: "wwan0", State: state, Profiles: []string{"EE Internet"},
		Cell:   netstate.Cell{Operator: "EE", Tech: netstate.TechLTE, Registration: netstate.RegHome},
		Signal: netstate.Signal{RSRP: netstate.Some(-95), SINR: netstate.Some(12)}, Probe: ok()}
}

func newWorld(p Policy, links ...netstate.Link) *world {
	return &world{links: links, now: t0, m: New(p)}
}

func (w *world) link(id string) *netstate.Link {
	for i := range w.links {
		if w.links[i].ID == id {
			return &w.links[i]
		}
	}
	panic("no link " + id)
}

var metric = map[netstate.Kind]int{netstate.KindEthernet: 100, netstate.KindWiFi: 600, netstate.KindCellular: 700}

func (w *world) snapshot() netstate.Snapshot {
	s := netstate.Snapshot{Links: append([]netstate.Link(nil), w.links...)}
	best, bm := "", 0
	for _, l := range s.Links {
		if l.State != netstate.StateConnected {
			continue
		}
		m := metric[l.Kind]
		if l.Demoted {
			m += 20000
		}
		if best == "" || m < bm {
			best, bm = l.ID, m
		}
	}
	s.Primary = best
	netstate.Apply(&s, netstate.DefaultThresholds())
	return s
}

// step runs the machine and applies its actions to the world, as the
// engine and NetworkManager would (activations complete at once). As in
// NetworkManager, a link that goes down loses the metric it was given:
// it comes back with its profile's.
func (w *world) step() Output {
	for i := range w.links {
		if w.links[i].State != netstate.StateConnected {
			w.links[i].Demoted = false
		}
	}
	s := w.snapshot()
	out := w.m.Step(w.now, &s)
	for _, ev := range out.Events {
		w.log = append(w.log, fmt.Sprintf("%s %s", ev.Time.Sub(t0), ev.Text))
	}
	for _, a := range out.Actions {
		w.acts = append(w.acts, a)
		l := w.link(a.Link)
		switch a.Kind {
		case Demote:
			l.Demoted = true
		case Restore:
			l.Demoted = false
		case Activate:
			l.State, l.Profile = netstate.StateConnected, a.Profile
		case Deactivate:
			l.State, l.Profile = netstate.StateDisconnected, ""
		}
	}
	return out
}

// run advances time in steps, stepping the machine at each.
func (w *world) run(d, every time.Duration) {
	for end := w.now.Add(d); w.now.Before(end); w.now = w.now.Add(every) {
		w.step()
	}
}

func (w *world) primary() string { s := w.snapshot(); return s.Primary }

func (w *world) said(sub string) bool {
	for _, l := range w.log {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func (w *world) count(kind ActionKind, link string) int {
	n := 0
	for _, a := range w.acts {
		if a.Kind == kind && a.Link == link {
			n++
		}
	}
	return n
}

func TestCarrierLossActsAtOnce(t *testing.T) {
	w := newWorld(Policy{}, eth("eth0"), wifi(80), cell(netstate.StateDisconnected))
	w.step()
	if w.primary() != "eth0" || len(w.acts) != 0 {
		t.Fatalf("steady: primary %s acts %v", w.primary(), w.acts)
	}
	w.link("eth0").Carrier = netstate.No // NetworkManager still says activated
	w.now = w.now.Add(10 * time.Millisecond)
	w.step()
	if w.count(Demote, "eth0") != 1 || w.primary() != "wlan0" {
		t.Fatalf("after carrier loss: acts %v primary %s", w.acts, w.primary())
	}
	if !w.said("Switched to Wi-Fi NHS-Community: Wired no carrier 0.0 s ago") {
		t.Fatalf("events %v", w.log)
	}
}

func TestProbeFailuresBothSidesOfDown(t *testing.T) {
	for _, failures := range []int{2, 3} {
		w := newWorld(Policy{Down: 3}, wifi(80), cell(netstate.StateConnected))
		w.step()
		w.link("wlan0").Probe = netstate.Probe{OK: netstate.No, Reason: "timeout", Failures: failures}
		w.now = w.now.Add(time.Second)
		w.step()
		moved := w.primary() == "wwan0"
		if moved != (failures >= 3) {
			t.Errorf("%d failures: moved=%v acts %v", failures, moved, w.acts)
		}
	}
}

func TestSustainedRedBothSidesOfHold(t *testing.T) {
	w := newWorld(Policy{RedHold: 10 * time.Second}, wifi(80), cell(netstate.StateConnected))
	w.step()
	w.link("wlan0").Signal.Strength = netstate.Some(20) // red radio, probes still pass
	out := w.step()
	if w.primary() != "wlan0" || out.Next != w.now.Add(10*time.Second) {
		t.Fatalf("at once: primary %s next %v", w.primary(), out.Next.Sub(w.now))
	}
	w.now = w.now.Add(9999 * time.Millisecond)
	w.step()
	if w.primary() != "wlan0" {
		t.Fatal("moved before the hold")
	}
	w.now = w.now.Add(time.Millisecond)
	w.step()
	if w.primary() != "wwan0" || !w.said("Wi-Fi too weak: 20%") {
		t.Fatalf("after the hold: %s %v", w.primary(), w.log)
	}
	// Red that recovers inside the hold resets it.
	w2 := newWorld(Policy{RedHold: 10 * time.Second}, wifi(80), cell(netstate.StateConnected))
	w2.step()
	w2.link("wlan0").Signal.Strength = netstate.Some(20)
	w2.run(8*time.Second, time.Second)
	w2.link("wlan0").Signal.Strength = netstate.Some(80)
	w2.step()
	w2.link("wlan0").Signal.Strength = netstate.Some(20)
	w2.run(8*time.Second, time.Second)
	if w2.primary() != "wlan0" {
		t.Fatal("a red spell that ended should not count towards the next")
	}
}

func TestColdStandbyActivatesThenRestsAfterFailback(t *testing.T) {
	p := Policy{FailbackAfter: 30 * time.Second, MinDwell: 10 * time.Second, Standby: Cold}
	w := newWorld(p, wifi(80), cell(netstate.StateDisconnected))
	w.step()
	w.link("wlan0").State = netstate.StateDisconnected // Wi-Fi lost
	w.now = w.now.Add(400 * time.Millisecond)
	w.step()
	if w.count(Activate, "wwan0") != 1 || !w.said("Activating cellular (EE, 4G): Wi-Fi disconnected") {
		t.Fatalf("acts %v events %v", w.acts, w.log)
	}
	w.now = w.now.Add(time.Second)
	w.step()
	if w.primary() != "wwan0" || !w.said("Switched to cellular (EE, 4G)") {
		t.Fatalf("after activation: %s %v", w.primary(), w.log)
	}
	// Wi-Fi back: no fail-back before 30 s of it being usable.
	w.link("wlan0").State = netstate.StateConnected
	w.now = w.now.Add(time.Second)
	w.step()
	back := w.now
	// NetworkManager would put the route on Wi-Fi at once (lower metric):
	// the machine must not call that a fail-back until it has proved itself.
	w.run(29*time.Second, time.Second)
	if w.said("Back on") {
		t.Fatalf("failed back early: %v", w.log)
	}
	w.run(2*time.Second, time.Second)
	if !w.said("Back on Wi-Fi NHS-Community: usable for 30s") {
		t.Fatalf("no fail-back after 30 s: %v", w.log)
	}
	_ = back
	// Cold standby: cellular is taken down again, after the dwell.
	w.run(15*time.Second, time.Second)
	if w.count(Deactivate, "wwan0") != 1 || w.link("wwan0").State != netstate.StateDisconnected {
		t.Fatalf("cellular should rest: %v", w.acts)
	}
}

func TestHotStandbyKeepsCellularUp(t *testing.T) {
	w := newWorld(Policy{Standby: Hot}, eth("eth0"), cell(netstate.StateDisconnected))
	w.step()
	if w.count(Activate, "wwan0") != 1 || w.link("wwan0").State != netstate.StateConnected || w.primary() != "eth0" {
		t.Fatalf("hot standby: acts %v primary %s", w.acts, w.primary())
	}
	w.link("eth0").Carrier = netstate.No
	w.step()
	if w.primary() != "wwan0" || w.count(Activate, "wwan0") != 1 {
		t.Fatalf("after the pull: primary %s, acts %v", w.primary(), w.acts)
	}
	w.link("eth0").Carrier = netstate.Yes
	w.run(2*time.Minute, time.Second)
	if w.count(Deactivate, "wwan0") != 0 || w.primary() != "eth0" {
		t.Fatalf("hot standby must stay up after fail-back: acts %v primary %s", w.acts, w.primary())
	}
}

func TestCaptivePortalIsLeftButKeptForProbing(t *testing.T) {
	w := newWorld(Policy{}, wifi(85), cell(netstate.StateDisconnected))
	w.link("wlan0").Connectivity = netstate.ConnPortal
	w.link("wlan0").Probe = netstate.Probe{OK: netstate.No, Portal: true, Reason: "sign-in page", Failures: 1}
	w.step()
	if w.count(Demote, "wlan0") != 1 || w.count(Activate, "wwan0") != 1 || w.count(Deactivate, "wlan0") != 0 {
		t.Fatalf("portal: acts %v", w.acts)
	}
	w.step()
	if w.primary() != "wwan0" || w.link("wlan0").State != netstate.StateConnected {
		t.Fatalf("the portal Wi-Fi must stay up, demoted: primary %s", w.primary())
	}
	// Signed in: Wi-Fi probes pass; after the wait it is restored.
	w.link("wlan0").Connectivity = netstate.ConnFull
	w.link("wlan0").Probe = ok()
	w.run(45*time.Second, time.Second)
	if w.count(Restore, "wlan0") != 1 || w.primary() != "wlan0" {
		t.Fatalf("after sign-in: acts %v primary %s", w.acts, w.primary())
	}
}

func TestAllDownAndRecovery(t *testing.T) {
	w := newWorld(Policy{}, wifi(80), cell(netstate.StateDisconnected))
	w.link("wwan0").Cell.Registration = netstate.RegSearching
	w.step()
	w.link("wlan0").State = netstate.StateDisconnected
	w.step()
	w.step()
	if !w.said("No working connection (cellular (EE, 4G): not registered (searching))") {
		t.Fatalf("events %v", w.log)
	}
	if n := strings.Count(strings.Join(w.log, "\n"), "No working connection"); n != 1 {
		t.Fatalf("said %d times", n)
	}
	w.link("wwan0").Cell.Registration = netstate.RegHome
	w.step()
	if w.count(Activate, "wwan0") != 1 {
		t.Fatalf("registered again: %v", w.acts)
	}
}

func TestRegistrationDeniedIsNotTried(t *testing.T) {
	w := newWorld(Policy{}, wifi(80), cell(netstate.StateDisconnected))
	w.link("wwan0").Cell.Registration = netstate.RegDenied
	w.step()
	w.link("wlan0").State = netstate.StateDisconnected
	w.run(time.Minute, time.Second)
	if w.count(Activate, "wwan0") != 0 || !w.said("registration denied") {
		t.Fatalf("acts %v events %v", w.acts, w.log)
	}
}

func TestMinDwellBothSides(t *testing.T) {
	p := Policy{FailbackAfter: time.Second, MinDwell: 20 * time.Second}
	w := newWorld(p, eth("eth0"), wifi(80))
	w.step()
	w.link("eth0").Carrier = netstate.No
	w.step() // on Wi-Fi since now
	w.link("eth0").Carrier = netstate.Yes
	w.run(19*time.Second, time.Second)
	if w.said("Back on") {
		t.Fatal("failed back inside the minimum dwell")
	}
	w.run(2*time.Second, time.Second)
	if !w.said("Back on wired eth0") {
		t.Fatalf("no fail-back after the dwell: %v", w.log)
	}
}

// TestFlappingWiFiIsBounded: Wi-Fi that comes and goes must not drag the
// work back and forth more than the policy allows.
func TestFlappingWiFiIsBounded(t *testing.T) {
	p := Policy{FailbackAfter: 30 * time.Second, MinDwell: 10 * time.Second, FlapWindow: 10 * time.Minute, MaxBackoff: 10 * time.Minute}
	w := newWorld(p, wifi(80), cell(netstate.StateConnected))
	w.step()
	// Fast flapping (5 s up, 5 s down) for 30 minutes: one switch away and
	// never back, since Wi-Fi is never up for 30 s.
	for i := 0; i < 180; i++ {
		w.link("wlan0").State = netstate.StateDisconnected
		w.run(5*time.Second, time.Second)
		w.link("wlan0").State = netstate.StateConnected
		w.run(5*time.Second, time.Second)
	}
	if n := len(w.m.Switches()); n != 1 {
		t.Fatalf("fast flapping: %d switches, want 1", n)
	}
	// Slow flapping (40 s up, 20 s down) for an hour: without back-off that
	// is two switches a minute (120). With it: away, back once (Wi-Fi was up
	// 30 s), away again (a flap: the wait doubles to 60 s, longer than Wi-Fi
	// ever stays up) and no more.
	w = newWorld(p, wifi(80), cell(netstate.StateConnected))
	w.step()
	for i := 0; i < 60; i++ {
		w.link("wlan0").State = netstate.StateDisconnected
		w.run(20*time.Second, time.Second)
		w.link("wlan0").State = netstate.StateConnected
		w.run(40*time.Second, time.Second)
	}
	if n := len(w.m.Switches()); n != 3 {
		t.Fatalf("slow flapping: %d switches in an hour, want 3: %v", n, w.log)
	}
	// Once Wi-Fi settles, the back-off still lets it back (after 60 s), and
	// a quiet FlapWindow forgives the flap entirely.
	w.run(2*time.Minute, time.Second)
	if n := len(w.m.Switches()); n != 4 || w.primary() != "wlan0" {
		t.Fatalf("after Wi-Fi settled: %d switches, primary %s", n, w.primary())
	}
	w.run(11*time.Minute, time.Second)
	if got := w.m.backoff(w.now); got != p.FailbackAfter {
		t.Fatalf("back-off after a quiet window: %v", got)
	}
}

func TestActivationTimeoutTriesNext(t *testing.T) {
	p := Policy{ActivationTimeout: 20 * time.Second}
	w := newWorld(p, wifi(80), cell(netstate.StateDisconnected))
	w.step()
	w.link("wlan0").State = netstate.StateDisconnected
	s := w.snapshot()
	out := w.m.Step(w.now, &s) // not applied: the activation hangs
	if len(out.Actions) != 1 || out.Actions[0].Kind != Activate {
		t.Fatalf("acts %v", out.Actions)
	}
	w.link("wwan0").State = netstate.StateConnecting
	w.link("wwan0").Since = w.now
	w.now = w.now.Add(19 * time.Second)
	s = w.snapshot()
	if out := w.m.Step(w.now, &s); len(out.Actions) != 0 {
		t.Fatalf("retried inside the timeout: %v", out.Actions)
	}
	w.now = w.now.Add(2 * time.Second)
	w.link("wwan0").State = netstate.StateDisconnected
	s = w.snapshot()
	out = w.m.Step(w.now, &s)
	if !strings.Contains(fmt.Sprint(out.Events), "did not come up within 20s") {
		t.Fatalf("events %v", out.Events)
	}
}

func TestFailedActionIsRetriedLater(t *testing.T) {
	p := Policy{RetryAfter: 15 * time.Second}
	w := newWorld(p, eth("eth0"), wifi(80))
	w.step()
	w.link("eth0").Carrier = netstate.No
	s := w.snapshot()
	out := w.m.Step(w.now, &s)
	if len(out.Actions) != 1 || out.Actions[0].Kind != Demote {
		t.Fatalf("acts %v", out.Actions)
	}
	w.m.Failed(out.Actions[0], w.now) // polkit said no
	w.now = w.now.Add(14 * time.Second)
	s = w.snapshot()
	if out := w.m.Step(w.now, &s); len(out.Actions) != 0 {
		t.Fatalf("retried too soon: %v", out.Actions)
	}
	w.now = w.now.Add(2 * time.Second)
	s = w.snapshot()
	if out := w.m.Step(w.now, &s); len(out.Actions) != 1 {
		t.Fatalf("not retried: %v", out.Actions)
	}
}

func TestPreferenceByLinkID(t *testing.T) {
	a, b := eth("veth0"), eth("veth1")
	b.State, b.Profile, b.Profiles = netstate.StateDisconnected, "", []string{"wired2"}
	w := newWorld(Policy{Prefer: []string{"veth0", "veth1"}}, a, b)
	w.step()
	w.link("veth0").Carrier = netstate.No
	w.step()
	if w.count(Activate, "veth1") != 1 || w.count(Demote, "veth0") != 1 {
		t.Fatalf("acts %v", w.acts)
	}
	if w.acts[len(w.acts)-1].Profile != "wired2" {
		t.Fatalf("profile %v", w.acts)
	}
}

func TestSteadyStateIsQuiet(t *testing.T) {
	w := newWorld(Policy{}, eth("eth0"), wifi(80), cell(netstate.StateDisconnected))
	for i := 0; i < 100; i++ {
		out := w.step()
		if len(out.Actions)+len(out.Events) != 0 || !out.Next.IsZero() {
			t.Fatalf("steady state step %d: %+v", i, out)
		}
		w.now = w.now.Add(time.Second)
	}
}

// TestHoldSoonAfterAnEarlierDemotion: a Wi-Fi demoted as dead, lost, and
// back within seconds must still be held off until it proves itself (an
// earlier demotion of the same link is not a reason to skip this one).
func TestHoldSoonAfterAnEarlierDemotion(t *testing.T) {
	w := newWorld(Policy{FailbackAfter: 30 * time.Second}, wifi(80), cell(netstate.StateConnected))
	w.step()
	w.link("wlan0").Probe = netstate.Probe{OK: netstate.No, Failures: 3, Reason: "timeout"}
	w.step()
	if w.count(Demote, "wlan0") != 1 || w.primary() != "wwan0" {
		t.Fatalf("dead Wi-Fi: %v", w.acts)
	}
	w.now = w.now.Add(3 * time.Second)
	w.link("wlan0").State, w.link("wlan0").Demoted = netstate.StateDisconnected, false
	w.step()
	w.now = w.now.Add(3 * time.Second)
	w.link("wlan0").State, w.link("wlan0").Probe = netstate.StateConnected, ok()
	w.step()
	if w.count(Demote, "wlan0") != 2 || w.primary() != "wwan0" || !w.said("Keeping the work on cellular") {
		t.Fatalf("Wi-Fi back: acts %v primary %s log %v", w.acts, w.primary(), w.log)
	}
}

// TestNoPingPongWhileTheRouteFollows: after a fail-back the route moves a
// moment later; steps in between must not take the old route as news (re-
// adopting it, then holding the preferred link off again, in a loop).
func TestNoPingPongWhileTheRouteFollows(t *testing.T) {
	w := newWorld(Policy{FailbackAfter: 2 * time.Second, MinDwell: time.Second}, wifi(80), cell(netstate.StateConnected))
	w.step()
	w.link("wlan0").State = netstate.StateDisconnected
	w.step()
	w.now = w.now.Add(time.Second)
	w.link("wlan0").State = netstate.StateConnected
	w.step() // held
	// From here actions take effect only after two more steps.
	var queue []Action
	for i := 0; i < 40; i++ {
		w.now = w.now.Add(500 * time.Millisecond)
		s := w.snapshot()
		out := w.m.Step(w.now, &s)
		for _, ev := range out.Events {
			w.log = append(w.log, ev.Text)
		}
		queue = append(queue, out.Actions...)
		if len(queue) > 0 && i%3 == 2 {
			for _, a := range queue {
				l := w.link(a.Link)
				switch a.Kind {
				case Demote:
					l.Demoted = true
				case Restore:
					l.Demoted = false
				}
			}
			queue = nil
		}
	}
	backs, holds := 0, 0
	for _, l := range w.log {
		if strings.Contains(l, "Back on") {
			backs++
		}
		if strings.Contains(l, "Keeping the work") {
			holds++
		}
	}
	if backs != 1 || holds != 1 || w.primary() != "wlan0" {
		t.Fatalf("backs %d holds %d primary %s: %v", backs, holds, w.primary(), w.log)
	}
}

// TestLongOutageThenPullAgain is finding 1 of "Failover that stays right
// all day": a cable out for longer than NetworkManager's carrier wait comes
// back at its profile's metric; it is held until it has proved itself,
// and the next pull is failed over at once, however many times.
func TestLongOutageThenPullAgain(t *testing.T) {
	w := newWorld(Policy{Prefer: []string{"eth0", "eth1"}, FailbackAfter: 5 * time.Second, MinDwell: time.Second}, eth("eth0"), eth("eth1"))
	w.step()
	for round := 1; round <= 5; round++ {
		w.now = w.now.Add(time.Second)
		w.link("eth0").Carrier = netstate.No
		w.step()
		if w.primary() != "eth1" || w.count(Demote, "eth0") != 2*round-1 {
			t.Fatalf("round %d, pull: primary %s, demotions %d; log %v", round, w.primary(), w.count(Demote, "eth0"), w.log)
		}
		// NetworkManager gives up on the cable (6 s), and the cable comes
		// back: NetworkManager activates it at its profile's metric.
		w.run(7*time.Second, time.Second)
		w.link("eth0").State = netstate.StateUnavailable
		w.step()
		w.now = w.now.Add(3 * time.Second)
		w.link("eth0").Carrier, w.link("eth0").State = netstate.Yes, netstate.StateConnected
		w.step()
		if w.primary() != "eth1" || w.count(Demote, "eth0") != 2*round {
			t.Fatalf("round %d, re-plug: the preferred cable was not held: primary %s, log %v", round, w.primary(), w.log)
		}
		// Each flap doubles the wait (5 s, 10 s, 20 s, ...).
		for end := w.now.Add(3 * time.Minute); w.primary() != "eth0" && w.now.Before(end); w.now = w.now.Add(500 * time.Millisecond) {
			w.step()
		}
		if w.primary() != "eth0" || w.count(Restore, "eth0") != round {
			t.Fatalf("round %d: no fail-back: primary %s, log %v", round, w.primary(), w.log)
		}
	}
}

// TestActivationForgottenOnceUp is finding 6: a link fieldlink brought up
// long ago and that goes down later is not "did not come up within 45s"
// in the instant it is activated again.
func TestActivationForgottenOnceUp(t *testing.T) {
	backup := eth("eth1")
	backup.State, backup.Profile, backup.Profiles = netstate.StateDisconnected, "", []string{"wired2"}
	w := newWorld(Policy{Prefer: []string{"eth0", "eth1"}}, eth("eth0"), backup)
	w.step()
	w.link("eth0").Carrier = netstate.No
	w.step()
	if w.count(Activate, "eth1") != 1 || w.link("eth1").State != netstate.StateConnected {
		t.Fatalf("cold standby: %v", w.acts)
	}
	w.run(2*time.Minute, 5*time.Second)
	w.link("eth1").State = netstate.StateDisconnected
	w.step()
	if w.said("did not come up") {
		t.Fatalf("an activation that completed long ago was given up: %v", w.log)
	}
}

// TestWeakWiFiBringsUpColdStandby: a Wi-Fi that stays connected but too
// weak (red for red_hold) is dead, and cold-standby cellular is brought
// up; it is not waited on as "up and not yet proven" (found by the
// fake-bus sequence model).
func TestWeakWiFiBringsUpColdStandby(t *testing.T) {
	w := newWorld(Policy{RedHold: time.Second}, wifi(80), cell(netstate.StateDisconnected))
	w.step()
	w.link("wlan0").Signal.Strength = netstate.Some(20)
	w.run(3*time.Second, 500*time.Millisecond)
	if w.count(Activate, "wwan0") != 1 || w.primary() != "wwan0" {
		t.Fatalf("weak Wi-Fi: acts %v, primary %s, log %v", w.acts, w.primary(), w.log)
	}
}
