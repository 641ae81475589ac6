package realmm

import (
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/testbed/atmodem"
)

// TestRealModemManagerDrivesTheSimulatedModem checks the harness itself
// with mmcli: the real ModemManager lists the simulated modem through its
// generic plugin, enables it, reads its operator, technology and signal,
// and follows a change pushed by the modem.
func TestRealModemManagerDrivesTheSimulatedModem(t *testing.T) {
	start := time.Now()
	h := Start(t, Options{})
	t.Logf("kernel event → modem listed: %v", time.Since(start).Round(100*time.Millisecond))
	k := h.Keys()
	if k["modem.generic.manufacturer"] != "FieldLink Sim Inc." || k["modem.generic.plugin"] != "generic" {
		t.Fatalf("modem %v", k)
	}
	if _, err := h.Mmcli("-m", "any", "-e"); err != nil {
		t.Fatal(err)
	}
	if err := h.WaitKey("modem.generic.state", "registered", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := h.WaitKey("modem.3gpp.operator-code", "23499", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	h.Modem.Set(func(n *atmodem.Network) { n.Tech = atmodem.UMTS })
	if err := h.WaitKey("modem.generic.access-technologies.value[1]", "umts", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("technology change → ModemManager: %v", time.Since(changed).Round(10*time.Millisecond))
}
