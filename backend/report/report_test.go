package report

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"golang.org/x/net/html"

	"github.com/fieldlink/fieldlink/backend/journal"
)

// fixture builds a fleet journal by hand: two devices over two days, with
// figures chosen so every expected number below can be worked out on
// paper.
func fixture(t *testing.T) *sql.DB {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	db := j.DB()
	day := int64(20415) // 2025-11-23
	h := time.Hour.Milliseconds()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`DELETE FROM device`)
	exec(`INSERT INTO device(id, hostname, created_ms) VALUES('aaaaaaaa-0000', 'tb-nurse-1', 0), ('bbbbbbbb-0000', 'tb-nurse-2', 0)`)
	// Device A, day 1: EE 3 h connected (2 h green, 0.5 h amber, 0.5 h red),
	// carrying the work 3 h of which 2.5 h workable; RSRP -95 x3, -101 x1;
	// connects in 1.2 s and 2.5 s. Wi-Fi 1 h all green, all workable.
	exec(`INSERT INTO day_net VALUES('aaaaaaaa-0000', ?, 'cellular', 'EE', '234', '30', 2, ?, ?, ?, ?, ?, ?, '12:1,25:1', '-95:3,-101:1', '10:2,4:2')`,
		day, 3*h, 2*h, h/2, h/2, 3*h, 5*h/2)
	exec(`INSERT INTO day_net VALUES('aaaaaaaa-0000', ?, 'wifi', 'NHS-Community', '', '', 1, ?, ?, 0, 0, ?, ?, '', '72:2', '')`,
		day, h, h, h, h)
	// Device B, day 2: EE 1 h, all red, none workable; RSRP -120 x2.
	exec(`INSERT INTO day_net VALUES('bbbbbbbb-0000', ?, 'cellular', 'EE', '234', '30', 1, ?, 0, 0, ?, ?, 0, '300:1', '-120:2', '-2:2')`,
		day+1, h, h, h)
	exec(`INSERT INTO day_area VALUES('aaaaaaaa-0000', ?, 'cellular', 'EE', '234-30 TAC 1A2B', ?, ?, ?, ?, ?, '-95:3,-101:1')`,
		day, 3*h, 2*h, h/2, h/2, 5*h/2)
	exec(`INSERT INTO day_area VALUES('bbbbbbbb-0000', ?, 'cellular', 'EE', '234-30 TAC 0F21', ?, 0, 0, ?, 0, '-120:2')`, day+1, h, h)
	exec(`INSERT INTO day_area VALUES('aaaaaaaa-0000', ?, 'wifi', 'NHS-Community', 'NHS-Community', ?, ?, 0, 0, ?, '72:2')`, day, h, h, h)
	// Visits: A had 4 visits, workable shares 100, 90, 85, 50 %: with the
	// default 80 % rule three are workable (75 %). B had 2 visits at 95 and
	// 100 %: both workable (100 %). A fails over twice, B once.
	exec(`INSERT INTO day_device VALUES('aaaaaaaa-0000', ?, 2, 4, '100:1,90:1,85:1,50:1')`, day)
	exec(`INSERT INTO day_device VALUES('bbbbbbbb-0000', ?, 1, 2, '95:1,100:1')`, day+1)
	return db
}

