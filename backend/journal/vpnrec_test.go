package journal

import (
	"context"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// TestVPNSessionsRemakesAndPrompts: a morning's VPN as the keeper reports
// it: a log-in prompt, up over the cable, re-made over the backup after a
// pull, back over the cable, then held by a refused password. The journal
// has one session with its time up, two re-makes with their reasons and
// links and durations, and the day's count: one session, two re-makes,
// one prompt.
func TestVPNSessionsRemakesAndPrompts(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	j, r, stop := recording(t, t0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	st := func(p netstate.VPNPhase, via, why string) netstate.VPNStatus {
		return netstate.VPNStatus{Profile: "NHS-VPN", Phase: p, Via: via, Reason: why}
	}
	r.ObserveVPN(at(0), st(netstate.VPNConnecting, "veth0", "the path is workable"))
	snap := &netstate.Snapshot{}
	r.Observe(at(0.1), snap, []netstate.Event{{Time: at(0.1), Kind: netstate.EventPrompt, Text: "NetworkManager asks for the password for VPN NHS-VPN"}})
	r.ObserveVPN(at(5), st(netstate.VPNUp, "veth0", ""))
	r.ObserveVPN(at(60), st(netstate.VPNConnecting, "veth1", "the work moved from veth0 to veth1"))
	r.ObserveVPN(at(60.3), st(netstate.VPNUp, "veth1", ""))
	r.ObserveVPN(at(120), st(netstate.VPNConnecting, "veth0", "the work moved from veth1 to veth0"))
	r.ObserveVPN(at(120.4), st(netstate.VPNUp, "veth0", ""))
	r.ObserveVPN(at(200), st(netstate.VPNWaiting, "", "the VPN server took it down"))
	r.ObserveVPN(at(210), st(netstate.VPNHeld, "", "the VPN server refused the password for NHS-VPN"))
	stop()
	var start, upFirst, end, upMS, remakes, prompts int64
	var why string
	if err := j.db.QueryRow(`SELECT start_ms, up_first_ms, end_ms, up_ms, remakes, prompts, end_reason FROM vpn_session`).
		Scan(&start, &upFirst, &end, &upMS, &remakes, &prompts, &why); err != nil {
		t.Fatal(err)
	}
	if start != at(0).UnixMilli() || upFirst != at(5).UnixMilli() || end != at(210).UnixMilli() || remakes != 2 || prompts != 1 ||
		why != "the VPN server refused the password for NHS-VPN" {
		t.Fatalf("session %d %d %d up %d remakes %d prompts %d %q", start, upFirst, end, upMS, remakes, prompts, why)
	}
	// Up 5 → 60, 60.3 → 120, 120.4 → 200.
	want := int64(55000 + 59700 + 79600)
	if upMS != want {
		t.Fatalf("up %d ms, want %d", upMS, want)
	}
	ms, err := j.VPNRemakes(context.Background(), t0)
	if err != nil || len(ms) != 2 {
		t.Fatalf("re-makes %+v %v", ms, err)
	}
	if ms[0].From != "veth0" || ms[0].To != "veth1" || ms[0].Took != 300*time.Millisecond || ms[0].Why != "the work moved from veth0 to veth1" ||
		ms[1].From != "veth1" || ms[1].To != "veth0" || ms[1].Took != 400*time.Millisecond {
		t.Fatalf("re-makes %+v", ms)
	}
	days, err := j.VPNDays(context.Background(), t0)
	if err != nil || len(days) != 1 || days[0].Profile != "NHS-VPN" || days[0].Sessions != 1 || days[0].Remakes != 2 || days[0].Prompts != 1 ||
		days[0].Up != time.Duration(want)*time.Millisecond {
		t.Fatalf("days %+v %v", days, err)
	}
}
