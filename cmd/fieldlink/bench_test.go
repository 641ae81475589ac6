package main

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkStartToFirstFrame reports the time from starting `fieldlink
// --demo` on an 80x24 pseudo-terminal to the DEMO banner being on it
// (target < 100 ms).
func BenchmarkStartToFirstFrame(b *testing.B) {
	binary(b) // build outside the timing
	var total time.Duration
	for b.Loop() {
		p := startOnPTY(b, "DEMO", "--demo")
		total += p.waitFirstFrame(b)
		p.stop()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/first-frame")
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
