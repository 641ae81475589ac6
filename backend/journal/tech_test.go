package journal

import (
	"context"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// TestTechShareByArea: a modem on 4G for 30 minutes, then on 5G for 10,
// in one area: the area's day says so in milliseconds per generation,
// and a session left open by a crash, rebuilt from its samples, says the
// same.
func TestTechShareByArea(t *testing.T) {
	ctx := context.Background()
	j, r, stop := recording(t, base)
	link := func(tech netstate.Tech) netstate.Snapshot {
		return netstate.Snapshot{Primary: "wwan0", Links: []netstate.Link{{ID: "wwan0", Interface: "wwan0", Kind: netstate.KindCellular,
			State: netstate.StateConnected, Level: netstate.LevelGreen, Default: true,
			Cell:   netstate.Cell{Operator: "EE", MCC: "234", MNC: "30", TAC: "2C10", Tech: tech, Registration: netstate.RegHome},
			Signal: netstate.Signal{RSRP: netstate.Some(-95)}, Probe: netstate.Probe{OK: netstate.Yes}}}}
	}
	for m := 0; m <= 40; m++ {
		tech := netstate.TechLTE
		if m >= 30 { // seen at minute 30: the time before it was on 4G
			tech = netstate.Tech5GNR
		}
		s := link(tech)
		r.Observe(base.Add(time.Duration(m)*time.Minute), &s, nil)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Rebuilt from the samples, as after a crash, before the session ends.
	var id, start int64
	j.db.QueryRow(`SELECT id, start_ms FROM session WHERE end_ms IS NULL`).Scan(&id, &start)
	c, err := rebuild(ctx, j.db, id, start)
	if err != nil {
		t.Fatal(err)
	}
	empty := netstate.Snapshot{}
	r.Observe(base.Add(40*time.Minute), &empty, nil)
	stop()
	var h string
	if err := j.db.QueryRow(`SELECT h_tech FROM day_area WHERE kind = 'cellular'`).Scan(&h); err != nil {
		t.Fatal(err)
	}
	if want := "4:1800000,5:600000"; h != want {
		t.Fatalf("the area's time by generation %q, want %q", h, want)
	}
	var rebuilt Hist
	for _, a := range c.areas {
		if len(a.hTech) > 0 {
			rebuilt = a.hTech
		}
	}
	if rebuilt.String() != h {
		t.Fatalf("rebuilt from the samples: %q, live: %q", rebuilt.String(), h)
	}
}
