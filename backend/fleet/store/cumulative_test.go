package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/report"
)

// allDevices fetches as for a group of every device: from the devices'
// own day roll-ups, not the running totals.
type allDevices struct {
	report.Fetcher
	ids []string
}

func (a allDevices) Fetch(ctx context.Context, f report.Filter) (*report.Data, error) {
	f.Devices = a.ids
	return a.Fetcher.Fetch(ctx, f)
}

// variedDay is a device-day as a sync sends it, with its areas, signal,
// radio generations and visits' shares drawn, so that a day counted twice or left out
// shows in every figure.
func variedDay(rng *rand.Rand, dev string, day int64) []byte {
	s := string(deviceDay(dev, day))
	s = strings.ReplaceAll(s, `"area":"234-30 TAC 2C1`, fmt.Sprintf(`"area":"234-30 TAC %X`, 0x2C0+rng.Intn(12)))
	s = strings.ReplaceAll(s, `"h_signal":"-97:2"`, fmt.Sprintf(`"h_signal":"%d:%d","h_tech":"4:%d,5:%d"`, -120+rng.Intn(50), 1+rng.Intn(3),
		rng.Intn(400000), rng.Intn(100000)))
	s = strings.ReplaceAll(s, `"h_share":"94:1"`, fmt.Sprintf(`"h_share":"%d:1"`, 40+rng.Intn(61)))
	s = strings.ReplaceAll(s, `"h_visit":"95:5,60:1"`, fmt.Sprintf(`"h_visit":"%d:5,%d:1"`, 40+rng.Intn(61), 40+rng.Intn(61)))
	return []byte(s)
}

// TestRunningTotalsAnswerAnyPeriod: seeded random days of a small fleet —
// uploads of today, of days missed (a device back after a week), of a day
// sent again with other figures, devices quiet for days, areas visited
// now and then; refreshes
// that rewrite a few devices' totals or every device's — and after each
// refresh random periods (ragged, one day, before the first day, past the
// last, at another visit share) read from the running totals equal the
// same periods read from every device's own day roll-ups. Replay with
// FIELDLINK_CUM_SEED.
func TestRunningTotalsAnswerAnyPeriod(t *testing.T) {
	seed := int64(20261207)
	if s, err := strconv.ParseInt(os.Getenv("FIELDLINK_CUM_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (FIELDLINK_CUM_SEED=%d replays)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	ctx := context.Background()
	s := open(t)
	now := time.Date(2026, 10, 20, 18, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	var devs []Enrollment
	var ids []string
	// Some devices sync most days, some now and then, one hardly ever.
	keen := []int{9, 9, 9, 6, 6, 3, 3, 1}
	for i := range keen {
		e := enroll(t, s, fmt.Sprintf("tb-%d", i))
		devs = append(devs, e)
		ids = append(ids, fmt.Sprintf("dev-%d", i))
	}
	defer func(n int) { manyDevices = n }(manyDevices)
	first := now.Unix()/86400 - 3
	var trail []string
	for step := range 60 {
		today := now.Unix() / 86400
		for d := range devs {
			day := today
			switch k := rng.Intn(10); {
			case k >= keen[d]:
				continue // no upload today
			case k < 2:
				day = today - 1 - int64(rng.Intn(int(today-first))) // a day missed, or sent again
			}
			if _, _, err := s.Ingest(ctx, devs[d], bytes.NewReader(variedDay(rng, ids[d], day)), "t"); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			trail = append(trail, fmt.Sprintf("%d: %s sends %d", step, ids[d], day-first))
		}
		if step == 30 {
			// IT sets another visit share: the totals are counted again.
			s.SetVisitShare(0.6)
			trail = append(trail, fmt.Sprintf("%d: the server's visit share is now 60%%", step))
		}
		if rng.Intn(3) > 0 {
			manyDevices = []int{0, 200}[rng.Intn(2)] // every device's totals, or the few that sent
			st, err := s.Refresh(ctx)
			if err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			trail = append(trail, fmt.Sprintf("%d: refresh (%d days, %d devices, %d rows; every device: %v)", step, st.Days, st.Devices, st.Rows, manyDevices == 0))
			for range 3 {
				lo := first - 2 + int64(rng.Intn(int(today-first)+4))
				hi := lo + int64(rng.Intn(int(today-lo)+3))
				q := report.Query{Since: time.Unix(lo*86400, 0), Until: time.Unix((hi+1)*86400, 0), VisitShare: []float64{0.8, 0.8, 0.6}[rng.Intn(3)]}
				got, _, err := report.From(ctx, s.Fetcher(), q)
				if err != nil {
					t.Fatal(err)
				}
				want, _, err := report.From(ctx, allDevices{s.Fetcher(), ids}, q)
				if err != nil {
					t.Fatal(err)
				}
				if t.Failed() {
					break
				}
				func() {
					defer func() {
						if t.Failed() {
							t.Logf("seed %d step %d: days %d–%d at %.0f%%; the steps:\n%s", seed, step, lo-first, hi-first, 100*q.VisitShare,
								strings.Join(trail, "\n"))
						}
					}()
					same(t, fmt.Sprintf("step %d, days %d–%d", step, lo-first, hi-first), got, want)
				}()
			}
		}
		now = now.Add(24 * time.Hour)
	}
}
