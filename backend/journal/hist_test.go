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