func TestFiguresWorkedOutByHand(t *testing.T) {
	db := fixture(t)
	r, err := Build(context.Background(), db, Query{})
	if err != nil {
		t.Fatal(err)
	}
	// Headline at 85 %: A has 3/4 = 75 % (no), B 2/2 (yes): 1 of 2 = 50 %.
	if r.Headline.Devices != 2 || r.Headline.Qualifying != 1 || r.Headline.Pct != 50 || r.Headline.Visits != 6 || r.Headline.Workable != 5 {
		t.Fatalf("headline %+v", r.Headline)
	}
	if r.Headline.Text != "50% of devices (1 of 2) had workable signal in at least 85% of their visits" {
		t.Fatalf("headline text %q", r.Headline.Text)
	}
	// At a 75 % device mark both qualify.
	r75, _ := Build(context.Background(), db, Query{DeviceShare: 0.75})
	if r75.Headline.Qualifying != 2 || r75.Headline.Pct != 100 {
		t.Fatalf("75%% headline %+v", r75.Headline)
	}
	// With a 90 % visit rule A's workable visits are 2 (100, 90): 50 %.
	r90, _ := Build(context.Background(), db, Query{VisitShare: 0.9})
	if d := r90.Devices[0]; d.WorkableVisits != 2 || *d.WorkableVisitsPct != 50 {
		t.Fatalf("90%% visit rule: %+v", d)
	}

	ee := r.Networks[0]
	// EE: 4 h connected over both devices; green 2 h of 4 = 50 %, amber
	// 0.5 = 12.5 %, red 1.5 = 37.5 %; workable 2.5 h of 4 h in use = 62.5 %.
	// Connect times 1.2, 2.5, 30 s: median 2.5 s. RSRP -95 x3, -101, -120
	// x2: six values, the lower middle is -101.
	if ee.Key != "EE (234-30)" || ee.Sessions != 3 || ee.ConnectedHours != 4 || ee.GreenPct != 50 || ee.AmberPct != 12.5 ||
		ee.RedPct != 37.5 || ee.WorkablePct != 62.5 || *ee.MedianConnectS != 2.5 || *ee.MedianSignal != -101 || ee.SignalUnit != "dBm" {
		t.Fatalf("EE row %+v", ee)
	}
	if wifi := r.Networks[1]; wifi.Key != "Wi-Fi NHS-Community" || wifi.GreenPct != 100 || *wifi.MedianSignal != 72 || wifi.SignalUnit != "%" {
		t.Fatalf("Wi-Fi row %+v", wifi)
	}
	if len(r.Areas) != 3 || r.Areas[0].Key != "234-30 TAC 1A2B" || r.Areas[0].GreenPct != 66.7 || *r.Areas[0].MedianSignal != -95 {
		t.Fatalf("areas %+v", r.Areas)
	}
	if d := r.Devices[0]; d.Key != "tb-nurse-1 (aaaaaaaa)" || d.Failovers != 2 || d.Visits != 4 || *d.WorkableVisitsPct != 75 || d.ConnectedHours != 4 {
		t.Fatalf("device A %+v", d)
	}
	// The 23rd is a Sunday: two ISO weeks.
	if len(r.Days) != 2 || r.Days[0].Key != "2025-11-23" || r.Days[1].RedPct != 100 || len(r.Weeks) != 2 || r.Weeks[1].Key != "2025-W48" {
		t.Fatalf("days %+v weeks %+v", r.Days, r.Weeks)
	}
	// Time bounds select days.
	rd, _ := Build(context.Background(), db, Query{Since: time.Date(2025, 11, 24, 0, 0, 0, 0, time.UTC)})
	if len(rd.Days) != 1 || rd.Headline.Devices != 1 || rd.Networks[0].Sessions != 1 {
		t.Fatalf("since the 24th: days %d devices %d", len(rd.Days), rd.Headline.Devices)
	}
	rdev, _ := Build(context.Background(), db, Query{Device: "bbbbbbbb-0000"})
	if len(rdev.Devices) != 1 || rdev.Networks[0].Sessions != 1 {
		t.Fatalf("one device: %+v", rdev.Devices)
	}
}

func TestRenderings(t *testing.T) {
	r, err := Build(context.Background(), fixture(t), Query{})
	if err != nil {
		t.Fatal(err)
	}
	r.Generated = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"table", func(b *bytes.Buffer) error { return r.WriteTable(b) }},
		{"csv", func(b *bytes.Buffer) error { return r.WriteCSV(b) }},
		{"json", func(b *bytes.Buffer) error { return r.WriteJSON(b) }},
	} {
		t.Run(f.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := f.write(&b); err != nil {
				t.Fatal(err)
			}
			golden.RequireEqual(t, b.String())
		})
	}
	var js bytes.Buffer
	r.WriteJSON(&js)
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Headline.Qualifying != 1 {
		t.Fatalf("JSON round trip: %v", err)
	}
	var h bytes.Buffer
	if err := r.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(h.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			counts[n.Data]++
			for _, a := range n.Attr {
				if (a.Key == "src" || a.Key == "href") && strings.Contains(a.Val, "//") {
					t.Errorf("the report fetches %s", a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if counts["svg"] != 2 || counts["rect"] < 6 || counts["polyline"] != 1 || counts["table"] != 4 || counts["script"] != 0 {
		t.Fatalf("HTML elements %v", counts)
	}
	if !strings.Contains(h.String(), "50% of devices (1 of 2)") || !strings.Contains(h.String(), "@media print") {
		t.Fatal("HTML lacks the headline or print styles")
	}
}

func TestRecentSessions(t *testing.T) {
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	base := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC).UnixMilli()
	for i, s := range []struct {
		kind, network string
		end           any
	}{{"wifi", "NHS-Community", base + 600_000}, {"cellular", "EE", base + 1_800_000}, {"wifi", "Cafe", nil}} {
		_, err := j.DB().ExecContext(ctx, `INSERT INTO session (uuid, device_id, link, kind, network, start_ms, end_ms, end_reason, green_ms, red_ms)
			VALUES (?, ?, 'x', ?, ?, ?, ?, 'carrier lost', 450000, 150000)`, fmt.Sprint("u", i), j.Device().ID, s.kind, s.network, base+int64(i)*60_000, s.end)
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := Recent(ctx, j.DB(), j.Device().ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Network != "Cafe" || !got[0].End.IsZero() || got[1].Network != "EE" || got[1].Green != 450*time.Second {
		t.Fatalf("recent %+v", got)
	}
	rep, err := Build(ctx, j.DB(), Query{Device: j.Device().ID, Recent: 5})
	if err != nil || len(rep.Recent) != 3 {
		t.Fatalf("report recent %v %v", rep, err)
	}
}
