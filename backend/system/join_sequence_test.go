package system

import (
	"context"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
)

// TestJoinSequences takes joining through a seeded run of a day's
// changes: networks tried with the right key, a wrong one or a cancelled
// prompt, access points going out of range and coming back, the Wi-Fi
// dropped. After each step the profiles NetworkManager holds are exactly
// the networks joined so far (a failed try leaves none, a rejoin makes no
// second), a saved network asks nothing, and the key is in no event. The
// seed is printed; FIELDLINK_SEQ_SEED replays it.
func TestJoinSequences(t *testing.T) {
	seed := int64(20261204)
	if v := os.Getenv("FIELDLINK_SEQ_SEED"); v != "" {
		seed, _ = strconv.ParseInt(v, 10, 64)
	}
	t.Logf("seed %d (FIELDLINK_SEQ_SEED=%d replays)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	e := newJoinEnv(t)
	specs := map[string]fakebus.APSpec{
		"BT-Hub-7A2F": {SSID: "BT-Hub-7A2F", Strength: 70, Frequency: 2412, RsnFlags: 0x100},
		"WPA3-Home":   {SSID: "WPA3-Home", Strength: 60, Frequency: 5180, RsnFlags: 0x400},
		"eduroam":     {SSID: "eduroam", Strength: 50, Frequency: 5200, RsnFlags: 0x200},
	}
	names := []string{"BT-Hub-7A2F", "WPA3-Home", "eduroam", "Cafe-Free"}
	saved := map[string]bool{}
	inRange := map[string]bool{"BT-Hub-7A2F": true, "WPA3-Home": true, "eduroam": true, "Cafe-Free": true}
	var steps []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d after %q: "+format, append([]any{seed, steps}, args...)...)
	}
	for i := 0; i < 24; i++ {
		ssid := names[rng.Intn(len(names))]
		switch r := rng.Intn(10); {
		case r < 2 && ssid != "Cafe-Free": // out of range, or back
			if inRange[ssid] {
				e.nm.RemoveAP(e.dev, e.aps[ssid])
			} else {
				e.aps[ssid] = e.nm.AddAP(e.dev, specs[ssid])
			}
			inRange[ssid] = !inRange[ssid]
			steps = append(steps, ssid+" in range "+strconv.FormatBool(inRange[ssid]))
			time.Sleep(100 * time.Millisecond) // the mirror hears of it
		case r < 3:
			e.src.Deactivate(context.Background(), ssid)
			steps = append(steps, "drop "+ssid)
		default:
			answer := []string{"right", "wrong", "cancel"}[rng.Intn(3)]
			steps = append(steps, "join "+ssid+" "+answer)
			req := join.Request{SSID: ssid}
			if ssid == "eduroam" {
				req.EAP, req.Identity = join.PEAP, "nurse@trust.nhs.uk"
			}
			done := e.join(req)
			asks := inRange[ssid] && !saved[ssid] && ssid != "Cafe-Free"
			if asks {
				select {
				case p := <-e.prompt:
					for p.Withdrawn {
						p = <-e.prompt
					}
					switch answer {
					case "cancel":
						e.agent.Cancel(p.ID)
					default:
						key := wifiKey
						if answer == "wrong" {
							key = "not-the-key-" + strconv.Itoa(i)
						}
						vals := map[string]string{}
						for _, f := range p.Fields {
							if f.Secret {
								vals[f.Key] = key
							} else {
								vals[f.Key] = f.Value
							}
						}
						e.agent.Answer(p.ID, vals)
					}
				case <-time.After(5 * time.Second):
					fail("no prompt for a new secured network")
				}
			}
			err := wait(t, done)
			wantOK := inRange[ssid] && (!asks || answer == "right")
			if (err == nil) != wantOK {
				fail("join %s (%s): %v, want joined %v", ssid, answer, err, wantOK)
			}
			if wantOK {
				saved[ssid] = true
			}
		}
		drainWithdrawn(e)
		checkJoinInvariants(t, e, saved, fail)
	}
	t.Logf("seed %d: %d steps, saved %v", seed, len(steps), saved)
}

// drainWithdrawn takes the agent's withdrawals of answered prompts; any
// other prompt here is one nobody asked for.
func drainWithdrawn(e *joinEnv) {
	for {
		select {
		case p := <-e.prompt:
			if !p.Withdrawn {
				e.t.Fatalf("an unexpected prompt: %q", p.Title)
			}
		case <-time.After(20 * time.Millisecond):
			return
		}
	}
}

func checkJoinInvariants(t *testing.T, e *joinEnv, saved map[string]bool, fail func(string, ...any)) {
	t.Helper()
	var want, got []string
	for s := range saved {
		want = append(want, s)
	}
	// A failed try's profile is deleted a moment after the failure.
	for try := 0; try < 50; try++ {
		got = got[:0]
		for _, p := range e.nm.Profiles() {
			got = append(got, p.ID())
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(got, ",") == strings.Join(want, ",") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		fail("NetworkManager holds profiles %v, want exactly the joined %v", got, want)
	}
	for _, p := range e.nm.Profiles() {
		if p.ID() != "Cafe-Free" && e.nm.SavedSecret(p.Path, map[bool]string{true: "802-1x", false: "802-11-wireless-security"}[p.ID() == "eduroam"]) != wifiKey {
			fail("%s is saved without the key that joined it", p.ID())
		}
	}
	if strings.Contains(e.eventText(), wifiKey) {
		fail("the key reached an event")
	}
}
