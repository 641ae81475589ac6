package vpn

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// snap builds a classified picture: the primary link at a level, with or
// without a passing probe, and the VPN link in a state (or absent).
func snap(primary string, level netstate.Level, probeOK bool, vpnState netstate.State, vpnReason string) *netstate.Snapshot {
	s := &netstate.Snapshot{Primary: primary}
	for _, id := range []string{"wlan0", "wwan0"} {
		kind := netstate.KindWiFi
		if id == "wwan0" {
			kind = netstate.KindCellular
		}
		l := netstate.Link{ID: id, Interface: id, Kind: kind, State: netstate.StateConnected, Level: netstate.LevelGreen, Reason: "good"}
		l.Probe.OK = netstate.Yes
		if id == primary {
			l.Default = true
			l.Level = level
			if !probeOK {
				l.Probe.OK = netstate.No
			}
		}
		s.Links = append(s.Links, l)
	}
	if vpnState != netstate.StateUnknown {
		s.Links = append(s.Links, netstate.Link{ID: "vpn:NHS-VPN", Kind: netstate.KindVPN, Profile: "NHS-VPN",
			State: vpnState, StateReason: vpnReason})
	}
	return s
}

func only(t *testing.T, out Output, kind failover.ActionKind) {
	t.Helper()
	if len(out.Actions) != 1 || out.Actions[0].Kind != kind || out.Actions[0].Profile != "NHS-VPN" {
		t.Fatalf("want one %s of NHS-VPN, got %+v (events %+v)", kind, out.Actions, out.Events)
	}
}

func none(t *testing.T, out Output) {
	t.Helper()
	if len(out.Actions) != 0 {
		t.Fatalf("want no action, got %+v", out.Actions)
	}
}

func TestNotWhileRedThenAfterGreen(t *testing.T) {
	k := New(Policy{Profile: "NHS-VPN", Auto: true})
	none(t, k.Step(t0, snap("wlan0", netstate.LevelRed, true, netstate.StateUnknown, "")))
	if st := k.Status(); st.Phase != netstate.VPNWaiting || !strings.Contains(st.Reason, "DO NOT PROCEED") {
		t.Fatalf("status while red: %+v", st)
	}
	// Amber but no probe has passed: still not.
	none(t, k.Step(t0.Add(time.Second), snap("wlan0", netstate.LevelAmber, false, netstate.StateUnknown, "")))
	out := k.Step(t0.Add(2*time.Second), snap("wlan0", netstate.LevelAmber, true, netstate.StateUnknown, ""))
	only(t, out, failover.Activate)
	if k.Status().Phase != netstate.VPNConnecting || k.Status().Via != "wlan0" {
		t.Fatalf("status %+v", k.Status())
	}
	// While it comes up, nothing more is asked.
	none(t, k.Step(t0.Add(3*time.Second), snap("wlan0", netstate.LevelGreen, true, netstate.StateConnecting, "")))
	out = k.Step(t0.Add(4*time.Second), snap("wlan0", netstate.LevelGreen, true, netstate.StateConnected, ""))
	none(t, out)
	if len(out.Events) != 1 || out.Events[0].Kind != netstate.EventVPNUp || !strings.Contains(out.Events[0].Text, "in 2.0 s") {
		t.Fatalf("up events %+v", out.Events)
	}
	if st := k.Status(); st.Phase != netstate.VPNUp || !st.Since.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("status %+v", st)
	}
	// Red while up: left alone (NetworkManager drops it if its link goes).
	none(t, k.Step(t0.Add(5*time.Second), snap("wlan0", netstate.LevelRed, false, netstate.StateConnected, "")))
}

