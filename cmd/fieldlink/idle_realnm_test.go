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

	"github.com/fieldlink/fieldlink/backend/memtrim"
	"github.com/fieldlink/fieldlink/backend/status"
	"github.com/fieldlink/fieldlink/backend/testbed/integration"
	"github.com/fieldlink/fieldlink/backend/testbed/realnm"
	"github.com/fieldlink/fieldlink/backend/testbed/simwork"
	"github.com/fieldlink/fieldlink/backend/testbed/tap"
)

// procFigures is a process's counters so far, per thread (a thread that
// ends takes its counts with it, so a window counts the threads it saw
// at both ends, and the ones it saw start): wakeups (context switches,
// voluntary or not) and CPU; and its resident memory.
type procFigures struct {
	wakeups map[string]int64
	cpu     map[string]time.Duration
	rssKB   int64
	// anonKB and fileKB split the resident memory: the process's own, and
	// its share of the program's pages (shared with every other fieldlink
	// running, and reclaimable).
	anonKB, fileKB int64
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
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			switch k {
			case "Rss_Anon", "Pss_Anon":
				f.anonKB = n
			case "Pss_File":
				f.fileKB = n
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
	anonMB, fileMB             float64
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
		cpuPct: 100 * float64(cpu) / float64(window), rssMB: float64(b.rssKB) / 1024,
		anonMB: float64(b.anonKB) / 1024, fileMB: float64(b.fileKB) / 1024}
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

// dayConfig is the default probing policy on the harness: the work on
// veth0, veth1 standing by hot; metered treats both cables as metered
// (as a cellular link is), through the config's per-profile override.
func dayConfig(metered bool) string {
	c := `
[links]
prefer = ["veth0", "veth1"]

[[probe.target]]
url = "http://10.99.0.1:8080/health"

[failover]
cellular_standby = "hot"
`
	if metered {
		c += "\n[probe]\nmetered_profiles = [\"wired1\", \"wired2\"]\n"
	}
	return c
}

// dayFigures are one window of a day on the harness, per day or second.
type dayFigures struct {
	activeMB, standbyMB, selfMB float64 // fieldlink's probes, MB a day
	workMB                      float64 // the simulated work, MB a day
	daemon, tui, nmtui          idleRates
}

// measureDay runs a day on battery on the real-NetworkManager harness:
// the daemon in charge with the default policy, a TUI following it at
// 80x24, and nmtui on the same bus as the yardstick. First idle (nothing
// changes, nothing sent): the wakeups, CPU and memory of the three; then
// the simulated clinician's work in bursts (a request every 2 s for 20-60
// s, then 30-120 s idle): fieldlink's own traffic, its probes, counted
// frame by frame at the far end of each cable (probePort), apart from the
// work's. A zero idle window leaves the first part out.
func measureDay(b *testing.B, idle, busy time.Duration, metered bool) dayFigures {
	h := twoCables(b, true)
	serveWork(b, h)
	taps := []*tap.Tap{tapCable(b, h, 0), tapCable(b, h, 1)}
	d := startDaemonConfig(b, h, dayConfig(metered))
	d.waitLine(b, "level veth0: GO", 15*time.Second)
	var f dayFigures
	if idle > 0 {
		f.daemon, f.tui, f.nmtui = measureIdle(b, h, d, idle)
	} else {
		time.Sleep(5 * time.Second) // the links' first rounds are start-up's, not the day's
	}
	work := startSimWork(b, h, simwork.Pace{Every: 2 * time.Second, Busy: [2]time.Duration{20 * time.Second, 60 * time.Second},
		Idle: [2]time.Duration{30 * time.Second, 120 * time.Second}, Seed: 22})
	p0, p1, w0, s0 := taps[0].Port(probePort), taps[1].Port(probePort), taps[0].Port(workPort), selfBytes(b, h, "veth0")
	time.Sleep(busy)
	perDay := func(n int64) float64 { return float64(n) / busy.Seconds() * 86400 / 1e6 }
	f.activeMB, f.standbyMB = perDay(taps[0].Port(probePort)-p0), perDay(taps[1].Port(probePort)-p1)
	f.workMB, f.selfMB = perDay(taps[0].Port(workPort)-w0), perDay(selfBytes(b, h, "veth0")-s0)
	if len(work.Requests()) == 0 {
		b.Fatal("the simulated work made no request")
	}
	work.Stop()
	d.stop()
	h.Stop()
	return f
}

// measureIdle measures the daemon, a TUI following it and nmtui over an
// idle window.
func measureIdle(b *testing.B, h *realnm.Harness, d *daemonRun, window time.Duration) (daemon, tui, nmtui idleRates) {
	screen := startOnPTYWith(b, ptyOptions{state: b.TempDir(), want: "OBSERVER", netns: h.DUT,
		env: []string{"DBUS_SYSTEM_BUS_ADDRESS=" + h.BusAddress, "FIELDLINK_RUNTIME_DIR=" + h.RunDir(), "TERM=xterm-256color", "LANG=C.UTF-8"}})
	screen.waitFirstFrame(b)
	defer screen.stop()
	yard := startNmtui(b, h)
	time.Sleep(memtrim.Settle + 3*time.Second) // start-ups settle, and give back what they needed only then
	pids := []int{d.cmd.Process.Pid, screen.cmd.Process.Pid, yard.Process.Pid}
	var before [3]procFigures
	for i, pid := range pids {
		var err error
		if before[i], err = procNow(pid); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(window)
	var out [3]idleRates
	for i, pid := range pids {
		after, err := procNow(pid)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = rates(before[i], after, window)
	}
	return out[0], out[1], out[2]
}

// BenchmarkIdleDayOnRealNetworkManager is "a day on battery" measured on
// the real-NetworkManager harness (measureDay), once with the cables as
// they are and once with them treated as metered (a cellular SIM's
// budget): idle for FIELDLINK_IDLE_SECONDS (default 30 s), then with the
// simulated work for FIELDLINK_WORK_SECONDS (default 90 s; the issue's
// figures are from an hour). It reports the probe traffic per link per
// day as the far end of each cable counted it and as fieldlink counted it
// itself, and the wakeups, CPU and memory of the daemon, the TUI and
// nmtui. It fails where fieldlink's own figures pass twice the targets of
// issue 22: probes 5 MB a day on a cable, 1 MB metered; the TUI 1 wakeup a
// second and 0.05 % of a core; the daemon 2 wakeups a second.
func BenchmarkIdleDayOnRealNetworkManager(b *testing.B) {
	seconds := func(env string, def int) time.Duration {
		if s, err := strconv.Atoi(os.Getenv(env)); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		return time.Duration(def) * time.Second
	}
	idle, busy := seconds("FIELDLINK_IDLE_SECONDS", 30), seconds("FIELDLINK_WORK_SECONDS", 90)
	for _, metered := range []bool{false, true} {
		name, budget := "cable", 5.0
		if metered {
			name, budget = "metered", 1.0
		}
		b.Run(name, func(b *testing.B) {
			var f dayFigures
			for b.Loop() {
				if metered {
					f = measureDay(b, 0, busy, true) // the screens' figures are the cable's
				} else {
					f = measureDay(b, idle, busy, false)
				}
			}
			b.ReportMetric(f.activeMB, "MB/day-probes-active-peer")
			b.ReportMetric(f.standbyMB, "MB/day-probes-standby-peer")
			b.ReportMetric(f.selfMB, "MB/day-probes-active-self")
			b.ReportMetric(f.workMB, "MB/day-work")
			var over []string
			check := func(what string, got, target float64) {
				if got > 2*target {
					over = append(over, fmt.Sprintf("%s %.3g (target %.3g)", what, got, target))
				}
			}
			check("probe MB a day on the link carrying the work", f.activeMB, budget)
			check("probe MB a day on the standby", f.standbyMB, budget)
			if !metered {
				b.ReportMetric(f.daemon.wakeupsPerS, "wakeups/s-daemon")
				b.ReportMetric(f.daemon.cpuPct, "%cpu-daemon")
				b.ReportMetric(f.daemon.rssMB, "MB-rss-daemon")
				b.ReportMetric(f.tui.wakeupsPerS, "wakeups/s-tui")
				b.ReportMetric(f.tui.cpuPct, "%cpu-tui")
				b.ReportMetric(f.tui.rssMB, "MB-rss-tui")
				b.ReportMetric(f.nmtui.wakeupsPerS, "wakeups/s-nmtui")
				b.ReportMetric(f.nmtui.cpuPct, "%cpu-nmtui")
				b.ReportMetric(f.nmtui.rssMB, "MB-rss-nmtui")
				check("TUI wakeups a second", f.tui.wakeupsPerS, 1)
				check("TUI % of a core", f.tui.cpuPct, 0.05)
				check("daemon wakeups a second", f.daemon.wakeupsPerS, 2)
			}
			b.Logf("%s: %+v", name, f)
			if len(over) > 0 {
				b.Fatalf("beyond twice the targets: %s", strings.Join(over, "; "))
			}
		})
	}
}
