package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/status"
	"github.com/fieldlink/fieldlink/backend/testbed/integration"
	"github.com/fieldlink/fieldlink/backend/testbed/realnm"
)

// procFigures is a process's counters so far, per thread (a thread that
// ends takes its counts with it, so a window counts the threads it saw
// at both ends, and the ones it saw start): wakeups (context switches,
// voluntary or not) and CPU; and its resident memory.
type procFigures struct {
	wakeups map[string]int64
	cpu     map[string]time.Duration
	rssKB   int64
}

// procNow reads a process's figures so far.
func procNow(pid int) (procFigures, error) {
	f := procFigures{wakeups: map[string]int64{}, cpu: map[string]time.Duration{}}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil || len(tasks) == 0 {
		return f, fmt.Errorf("no process %d", pid)
	}
	for _, t := range tasks {
		b, err := os.ReadFile(t + "/status")
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			if k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches" {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				f.wakeups[t] += n
			}
		}
		if b, err := os.ReadFile(t + "/schedstat"); err == nil {
			if fs := strings.Fields(string(b)); len(fs) > 0 {
				ns, _ := strconv.ParseInt(fs[0], 10, 64)
				f.cpu[t] = time.Duration(ns)
			}
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				f.rssKB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			}
		}
	}
	return f, nil
}

// idleRates are a process's figures over a window, per second.
type idleRates struct {
	wakeupsPerS, cpuPct, rssMB float64
}

func rates(a, b procFigures, window time.Duration) idleRates {
	var wake int64
	var cpu time.Duration
	for t, n := range b.wakeups {
		wake += n - a.wakeups[t] // a thread new in the window counts whole
	}
	for t, d := range b.cpu {
		cpu += d - a.cpu[t]
	}
	return idleRates{wakeupsPerS: float64(wake) / window.Seconds(),
		cpuPct: 100 * float64(cpu) / float64(window), rssMB: float64(b.rssKB) / 1024}
}

// peerBytes is what crossed a cable, read on the peer's end (both ways).
func peerBytes(tb testing.TB, h *realnm.Harness, cable int) int64 {
	tb.Helper()
	var total int64
	for _, dir := range []string{"rx_bytes", "tx_bytes"} {
		out, err := exec.Command("ip", "netns", "exec", h.Peer, "cat", fmt.Sprintf("/sys/class/net/vpeer%d/statistics/%s", cable, dir)).Output()
		if err != nil {
			tb.Fatalf("peer counters: %v", err)
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		total += n
	}
	return total
}

// selfBytes is fieldlink's own count of a link's probe bytes today, as
// status --json says.
func selfBytes(tb testing.TB, h *realnm.Harness, link string) int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := h.Exec(ctx, binary(tb), "status", "--json", "--state-dir", tb.TempDir()).Output()
	if err != nil {
		tb.Fatalf("status --json: %v", err)
	}
	var d status.Doc
	if err := json.Unmarshal(out, &d); err != nil {
		tb.Fatalf("status --json: %v: %s", err, out)
	}
	for _, l := range d.Links {
		if l.ID == link {
			return l.Probe.BytesToday
		}
	}
	return 0
}

// startNmtui runs nmtui on an 80x24 terminal against the harness's
// NetworkManager: the yardstick for an idle screen.
func startNmtui(tb testing.TB, h *realnm.Harness) *exec.Cmd {
	tb.Helper()
	integration.NeedCommands(tb, "nmtui")
	master, slave, err := openPTY(80, 24)
	if err != nil {
		tb.Skipf("no pseudo-terminal here: %v", err)
	}
	cmd := exec.Command("nmtui")
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+h.BusAddress, "TERM=xterm-256color")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	slave.Close()
	go func() { // drain the screen so nmtui never blocks on output
		buf := make([]byte, 4096)
		for {
			if _, err := master.Read(buf); err != nil {
				return
			}
		}
	}()
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); master.Close() })
	return cmd
}

// BenchmarkIdleDayOnRealNetworkManager is "a day on battery" measured on
// the real-NetworkManager harness: two cables up (the work on veth0, veth1
// standing by hot), the daemon in charge with the default probe settings
// and one HTTP target on the peer, a TUI following it, and nmtui on the
// same bus as the yardstick, all left alone for a window
// (FIELDLINK_IDLE_SECONDS, default 20 s). It reports the probe traffic
// per link per day as the peer's end of each cable counted it and as
// fieldlink counted it itself, and the wakeups, CPU and memory of the
// daemon, the TUI and nmtui. Targets are in issue 22; this is the figure.
func BenchmarkIdleDayOnRealNetworkManager(b *testing.B) {
	window := 20 * time.Second
	if s, err := strconv.Atoi(os.Getenv("FIELDLINK_IDLE_SECONDS")); err == nil && s > 0 {
		window = time.Duration(s) * time.Second
	}
	var active, standby, self float64
	var daemon, tui, nmtui idleRates
	for b.Loop() {
		h := twoCables(b, true)
		d := startDaemon(b, h, "hot")
		d.waitLine(b, "level veth0: GO", 15*time.Second)
		screen := startOnPTYWith(b, ptyOptions{state: b.TempDir(), want: "OBSERVER", netns: h.DUT,
			env: []string{"DBUS_SYSTEM_BUS_ADDRESS=" + h.BusAddress, "FIELDLINK_RUNTIME_DIR=" + h.RunDir(), "TERM=xterm-256color", "LANG=C.UTF-8"}})
		screen.waitFirstFrame(b)
		yard := startNmtui(b, h)
		time.Sleep(3 * time.Second) // start-ups settle
		pids := []int{d.cmd.Process.Pid, screen.cmd.Process.Pid, yard.Process.Pid}
		var before [3]procFigures
		for i, pid := range pids {
			var err error
			if before[i], err = procNow(pid); err != nil {
				b.Fatal(err)
			}
		}
		p0, p1, s0 := peerBytes(b, h, 0), peerBytes(b, h, 1), selfBytes(b, h, "veth0")
		time.Sleep(window)
		perDay := func(n int64) float64 { return float64(n) / window.Seconds() * 86400 / 1e6 }
		active, standby = perDay(peerBytes(b, h, 0)-p0), perDay(peerBytes(b, h, 1)-p1)
		self = perDay(selfBytes(b, h, "veth0") - s0)
		var out [3]idleRates
		for i, pid := range pids {
			after, err := procNow(pid)
			if err != nil {
				b.Fatal(err)
			}
			out[i] = rates(before[i], after, window)
		}
		daemon, tui, nmtui = out[0], out[1], out[2]
		screen.stop()
		d.stop()
		h.Stop()
	}
	b.ReportMetric(active, "MB/day-probes-active-peer")
	b.ReportMetric(standby, "MB/day-probes-standby-peer")
	b.ReportMetric(self, "MB/day-probes-active-self")
	b.ReportMetric(daemon.wakeupsPerS, "wakeups/s-daemon")
	b.ReportMetric(daemon.cpuPct, "%cpu-daemon")
	b.ReportMetric(daemon.rssMB, "MB-rss-daemon")
	b.ReportMetric(tui.wakeupsPerS, "wakeups/s-tui")
	b.ReportMetric(tui.cpuPct, "%cpu-tui")
	b.ReportMetric(tui.rssMB, "MB-rss-tui")
	b.ReportMetric(nmtui.wakeupsPerS, "wakeups/s-nmtui")
	b.ReportMetric(nmtui.cpuPct, "%cpu-nmtui")
	b.ReportMetric(nmtui.rssMB, "MB-rss-nmtui")
}