func TestReconnectAfterFailover(t *testing.T) {
	k := New(Policy{Profile: "NHS-VPN", Auto: true})
	k.Step(t0, snap("wlan0", netstate.LevelGreen, true, netstate.StateUnknown, ""))
	k.Step(t0.Add(time.Second), snap("wlan0", netstate.LevelGreen, true, netstate.StateConnected, ""))
	// Failover moved the default route to cellular; Wi-Fi is demoted but
	// still up, so NetworkManager keeps the VPN on it.
	out := k.Step(t0.Add(10*time.Second), snap("wwan0", netstate.LevelGreen, true, netstate.StateConnected, ""))
	only(t, out, failover.Reconnect)
	if !strings.Contains(out.Events[0].Text, "Reconnecting VPN NHS-VPN: the work moved from Wi-Fi via wlan0 to Cellular via wwan0") {
		t.Fatalf("event %+v", out.Events)
	}
	out = k.Step(t0.Add(11*time.Second), snap("wwan0", netstate.LevelGreen, true, netstate.StateConnected, ""))
	none(t, out) // the same VPN link still up: the reconnect is under way, not asked twice
	if len(out.Events) != 0 {
		t.Fatalf("the old tunnel was taken for the new: %+v", out.Events)
	}
	k.Step(t0.Add(12*time.Second), snap("wwan0", netstate.LevelGreen, true, netstate.StateConnecting, ""))
	out = k.Step(t0.Add(13*time.Second), snap("wwan0", netstate.LevelGreen, true, netstate.StateConnected, ""))
	if len(out.Events) != 1 || out.Events[0].Kind != netstate.EventVPNUp || !strings.Contains(out.Events[0].Text, "over Cellular via wwan0 in 3.0 s") {
		t.Fatalf("after the reconnect: %+v", out.Events)
	}
	// NetworkManager dropped the VPN with its base device instead.
	k2 := New(Policy{Profile: "NHS-VPN", Auto: true})
	k2.Step(t0, snap("wlan0", netstate.LevelGreen, true, netstate.StateUnknown, ""))
	k2.Step(t0.Add(time.Second), snap("wlan0", netstate.LevelGreen, true, netstate.StateConnected, ""))
	out = k2.Step(t0.Add(time.Hour), snap("wwan0", netstate.LevelGreen, true, netstate.StateDisconnected, "the device it ran over disconnected"))
	only(t, out, failover.Activate)
	if out.Events[0].Kind != netstate.EventVPNDown || !strings.Contains(out.Events[0].Text, "down after 59m59s: the device it ran over disconnected") {
		t.Fatalf("events %+v", out.Events)
	}
	if k2.Status().Via != "wwan0" {
		t.Fatalf("via %q", k2.Status().Via)
	}
}

func TestRetryBackoffAndHold(t *testing.T) {
	k := New(Policy{Profile: "NHS-VPN", Auto: true, RetryMin: 10 * time.Second, RetryMax: 30 * time.Second})
	green := func(st netstate.State, why string) *netstate.Snapshot {
		return snap("wlan0", netstate.LevelGreen, true, st, why)
	}
	now := t0
	only(t, k.Step(now, green(netstate.StateUnknown, "")), failover.Activate)
	var waits []time.Duration
	for i := 0; i < 4; i++ {
		k.Step(now.Add(time.Second), green(netstate.StateConnecting, ""))
		out := k.Step(now.Add(2*time.Second), green(netstate.StateDisconnected, "the VPN service stopped"))
		st := k.Status()
		if st.Phase != netstate.VPNRetrying {
			t.Fatalf("attempt %d: %+v", i, st)
		}
		waits = append(waits, st.Retry.Sub(now.Add(2*time.Second)))
		// "The VPN service stopped" leaves the cause open: the device is
		// asked what it can check, once per failure.
		only(t, out, failover.Diagnose)
		none(t, k.Step(st.Retry.Add(-time.Millisecond), green(netstate.StateDisconnected, "")))
		now = st.Retry
		only(t, k.Step(now, green(netstate.StateDisconnected, "")), failover.Activate)
	}
	if want := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second}; !equal(waits, want) {
		t.Fatalf("back-off %v, want %v", waits, want)
	}
	// Refused credentials are not retried: that locks accounts.
	k.Step(now.Add(time.Second), green(netstate.StateConnecting, ""))
	k.Step(now.Add(2*time.Second), green(netstate.StateDisconnected, "login failed: the VPN server refused the credentials"))
	if k.Status().Phase != netstate.VPNHeld {
		t.Fatalf("after a refused login: %+v", k.Status())
	}
	none(t, k.Step(now.Add(time.Hour), green(netstate.StateDisconnected, "")))
	k.Connect(now.Add(time.Hour))
	only(t, k.Step(now.Add(time.Hour), green(netstate.StateDisconnected, "")), failover.Activate)
}

