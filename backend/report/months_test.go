package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/journal"
)

// TestMonthRollupsAgreeWithDays: the month roll-ups are a shortcut, never
// a different answer. Over random periods (ragged ends, whole months, a
// month changed after its roll-up was built), a report read through them
// equals one read from the days alone. FIELDLINK_SEED replays a failure.
func TestMonthRollupsAgreeWithDays(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FIELDLINK_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (FIELDLINK_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	ctx := context.Background()
	j, err := journal.Open(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	db := j.DB()
	day0 := time.Date(2026, 7, 14, 0, 0, 0, 0, time.UTC).UnixMilli() / 86400000
	nets := [][3]string{{"cellular", "EE", "30"}, {"cellular", "Vodafone UK", "15"}, {"wifi", "Clinic", ""}, {journal.WorkKind, "", ""}}
	add := func(n int) {
		for i := 0; i < n; i++ {
			dev := fmt.Sprintf("dev-%d", rng.IntN(4))
			day := day0 + int64(rng.IntN(140))
			net := nets[rng.IntN(len(nets))]
			area := fmt.Sprintf("234-30 TAC %X", 0x2C10+rng.IntN(6))
			if rng.IntN(5) == 0 {
				area = ""
			}
			name := ""
			if rng.IntN(2) == 0 && area != "" {
				name = "Area " + area[len(area)-1:]
			}
			visits := int64(1 + rng.IntN(4))
			h := fmt.Sprintf("%d:%d,%d:1", rng.IntN(101), visits, rng.IntN(101))
			if _, err := db.Exec(`INSERT INTO day_visit(device_id, day, kind, network, area, mcc, mnc, area_name, visits, h_share)
				VALUES(?,?,?,?,?,'234',?,?,?,?) ON CONFLICT DO UPDATE SET visits = visits + excluded.visits`,
				dev, day, net[0], net[1], area, net[2], name, visits+1, h); err != nil {
				t.Fatal(err)
			}
			if area == "" || net[0] == journal.WorkKind {
				continue
			}
			conn := int64(1000 * (1 + rng.IntN(3600)))
			g := conn * int64(rng.IntN(101)) / 100
			if _, err := db.Exec(`INSERT INTO day_area(device_id, day, kind, network, area, area_name, connected_ms, green_ms, red_ms,
				usable_ms, in_use_ms, workable_ms, h_signal) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)
				ON CONFLICT DO UPDATE SET connected_ms = connected_ms + excluded.connected_ms`,
				dev, day, net[0], net[1], area, name, conn, g, conn-g, g, conn/2, g/2, fmt.Sprintf("%d:1", -80-rng.IntN(40))); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(600)
	if n, err := j.RefreshMonths(ctx); err != nil || n != 5 {
		t.Fatalf("refreshed %d months: %v (want July to November)", n, err)
	}
	compare := func(step int, f Filter) {
		t.Helper()
		viaMonths, err := SQLite{db}.Fetch(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		fromDays, err := FetchDays(ctx, db, f, SQLiteDialect)
		if err != nil {
			t.Fatal(err)
		}
		q := Query{VisitShare: 0.8, DeviceShare: 0.85}
		a, b := assemble(q, viaMonths, nil, nil), assemble(q, fromDays, nil, nil)
		a.Generated, b.Generated = time.Time{}, time.Time{}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("step %d, days %d…%d: the month roll-ups say\n%s\nthe days say\n%s", step, f.DayLo, f.DayHi, ja, jb)
		}
	}
	for step := 0; step < 40; step++ {
		lo := day0 - 10 + int64(rng.IntN(160))
		hi := lo + int64(rng.IntN(120))
		f := Filter{DayLo: lo, DayHi: hi}
		switch rng.IntN(4) {
		case 0:
			f.DayLo = -1 << 40
		case 1:
			f.DayHi = 1 << 40
		case 2:
			// A day changes after its month was built: that month is
			// read from its days until the next refresh.
			add(3)
		}
		compare(step, f)
		if rng.IntN(6) == 0 {
			if _, err := j.RefreshMonths(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	var stale int
	db.QueryRow(`SELECT COUNT(*) FROM month_stale`).Scan(&stale)
	t.Logf("%d months stale at the end", stale)
}

// TestSignalSpread: an operator's signal in an area is told with its
// spread, merged over devices and days: the median and the figures a
// tenth of the samples fell below and above, in JSON, text and CSV.
func TestSignalSpread(t *testing.T) {
	j, err := journal.Open(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC).UnixMilli() / 86400000
	// 100 samples: 10 at -110, 40 at -100, 40 at -90, 10 at -80, split
	// over two devices and two days.
	for _, r := range []struct {
		dev string
		day int64
		h   string
	}{{"dev-1", day, "-110:10,-100:20"}, {"dev-2", day, "-100:20,-90:10"}, {"dev-2", day + 1, "-90:30,-80:10"}} {
		if _, err := j.DB().Exec(`INSERT INTO day_area(device_id, day, kind, network, area, area_name, connected_ms, green_ms, red_ms,
			usable_ms, in_use_ms, workable_ms, h_signal) VALUES(?,?,'cellular','EE','234-30 TAC 2C10','Kings Heath',3600000,3600000,0,3600000,0,0,?)`,
			r.dev, r.day, r.h); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Build(context.Background(), j.DB(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Areas) != 1 {
		t.Fatalf("area rows %+v", rep.Areas)
	}
	row := rep.Areas[0]
	if row.MedianSignal == nil || *row.MedianSignal != -100 || row.SignalLow == nil || *row.SignalLow != -110 || row.SignalHigh == nil || *row.SignalHigh != -90 {
		t.Fatalf("signal %v (%v…%v), want -100 (-110…-90)", row.MedianSignal, row.SignalLow, row.SignalHigh)
	}
	var text, csv bytes.Buffer
	if err := rep.WriteTable(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "-100 dBm (-110…-90)") {
		t.Fatalf("the text report does not give the spread:\n%s", text.String())
	}
	if err := rep.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), ",-100,-110,-90,dBm,") {
		t.Fatalf("the CSV does not give the spread:\n%s", csv.String())
	}
}
