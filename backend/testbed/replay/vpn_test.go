package replay

import (
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/sim"
	"github.com/fieldlink/fieldlink/backend/vpn"
)

// TestVPNReconnectsOncePerPathChange is finding 7 of "Failover that stays
// right all day": when Wi-Fi came back while the work stayed on cellular,
// the VPN was reconnected twice (over Wi-Fi for the instant the route was
// there, then back over cellular) before the real fail-back. The VPN
// follows the path failover chose: one reconnect for each change of it.
func TestVPNReconnectsOncePerPathChange(t *testing.T) {
	sc, err := sim.Builtin("home-visit")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	p := failover.DefaultPolicy()
	v := vpn.Policy{Profile: sc.VPNProfile(), Auto: true}
	moments := Run(sc, base, 2*time.Minute+30*time.Second, Options{Thresholds: netstate.DefaultThresholds(), Policy: &p, VPN: &v})
	var story []string
	starts := 0
	for _, m := range moments {
		for _, d := range m.Decisions {
			if strings.Contains(d, "VPN") {
				story = append(story, m.At.String()+" "+d)
			}
			if strings.HasPrefix(d, "Reconnecting VPN") || strings.HasPrefix(d, "Starting VPN") {
				starts++
			}
		}
	}
	// Up over Wi-Fi; again over cellular after the failover; again over
	// Wi-Fi after the fail-back: three, and no more.
	if starts != 3 {
		t.Fatalf("%d VPN starts, want 3 (one per path):\n%s", starts, strings.Join(story, "\n"))
	}
	last := moments[len(moments)-1].State
	if last.Snapshot.Primary != "wlan0" || last.Work.VPN.Phase != netstate.VPNUp || last.Work.VPN.Via != "wlan0" {
		t.Fatalf("at the end: primary %s, VPN %+v", last.Snapshot.Primary, last.Work.VPN)
	}
}
