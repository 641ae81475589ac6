package memtrim

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestReadOnlyMapping(t *testing.T) {
	exe := "/usr/bin/fieldlink"
	for _, c := range []struct {
		line string
		ok   bool
	}{
		{"00400000-00e4c000 r-xp 00000000 fe:00 9986242 /usr/bin/fieldlink", true},
		{"00e4c000-018e4000 r--p 00a4c000 fe:00 9986242 /usr/bin/fieldlink", true},
		{"018e4000-019ff000 rw-p 014e4000 fe:00 9986242 /usr/bin/fieldlink", false}, // its data: written
		{"019ff000-03c6f000 rw-p 00000000 00:00 0", false},
		{"7f00-7f10 r-xp 00000000 fe:00 1 /usr/lib/libc.so.6", false},
		{"zz-7f10 r-xp 00000000 fe:00 1 /usr/bin/fieldlink", false},
	} {
		if _, _, ok := readOnlyMapping(c.line, exe); ok != c.ok {
			t.Errorf("%q: %v, want %v", c.line, ok, c.ok)
		}
	}
}

// TestTrimLowersResidentMemory: after Trim the test binary's resident
// memory is lower than before, and it keeps running (what it reads again
// comes back).
func TestTrimLowersResidentMemory(t *testing.T) {
	before := rss(t)
	advised := Trim()
	after := rss(t)
	t.Logf("resident %d kB before, %d kB after; %d kB of mappings advised", before, after, advised/1024)
	if advised == 0 {
		t.Fatal("no mapping of the test binary was dropped")
	}
	if after >= before {
		t.Fatalf("resident %d kB after a trim, %d kB before", after, before)
	}
}

func rss(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	t.Skip("no VmRSS")
	return 0
}
