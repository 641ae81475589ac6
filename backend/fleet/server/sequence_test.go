package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/fleet/store"
	"github.com/fieldlink/fieldlink/backend/fleet/upload"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/backend/testbed/fleetsample"
	"github.com/fieldlink/fieldlink/backend/testbed/pgtest"
)

// seqDevice is one laptop of the sequence: its journal, a real recorder on
// the shared fake clock, and the visit it is in, if any.
type seqDevice struct {
	j     *journal.Journal
	rec   *journal.Recorder
	stop  context.CancelFunc
	done  chan error
	token string
	visit *seqVisit
	// sent is the device's journal exported the moment its last sync was
	// acknowledged: what the server must hold for it, no more, no less.
	sent []byte
}

type seqVisit struct {
	start         time.Time
	area, primary string
	ee, vf        int
	wifi          bool
}

func (v *seqVisit) snapshot(now time.Time) netstate.Snapshot {
	return fleetsample.VisitSnapshot(v.area, v.ee, v.vf, v.wifi, v.primary, int(now.Sub(v.start)/time.Minute))
}

// TestFleetSyncSequences: days of a small fleet, as seeded random steps —
// visits (some across midnight, some left open for a day), time passing,
// syncs, syncs cut off mid-upload, refreshes, reads of random periods —
// with what the server holds checked after every step. Every read (a
// ragged or whole-month period, the last days, one device) is checked
// against a recomputation: the journals as each device last sent them,
// merged into SQLite and reported on; and whenever everyone has synced,
// the report to date against the journals as they are. Replay
// a failure with the printed FIELDLINK_SEQ_SEED; FIELDLINK_SEQ_STEPS sets
// the length.
func TestFleetSyncSequences(t *testing.T) {
	// CI plays the same seeds every run; FIELDLINK_SEQ_SEED plays another.
	seeds := []int64{20261130, 7}
	if s, err := strconv.ParseInt(os.Getenv("FIELDLINK_SEQ_SEED"), 10, 64); err == nil {
		seeds = []int64{s}
	}
	steps := 80
	if n, err := strconv.Atoi(os.Getenv("FIELDLINK_SEQ_STEPS")); err == nil && n > 0 {
		steps = n
	}
	for _, seed := range seeds {
		t.Run(strconv.FormatInt(seed, 10), func(t *testing.T) { fleetSequence(t, seed, steps) })
	}
}

