package journal

import (
	"maps"
	"testing"
)

// TestParseHist: the bins a roll-up holds, whatever else a part says.
func TestParseHist(t *testing.T) {
	got := ParseHist(" 3:1, -95:2,x:1,5:,:3,7:-1,12:0,99999999999999999999:1,4:2:1,,+6:4,3:2")
	want := Hist{3: 3, -95: 2, 6: 4}
	if !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if h := ParseHist(""); len(h) != 0 {
		t.Fatalf("empty: %v", h)
	}
}

// FuzzParseHist: any text reads without a panic, and what is read writes
// back to the same histogram.
func FuzzParseHist(f *testing.F) {
	f.Add("3:1,-95:2,x:1")
	f.Add(",,,:")
	f.Fuzz(func(t *testing.T, s string) {
		h := ParseHist(s)
		if back := ParseHist(h.String()); !maps.Equal(back, h) {
			t.Fatalf("%q -> %v -> %q -> %v", s, h, h.String(), back)
		}
	})
}

// TestQuantile: ranks by ⌈q·n⌉ over the bins in order; the median is the
// lower middle for an even count; an empty histogram has none.
func TestQuantile(t *testing.T) {
	h := ParseHist("-90:40,-110:10,-80:10,-100:40")
	for _, c := range []struct {
		q    float64
		want int
	}{{0, -110}, {0.1, -110}, {0.11, -100}, {0.5, -100}, {0.51, -90}, {0.9, -90}, {0.91, -80}, {1, -80}} {
		if got, ok := h.Quantile(c.q); !ok || got != c.want {
			t.Errorf("Quantile(%v) = %d, %v; want %d", c.q, got, ok, c.want)
		}
	}
	if m, _ := ParseHist("1:1,2:1,3:1,4:1").Median(); m != 2 {
		t.Errorf("median of 1..4 = %d, want the lower middle 2", m)
	}
	if _, ok := (Hist{}).Quantile(0.5); ok {
		t.Error("an empty histogram has a quantile")
	}
}

// TestSubUndoesMerge: a period's histogram is the cumulative one at its
// end less the one before its start.
func TestSubUndoesMerge(t *testing.T) {
	before := ParseHist("-101:2,-95:1")
	period := ParseHist("-95:3,-80:1")
	cum := Hist{}
	cum.Merge(before)
	cum.Merge(period)
	cum.Sub(before)
	if got := cum.String(); got != period.String() {
		t.Fatalf("(before + period) - before = %q, want %q", got, period.String())
	}
	if _, ok := cum[-101]; ok {
		t.Fatalf("an emptied bin stays: %v", cum)
	}
}