func TestTimeoutAndRefusedAction(t *testing.T) {
	k := New(Policy{Profile: "NHS-VPN", Auto: true, ActivationTimeout: 30 * time.Second})
	out := k.Step(t0, snap("wlan0", netstate.LevelGreen, true, netstate.StateUnknown, ""))
	if !out.Next.Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("next %v", out.Next)
	}
	out = k.Step(t0.Add(30*time.Second), snap("wlan0", netstate.LevelGreen, true, netstate.StateConnecting, ""))
	if len(out.Actions) != 2 || out.Actions[0].Kind != failover.Deactivate || out.Actions[1].Kind != failover.Diagnose {
		t.Fatalf("a timeout: want deactivate then diagnose, got %v", out.Actions)
	}
	if k.Status().Phase != netstate.VPNRetrying || !strings.Contains(k.Status().Reason, "did not connect within 30s") {
		t.Fatalf("%+v", k.Status())
	}
	evs := k.Diagnosed(t0.Add(31*time.Second), "its server 10.77.0.1:1199 does not answer")
	if len(evs) != 1 || evs[0].Text != "VPN NHS-VPN: its server 10.77.0.1:1199 does not answer" ||
		!strings.HasSuffix(k.Status().Reason, "did not connect within 30s: its server 10.77.0.1:1199 does not answer") {
		t.Fatalf("diagnosis: %+v %+v", evs, k.Status())
	}
	// A profile NetworkManager does not have: asking again will not help.
	k = New(Policy{Profile: "NHS-VPN", Auto: true})
	out = k.Step(t0, snap("wlan0", netstate.LevelGreen, true, netstate.StateUnknown, ""))
	evs = k.Failed(out.Actions[0], errors.New("activate NHS-VPN: no saved profile of that name"), t0)
	if k.Status().Phase != netstate.VPNHeld || len(evs) != 1 || !strings.Contains(evs[0].Text, "press c") {
		t.Fatalf("%+v %+v", k.Status(), evs)
	}
}

// TestTimedOutAttemptGoingDownIsOneFailure: the attempt fieldlink took
// down at its timeout is still "connecting" in the next picture, then
// ends "disconnected by the user". That is the same failure, not another
// attempt by someone else failing: one back-off step, and the timeout's
// diagnosis is still asked for.
func TestTimedOutAttemptGoingDownIsOneFailure(t *testing.T) {
	k := New(Policy{Profile: "NHS-VPN", Auto: true, ActivationTimeout: 6 * time.Second, RetryMin: 2 * time.Second})
	green := func(st netstate.State, why string) *netstate.Snapshot {
		return snap("wlan0", netstate.LevelGreen, true, st, why)
	}
	only(t, k.Step(t0, green(netstate.StateUnknown, "")), failover.Activate)
	out := k.Step(t0.Add(6*time.Second), green(netstate.StateConnecting, ""))
	if len(out.Actions) != 2 || out.Actions[0].Kind != failover.Deactivate || out.Actions[1].Kind != failover.Diagnose {
		t.Fatalf("a timeout: want deactivate then diagnose, got %v", out.Actions)
	}
	retry := k.Status().Retry
	for _, st := range []struct {
		at    time.Duration
		state netstate.State
		why   string
	}{{6001 * time.Millisecond, netstate.StateConnecting, ""}, {6005 * time.Millisecond, netstate.StateDisconnecting, ""},
		{6006 * time.Millisecond, netstate.StateDisconnected, "disconnected by the user"}} {
		out := k.Step(t0.Add(st.at), green(st.state, st.why))
		if len(out.Events) != 0 || len(out.Actions) != 0 {
			t.Fatalf("at %v (%v %q), the timed-out attempt going down: %+v", st.at, st.state, st.why, out)
		}
		if s := k.Status(); s.Phase != netstate.VPNRetrying || !s.Retry.Equal(retry) || !strings.Contains(s.Reason, "did not connect within 6s") {
			t.Fatalf("at %v: %+v, want retrying at %v for the timeout", st.at, s, retry)
		}
	}
	if evs := k.Diagnosed(t0.Add(6100*time.Millisecond), "its server answers"); len(evs) != 1 {
		t.Fatalf("diagnosis after the attempt went down: %+v", evs)
	}
	only(t, k.Step(retry, green(netstate.StateDisconnected, "")), failover.Activate)
}

func TestManualOnly(t *testing.T) {
	k := New(Policy{Profile: "NHS-VPN"})
	none(t, k.Step(t0, snap("wlan0", netstate.LevelGreen, true, netstate.StateUnknown, "")))
	if k.Status().Reason != "press c to connect" {
		t.Fatalf("%+v", k.Status())
	}
	k.Connect(t0)
	only(t, k.Step(t0, snap("wlan0", netstate.LevelGreen, true, netstate.StateUnknown, "")), failover.Activate)
	// No profile: nothing at all.
	if out := New(Policy{}).Step(t0, snap("wlan0", netstate.LevelGreen, true, netstate.StateUnknown, "")); len(out.Actions)+len(out.Events) != 0 {
		t.Fatalf("%+v", out)
	}
}

