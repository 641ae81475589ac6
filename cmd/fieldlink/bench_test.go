package main

import (
	"os"
	"sort"
	"strconv"
	"testing"
	"time"
)

// BenchmarkStartToFirstFrame reports the time from starting `fieldlink
// --demo` on an 80x24 pseudo-terminal to the DEMO banner being on it
// (target < 100 ms).
func BenchmarkStartToFirstFrame(b *testing.B) {
	binary(b) // build outside the timing
	var runs []time.Duration
	for b.Loop() {
		// Several starts per iteration: the first pays for a cold page
		// cache, and the median is the figure a user meets.
		for i := 0; i < 7; i++ {
			p := startOnPTY(b, "DEMO", "--demo")
			runs = append(runs, p.waitFirstFrame(b))
			p.stop()
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i] < runs[j] })
	b.ReportMetric(float64(runs[len(runs)/2].Microseconds())/1000, "ms/first-frame")
	b.ReportMetric(float64(runs[len(runs)-1].Microseconds())/1000, "ms/first-frame-max")
}

// BenchmarkIdleCPU reports the CPU an idle TUI uses on a scenario where
// nothing changes, as a percentage of one core over 30 s (target < 0.5 %).
// FIELDLINK_IDLE_SECONDS shortens the window for a quick look.
func BenchmarkIdleCPU(b *testing.B) {
	window := 30 * time.Second
	if s, err := strconv.Atoi(os.Getenv("FIELDLINK_IDLE_SECONDS")); err == nil && s > 0 {
		window = time.Duration(s) * time.Second
	}
	binary(b)
	var pct float64
	for b.Loop() {
		p := startOnPTY(b, "DEMO", "--scenario", "steady")
		p.waitFirstFrame(b)
		time.Sleep(time.Second) // let start-up settle
		before, err := cpuTime(p.cmd.Process.Pid)
		if err != nil {
			b.Skip(err)
		}
		time.Sleep(window)
		after, err := cpuTime(p.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		pct += 100 * float64(after-before) / float64(window)
		p.stop()
	}
	b.ReportMetric(pct/float64(b.N), "%cpu")
	b.ReportMetric(window.Seconds(), "s-window")
}
