package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"golang.org/x/net/html"

	"github.com/fieldlink/fieldlink/backend/journal"
)

func TestRenderings(t *testing.T) {
	r, err := Build(context.Background(), recordFleet(t, false).DB(), Query{})
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
		{"html", func(b *bytes.Buffer) error { return r.WriteHTML(b) }},
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
	if counts["svg"] != 2 || counts["rect"] < 9 || counts["table"] != 8 || counts["script"] != 0 || counts["link"] != 0 || counts["img"] != 0 {
		t.Fatalf("HTML elements %v", counts)
	}
	for _, want := range []string{"33.3% of clinicians&#39; devices (1 of 3)", "@media print",
		`<thead><tr><td><div class="runhead">fieldlink report · 2 – 3 Nov 2026</div>`, "DEAD ZONE", "75% of 4", "unnamed code"} {
		if !strings.Contains(h.String(), want) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
	// Dead zones come first in the table.
	if i, j := strings.Index(h.String(), ">Longbridge<"), strings.Index(h.String(), ">Kings Heath<"); i < 0 || j < 0 || i > j {
		t.Error("a dead zone is not listed before the areas with signal")
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

// TestHeatReadsInGrayscale is item 5 of "Reports that answer the manager's
// question": printed on an office's black-and-white printer, the heat
// table's steps must still be ordered, lightest best, each clearly darker
// than the one above (and every cell carries its number anyway).
func TestHeatReadsInGrayscale(t *testing.T) {
	var b bytes.Buffer
	(&Report{}).WriteHTML(&b)
	lum := func(class string) float64 {
		m := regexp.MustCompile(`\.` + class + `\{background:#([0-9a-f]{6})`).FindStringSubmatch(b.String())
		if m == nil {
			t.Fatalf("no background for .%s", class)
		}
		var y float64
		for i, w := range []float64{0.2126, 0.7152, 0.0722} {
			v, _ := strconv.ParseUint(m[1][2*i:2*i+2], 16, 8)
			c := float64(v) / 255
			if c <= 0.03928 {
				c /= 12.92
			} else {
				c = math.Pow((c+0.055)/1.055, 2.4)
			}
			y += w * c
		}
		return y
	}
	prev := 2.0
	for _, class := range []string{"h4", "h3", "h2", "h1", "h0"} {
		y := lum(class)
		if y > prev-0.15 {
			t.Errorf(".%s has luminance %.2f, not clearly darker than the better step (%.2f)", class, y, prev)
		}
		prev = y
	}
	for share, want := range map[int64]string{95: "h4", 85: "h3", 70: "h2", 55: "h1", 10: "h0"} {
		if got := heat(share, 100); got != want {
			t.Errorf("%d%%: %s, want %s", share, got, want)
		}
	}
}