func equal(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDropSettles: a VPN that drops while its link still looks like the
// path is not restarted over that link at once (the link's own end is
// usually on its way); a new path is taken at once, the old one after a
// moment.
func TestDropSettles(t *testing.T) {
	k := New(Policy{Profile: "NHS-VPN", Auto: true})
	k.Step(t0, snap("wlan0", netstate.LevelGreen, true, netstate.StateUnknown, ""))
	k.Step(t0.Add(time.Second), snap("wlan0", netstate.LevelGreen, true, netstate.StateConnected, ""))
	out := k.Step(t0.Add(time.Minute), snap("wlan0", netstate.LevelGreen, true, netstate.StateDisconnected, "the link it ran over disconnected"))
	none(t, out)
	if !out.Next.Equal(t0.Add(time.Minute + 2*time.Second)) {
		t.Fatalf("next %v", out.Next)
	}
	only(t, k.Step(t0.Add(time.Minute+100*time.Millisecond), snap("wwan0", netstate.LevelGreen, true, netstate.StateDisconnected, "")), failover.Activate)

	k = New(Policy{Profile: "NHS-VPN", Auto: true})
	k.Step(t0, snap("wlan0", netstate.LevelGreen, true, netstate.StateUnknown, ""))
	k.Step(t0.Add(time.Second), snap("wlan0", netstate.LevelGreen, true, netstate.StateConnected, ""))
	none(t, k.Step(t0.Add(time.Minute), snap("wlan0", netstate.LevelGreen, true, netstate.StateDisconnected, "the VPN service stopped")))
	only(t, k.Step(t0.Add(time.Minute+2*time.Second), snap("wlan0", netstate.LevelGreen, true, netstate.StateDisconnected, "")), failover.Activate)
}

// TestLinkLostWhileConnecting: the link under a VPN that is still coming
// up goes away (a failover mid-activation). That is no VPN failure: no
// back-off, and it starts again over the new path at once.
func TestLinkLostWhileConnecting(t *testing.T) {
	k := New(Policy{Profile: "NHS-VPN", Auto: true})
	only(t, k.Step(t0, snap("wlan0", netstate.LevelGreen, true, netstate.StateUnknown, "")), failover.Activate)
	k.Step(t0.Add(10*time.Millisecond), snap("wlan0", netstate.LevelGreen, true, netstate.StateConnecting, ""))
	// NetworkManager ends it before the Wi-Fi's own end is seen.
	out := k.Step(t0.Add(20*time.Millisecond), snap("wlan0", netstate.LevelGreen, true, netstate.StateDisconnected, "the link it ran over disconnected"))
	none(t, out)
	if st := k.Status(); st.Phase != netstate.VPNWaiting || !st.Retry.IsZero() {
		t.Fatalf("status %+v: a lost link is not a VPN failure", st)
	}
	out = k.Step(t0.Add(80*time.Millisecond), snap("wwan0", netstate.LevelGreen, true, netstate.StateDisconnected, "the link it ran over disconnected"))
	only(t, out, failover.Activate)
	if k.Status().Via != "wwan0" {
		t.Fatalf("via %q", k.Status().Via)
	}
}

// TestWaitsForTheAgentAfterARestart: a NetworkManager that just restarted
// has forgotten the secret agent; starting the VPN before the agent is
// back fails "no secrets" and costs a back-off, so the keeper waits for
// it, but not for ever (another fieldlink may answer the prompts).
func TestWaitsForTheAgentAfterARestart(t *testing.T) {
	ready := false
	k := New(Policy{Profile: "NHS-VPN", Auto: true, AgentReady: func() bool { return ready }})
	green := snap("wlan0", netstate.LevelGreen, true, netstate.StateUnknown, "")
	out := k.Step(t0, green)
	none(t, out)
	if st := k.Status(); st.Phase != netstate.VPNWaiting || !strings.Contains(st.Reason, "registered with NetworkManager") {
		t.Fatalf("while the agent is away: %+v", st)
	}
	if !out.Next.Equal(t0.Add(agentPoll)) {
		t.Fatalf("next look %v, want %v", out.Next, t0.Add(agentPoll))
	}
	none(t, k.Step(t0.Add(time.Second), green))
	ready = true
	only(t, k.Step(t0.Add(1100*time.Millisecond), green), failover.Activate)

	// Never registered: started anyway once the grace is over.
	ready = false
	k = New(Policy{Profile: "NHS-VPN", Auto: true, AgentReady: func() bool { return ready }})
	none(t, k.Step(t0, green))
	none(t, k.Step(t0.Add(agentGrace-time.Millisecond), green))
	only(t, k.Step(t0.Add(agentGrace), green), failover.Activate)
}