func fleetSequence(t *testing.T, seed int64, steps int) {
	t.Logf("seed %d, %d steps (FIELDLINK_SEQ_SEED=%d replays)", seed, steps, seed)
	rng := rand.New(rand.NewSource(seed))
	ctx := context.Background()
	// trail is the steps so far, printed with a failure.
	var trail []string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d, the steps:\n%s", seed, strings.Join(trail, "\n"))
		}
	})

	st, err := store.Open(ctx, pgtest.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The days begin late in a month and run into the next, so that reads
	// cross a month's end and the devices' late days rewrite running
	// totals from the middle; the server's clock is the devices'.
	fc := clock.NewFake(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC))
	st.SetClock(fc.Now)
	var hang atomic.Bool
	h := New(st, Options{VisitShare: 0.8, DeviceShare: 0.85}).Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if hang.Load() {
			// Cut off mid-upload: the body read, nothing committed.
			io.Copy(io.Discard, req.Body)
			<-req.Context().Done()
			return
		}
		h.ServeHTTP(w, req)
	}))
	defer srv.Close()
	viewer, err := st.AddViewer(ctx, "it")
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	m := fleetsample.Map(t)
	var devs []*seqDevice
	// start runs a fresh recorder for d, as a daemon (re)started does.
	start := func(d *seqDevice) {
		d.rec = journal.NewRecorder(d.j, journal.Options{Clock: fc, Areas: m})
		rctx, cancel := context.WithCancel(ctx)
		d.stop, d.done = cancel, make(chan error, 1)
		go func() { d.done <- d.rec.Run(rctx) }()
	}
	for i := range fleetsample.Hosts {
		_, j := fleetsample.Device(t, dir, i)
		tok, err := st.Enroll(ctx, fleetsample.Hosts[i], "North")
		if err != nil {
			t.Fatal(err)
		}
		d := &seqDevice{j: j, token: tok}
		start(d)
		devs = append(devs, d)
	}
	defer func() {
		for _, d := range devs {
			d.stop()
			<-d.done
			d.j.Close()
		}
	}()

	sync := func(d *seqDevice, c context.Context) error {
		if err := d.rec.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := upload.Sync(c, d.j, upload.Options{Server: srv.URL, Token: d.token, Now: fc.Now}); err != nil {
			return err
		}
		var buf bytes.Buffer
		if _, err := d.j.Export(ctx, &buf, journal.ExportOptions{Records: upload.Records()}); err != nil {
			t.Fatal(err)
		}
		d.sent = buf.Bytes()
		return nil
	}
	// uuids is one device's sessions and visits, by table.
	uuids := func(d *seqDevice) map[string]map[string]bool {
		out := map[string]map[string]bool{}
		for _, q := range [][2]string{{"session", `SELECT uuid FROM session`}, {"visit", `SELECT uuid FROM visit`}} {
			out[q[0]] = map[string]bool{}
			rows, err := d.j.DB().QueryContext(ctx, q[1])
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var u string
				rows.Scan(&u)
				out[q[0]][u] = true
			}
			rows.Close()
		}
		return out
	}
	// held checks the server holds only what the devices recorded, and,
	// for a device that has just synced, all of it.
	held := func(step int, what string, complete *seqDevice) {
		t.Helper()
		for _, tbl := range []string{"session", "visit"} {
			rows, err := st.Pool().Query(ctx, fmt.Sprintf(`SELECT d.hostname, x.uuid FROM %s x JOIN device d ON d.id = x.device_id`, tbl))
			if err != nil {
				t.Fatal(err)
			}
			server := map[string]map[string]bool{}
			for rows.Next() {
				var host, u string
				rows.Scan(&host, &u)
				if server[host] == nil {
					server[host] = map[string]bool{}
				}
				server[host][u] = true
			}
			rows.Close()
			for i, d := range devs {
				mine := uuids(d)[tbl]
				for u := range server[fleetsample.Hosts[i]] {
					if !mine[u] {
						t.Fatalf("seed %d step %d (%s): the server holds %s %s that %s never recorded", seed, step, what, tbl, u, fleetsample.Hosts[i])
					}
				}
				if d == complete && len(server[fleetsample.Hosts[i]]) != len(mine) {
					t.Fatalf("seed %d step %d (%s): after a sync the server holds %d of %s's %d %ss", seed, step, what, len(server[fleetsample.Hosts[i]]), fleetsample.Hosts[i], len(mine), tbl)
				}
			}
		}
	}
	start0 := fc.Now().Truncate(24 * time.Hour)
	period := func() report.Query {
		return report.Query{Since: start0, Until: fc.Now().Truncate(24*time.Hour).AddDate(0, 0, 1), VisitShare: 0.8, DeviceShare: 0.85}
	}
	// recompute is the report of q from the raw records each device last
	// sent, merged into one SQLite journal: what the server's roll-ups
	// must add up to.
	recomputed := 0
	recompute := func(step int, q report.Query) (*report.Report, *journal.Journal) {
		t.Helper()
		recomputed++
		merged, err := journal.Open(fmt.Sprintf("%s/merged-%d.db", dir, recomputed))
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range devs {
			if d.sent == nil {
				continue
			}
			if _, _, err := merged.Import(ctx, bytes.NewReader(d.sent), fleetsample.Hosts[i], journal.ImportOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		want, err := report.Build(ctx, merged.DB(), q)
		if err != nil {
			t.Fatal(err)
		}
		return want, merged
	}
	// check reads q's report from the server, as IT's browser does, and
	// compares it with the recomputation, cell by cell.
	check := func(step int, q report.Query) {
		t.Helper()
		want, merged := recompute(step, q)
		defer merged.Close()
		url := fmt.Sprintf("%s/report.json?since=%s&until=%s&device=%s&visit_share=%g", srv.URL, q.Since.Format(time.DateOnly),
			q.Until.AddDate(0, 0, -1).Format(time.DateOnly), q.Device, q.VisitShare)
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+viewer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got report.Report
		if resp.StatusCode != 200 || json.Unmarshal(body, &got) != nil {
			t.Fatalf("seed %d step %d: report.json %d %.300s", seed, step, resp.StatusCode, body)
		}
		got.Generated, want.Generated = time.Time{}, time.Time{}
		got.Trends = nil // the server's own addition: TestTrendsFollowTheMonths
		a, _ := json.Marshal(&got)
		b, _ := json.Marshal(want)
		if !bytes.Equal(a, b) {
			for _, q := range []string{`SELECT device_id, day, kind, network, area, visits, h_share FROM day_visit ORDER BY 1,2,3,4,5`} {
				rows, _ := merged.DB().Query(q)
				for rows.Next() {
					var a, b, c, d, e, f, g any
					rows.Scan(&a, &b, &c, &d, &e, &f, &g)
					t.Logf("merged %v %v %v %v %v %v %v", a, b, c, d, e, f, g)
				}
				rows.Close()
				prow, _ := st.Pool().Query(ctx, q)
				for prow.Next() {
					v, _ := prow.Values()
					t.Logf("server %v", v)
				}
				prow.Close()
			}
			t.Fatalf("seed %d step %d: %s: the fleet report differs from the recomputation:\nfleet:  %s\nmerged: %s", seed, step, url, a, b)
		}
	}
	compare := func(step int) {
		t.Helper()
		for _, d := range devs {
			if err := sync(d, ctx); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
		}
		if _, err := st.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		check(step, period())
	}
	// randomPeriod is a period IT might ask for: whole months, a ragged
	// stretch across a month's end, the last days, one device's.
	randomPeriod := func() (report.Query, string) {
		today := fc.Now().Truncate(24 * time.Hour)
		q := period()
		first := start0.AddDate(0, 0, -3)
		span := int(today.Sub(first)/(24*time.Hour)) + 1
		switch rng.Intn(4) {
		case 0:
			q.Since = time.Date(today.Year(), today.Month()-time.Month(rng.Intn(2)), 1, 0, 0, 0, 0, time.UTC)
			q.Until = time.Date(today.Year(), today.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case 1:
			q.Since = first.AddDate(0, 0, rng.Intn(span))
			q.Until = q.Since.AddDate(0, 0, 1+rng.Intn(span+2))
		case 2:
			q.Since = today.AddDate(0, 0, -rng.Intn(3))
		default:
			q.Since = first.AddDate(0, 0, rng.Intn(span))
			q.Device = fleetsample.Hosts[rng.Intn(len(fleetsample.Hosts))]
		}
		if rng.Intn(4) == 0 {
			// Another visit share than the server counts ahead at: the
			// running totals' histograms answer instead.
			q.VisitShare = []float64{0.5, 0.7, 0.95}[rng.Intn(3)]
		}
		return q, fmt.Sprintf("read %s – %s %s at %.0f%%", q.Since.Format("Jan 2"), q.Until.AddDate(0, 0, -1).Format("Jan 2"), q.Device,
			100*q.VisitShare)
	}

	// advance moves time on; the devices running observe their visit all
	// along, as the engine's every step does (not except, stopped).
	advance := func(by time.Duration, except *seqDevice) {
		end := fc.Now().Add(by)
		for fc.Now().Before(end) {
			step := min(end.Sub(fc.Now()), time.Minute)
			if by > 2*time.Hour {
				step = min(end.Sub(fc.Now()), 30*time.Minute)
			}
			fc.Advance(step)
			for _, d := range devs {
				if d.visit != nil && d != except {
					s := d.visit.snapshot(fc.Now())
					d.rec.Observe(fc.Now(), &s, nil)
				}
			}
		}
	}

	var compares, reads, syncs, cuts, crossed, restarts int
	primaries := []string{"ee", "vf", "wifi", ""}
	for step := 1; step <= steps; step++ {
		d := devs[rng.Intn(len(devs))]
		what := ""
		var complete *seqDevice
		switch k := rng.Intn(100); {
		case k < 30: // a visit starts or ends
			if d.visit == nil {
				v := &seqVisit{start: fc.Now(), area: fleetsample.Places()[rng.Intn(4)], ee: rng.Intn(12), vf: rng.Intn(12) - 2, wifi: rng.Intn(4) == 0}
				v.primary = primaries[rng.Intn(len(primaries))]
				if v.primary == "wifi" && !v.wifi || v.primary == "vf" && v.vf < 0 {
					v.primary = "ee"
				}
				s := v.snapshot(fc.Now())
				d.rec.Observe(fc.Now(), &s, nil)
				if res := d.rec.MarkVisit(ctx); !res.Started || res.Err != nil {
					t.Fatalf("seed %d step %d: a visit did not start: %+v", seed, step, res)
				}
				d.visit = v
				what = fmt.Sprintf("visit starts in %s", v.area)
			} else {
				if res := d.rec.MarkVisit(ctx); res.Started || res.Err != nil {
					t.Fatalf("seed %d step %d: a visit did not end: %+v", seed, step, res)
				}
				if d.visit.start.Truncate(24*time.Hour) != fc.Now().Truncate(24*time.Hour) {
					crossed++
				}
				d.visit = nil
				empty := netstate.Snapshot{}
				d.rec.Observe(fc.Now(), &empty, nil)
				what = "visit ends"
			}
		case k < 55: // time passes: minutes, an evening, a day
			by := []time.Duration{3 * time.Minute, 11 * time.Minute, 40 * time.Minute, 5 * time.Hour, 15 * time.Hour, 26 * time.Hour}[rng.Intn(6)]
			advance(by, nil)
			what = "time passes " + by.String()
		case k < 75:
			if err := sync(d, ctx); err != nil {
				t.Fatalf("seed %d step %d: sync: %v", seed, step, err)
			}
			syncs++
			complete = d
			what = "sync"
		case k < 85: // cut off mid-upload: nothing may move
			before, _ := d.j.Sync(ctx, srv.URL)
			hang.Store(true)
			c, stop := context.WithTimeout(ctx, 150*time.Millisecond)
			err := sync(d, c)
			stop()
			hang.Store(false)
			after, _ := d.j.Sync(ctx, srv.URL)
			if err == nil || !after.Acked.Equal(before.Acked) {
				t.Fatalf("seed %d step %d: a sync cut off: err %v, watermark %v → %v", seed, step, err, before.Acked, after.Acked)
			}
			cuts++
			what = "sync cut off"
		case k < 89: // fieldlink restarts, back at once or after a while
			d.stop()
			if err := <-d.done; err != nil {
				t.Fatalf("seed %d step %d: recorder: %v", seed, step, err)
			}
			gap := []time.Duration{0, 5 * time.Minute, 40 * time.Minute}[rng.Intn(3)]
			advance(gap, d)
			start(d)
			if err := d.rec.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			// A visit goes on across a restart within visit_resume (15 min).
			if want := d.visit != nil && gap < 15*time.Minute; d.rec.VisitOpen() != want {
				t.Fatalf("seed %d step %d: after a restart %s later the visit is open: %v, want %v", seed, step, gap, d.rec.VisitOpen(), want)
			}
			if !d.rec.VisitOpen() {
				d.visit = nil
			} else {
				s := d.visit.snapshot(fc.Now())
				d.rec.Observe(fc.Now(), &s, nil)
			}
			restarts++
			what = fmt.Sprintf("fieldlink restarts, back %s later", gap)
		case k < 92:
			if _, err := st.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			what = "refresh"
		case k < 97: // IT reads a period, the refresher having summed the uploads
			if _, err := st.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			for range 1 + rng.Intn(3) {
				q, w := randomPeriod()
				check(step, q)
				what += w + "; "
				reads++
			}
		default:
			compare(step)
			compares++
			what = "everyone syncs; reports compared"
		}
		trail = append(trail, fmt.Sprintf("%3d %s %s: %s", step, fc.Now().Format("Mon 15:04"), fleetsample.Hosts[slices.Index(devs, d)], what))
		held(step, what, complete)
	}
	compare(steps + 1)
	compares++
	t.Logf("seed %d: %d steps to %s; %d syncs, %d cut off, %d visits across midnight, %d restarts, %d reads of random periods, %d report comparisons",
		seed, steps, fc.Now().Format(time.DateTime), syncs, cuts, crossed, restarts, reads, compares)
}
