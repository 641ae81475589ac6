package journal

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Hist counts values in integer bins; it is how medians survive roll-ups
// (the median of merged histograms is the median of the whole, to a bin).
type Hist map[int]int64

// ParseHist reads "bin:count,bin:count"; malformed parts are skipped (a
// roll-up is a summary, not a source of truth to fail on).
func ParseHist(s string) Hist {
	h := Hist{}
	h.Add(s)
	return h
}

// Add merges "bin:count,…" into h. It reads the text in place, with no
// allocation but the map's: a fleet report merges millions of bins.
func (h Hist) Add(s string) {
	i, n := 0, len(s)
	for i < n {
		// One part: optional spaces, a signed bin, ':', a count.
		j := i
		for j < n && s[j] != ',' {
			j++
		}
		if bin, cnt, ok := parsePart(s[i:j]); ok && cnt > 0 {
			h[bin] += cnt
		}
		i = j + 1
	}
}

func parsePart(p string) (int, int64, bool) {
	p = strings.TrimSpace(p)
	c := strings.IndexByte(p, ':')
	if c <= 0 {
		return 0, 0, false
	}
	bin, ok1 := parseInt(strings.TrimSpace(p[:c]))
	cnt, ok2 := parseInt(strings.TrimSpace(p[c+1:]))
	if !ok1 || !ok2 || bin != int64(int(bin)) {
		return 0, 0, false
	}
	return int(bin), cnt, true
}

// parseInt reads a decimal integer, refusing anything else (and values
// beyond ±2^62, which no roll-up holds).
func parseInt(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + int64(d)
	}
	if neg {
		v = -v
	}
	return v, true
}

// String writes the histogram, bins in order.
func (h Hist) String() string {
	bins := make([]int, 0, len(h))
	for b, n := range h {
		if n > 0 {
			bins = append(bins, b)
		}
	}
	sort.Ints(bins)
	var sb strings.Builder
	for i, b := range bins {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(b))
		sb.WriteByte(':')
		sb.WriteString(strconv.FormatInt(h[b], 10))
	}
	return sb.String()
}

// Merge adds o into h.
func (h Hist) Merge(o Hist) {
	for b, n := range o {
		h[b] += n
	}
}

// Sub takes o out of h, where o is a part of h (an earlier cumulative
// histogram out of a later one); bins left empty go.
func (h Hist) Sub(o Hist) {
	for b, n := range o {
		if h[b] -= n; h[b] <= 0 {
			delete(h, b)
		}
	}
}

// Count is the number of values.
func (h Hist) Count() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Median returns the median bin (the lower middle for an even count).
func (h Hist) Median() (int, bool) { return h.Quantile(0.5) }

// Quantile is the bin at or below which share q (0 to 1) of the values
// fall: the value of rank ⌈q·n⌉, the first at q = 0.
func (h Hist) Quantile(q float64) (int, bool) {
	total := h.Count()
	if total == 0 {
		return 0, false
	}
	bins := make([]int, 0, len(h))
	for b := range h {
		bins = append(bins, b)
	}
	sort.Ints(bins)
	rank := max(int64(math.Ceil(q*float64(total))), 1)
	var seen int64
	for _, b := range bins {
		if seen += h[b]; seen >= rank {
			return b, true
		}
	}
	return bins[len(bins)-1], true
}

// AtLeast counts values in bins >= b.
func (h Hist) AtLeast(b int) int64 {
	var n int64
	for bin, c := range h {
		if bin >= b {
			n += c
		}
	}
	return n
}

// ParseHistStrict reads a histogram as an import must: every part
// "bin:count" with a positive count, or an error saying which is not.
func ParseHistStrict(s string) (Hist, error) {
	h := Hist{}
	if strings.TrimSpace(s) == "" {
		return h, nil
	}
	for _, part := range strings.Split(s, ",") {
		b, n, ok := strings.Cut(part, ":")
		bin, err1 := strconv.Atoi(strings.TrimSpace(b))
		cnt, err2 := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if !ok || err1 != nil || err2 != nil || cnt <= 0 || bin < -100000 || bin > 100000 {
			return nil, fmt.Errorf("%q is not a histogram bin (bin:count, count above 0)", part)
		}
		h[bin] += cnt
	}
	return h, nil
}
