package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/testbed/atmodem"
	"github.com/fieldlink/fieldlink/backend/testbed/realmm"
)

// watchDoc is what status --watch --json says of the modem, as it
// arrives.
type watchDoc struct {
	at    time.Time
	level string
	link  map[string]any // nil: no modem
	mm    string         // ModemManager running: "true", "false"
}

// statusWatch is `fieldlink status --watch --json` on the harness's bus.
type statusWatch struct {
	mu   sync.Mutex
	docs []watchDoc
	cmd  *exec.Cmd
}

func watchStatus(tb testing.TB, busAddr string, args ...string) *statusWatch {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary(tb), append([]string{"status", "--watch", "--json", "--state-dir", tb.TempDir()}, args...)...)
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+busAddr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	w := &statusWatch{cmd: cmd}
	tb.Cleanup(func() { cancel(); cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var d struct {
				Links    []map[string]any `json:"links"`
				Services []map[string]any `json:"services"`
			}
			if json.Unmarshal(sc.Bytes(), &d) != nil {
				continue
			}
			doc := watchDoc{at: time.Now(), mm: "absent"}
			for _, sv := range d.Services {
				if sv["name"] == "ModemManager" {
					doc.mm = fmt.Sprint(sv["running"])
				}
			}
			for _, l := range d.Links {
				if l["kind"] == "cellular" {
					doc.link, doc.level = l, fmt.Sprint(l["level"])
				}
			}
			w.mu.Lock()
			w.docs = append(w.docs, doc)
			w.mu.Unlock()
		}
	}()
	return w
}

// field reads a dotted path of the modem's link ("cellular.operator").
func field(l map[string]any, path string) string {
	var v any = l
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// until waits for a modem document where cond holds, after t, and
// returns when it arrived.
func (w *statusWatch) until(tb testing.TB, what string, after time.Time, within time.Duration, cond func(l map[string]any) bool) time.Time {
	tb.Helper()
	return w.untilDoc(tb, what, after, within, func(d watchDoc) bool { return cond(d.link) })
}

// untilDoc is until with the whole document (the modem and whether
// ModemManager runs); cond is called with w.mu held.
func (w *statusWatch) untilDoc(tb testing.TB, what string, after time.Time, within time.Duration, cond func(d watchDoc) bool) time.Time {
	tb.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		for _, d := range w.docs {
			if d.at.After(after) && cond(d) {
				w.mu.Unlock()
				return d.at
			}
		}
		w.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	w.mu.Lock()
	last := map[string]any{}
	if n := len(w.docs); n > 0 {
		last = w.docs[n-1].link
	}
	w.mu.Unlock()
	tb.Fatalf("no %s within %v; the modem last: %v", what, within, last)
	return time.Time{}
}

// mmKeys is mmcli's key/value view of the modem with its signal and
// location read too.
func mmKeys(h *realmm.Harness) map[string]string {
	k := h.Keys()
	for _, args := range [][]string{{"--signal-get"}, {"--location-get"}} {
		out, _ := h.Mmcli(append([]string{"-m", "any", "-K"}, args...)...)
		for _, line := range strings.Split(out, "\n") {
			if a, b, ok := strings.Cut(line, ":"); ok {
				k[strings.TrimSpace(a)] = strings.TrimSpace(b)
			}
		}
	}
	return k
}

// enabledModem is the harness with the modem enabled and registered.
func enabledModem(tb testing.TB, opt realmm.Options) *realmm.Harness {
	tb.Helper()
	h := realmm.Start(tb, opt)
	if _, err := h.Mmcli("-m", "any", "-e"); err != nil {
		tb.Fatal(err)
	}
	if err := h.WaitKey("modem.generic.state", "registered", 20*time.Second); err != nil {
		tb.Fatal(err)
	}
	return h
}

// TestRealModemManagerFieldForField: fieldlink's status --json names what
// the real ModemManager says of the simulated modem, field for field with
// mmcli (operator, MCC-MNC, technology, registration, signal quality, the
// Signal interface's RSRP/RSRQ, the serving cell's TAC and cell id), and
// follows changes (roaming onto another operator, 3G, a weak signal,
// registration lost) within a second of ModemManager showing them.
func TestRealModemManagerFieldForField(t *testing.T) {
	h := enabledModem(t, realmm.Options{})
	w := watchStatus(t, h.BusAddress)
	w.until(t, "the modem registered", time.Time{}, 10*time.Second, func(l map[string]any) bool {
		return field(l, "cellular.registration") == "home" && field(l, "signal.rsrp_dbm") != ""
	})
	time.Sleep(1500 * time.Millisecond)
	k := mmKeys(h)
	w.mu.Lock()
	l := w.docs[len(w.docs)-1].link
	w.mu.Unlock()
	code := k["modem.3gpp.operator-code"]
	for _, c := range []struct{ ours, theirs string }{
		{field(l, "cellular.operator"), k["modem.3gpp.operator-name"]},
		{field(l, "cellular.mcc") + field(l, "cellular.mnc"), code},
		{field(l, "cellular.technology"), k["modem.generic.access-technologies.value[1]"]},
		{field(l, "cellular.registration"), k["modem.3gpp.registration-state"]},
		{field(l, "signal.quality_pct"), k["modem.generic.signal-quality.value"]},
		{field(l, "signal.rsrp_dbm"), trimUnit(k["modem.signal.lte.rsrp"])},
		{field(l, "signal.rsrq_db"), trimUnit(k["modem.signal.lte.rsrq"])},
		{strings.ToUpper(field(l, "cellular.tac")), strings.ToUpper(strings.TrimLeft(k["modem.location.3gpp.tac"], "0"))},
		{strings.ToUpper(field(l, "cellular.cell_id")), strings.ToUpper(strings.TrimLeft(k["modem.location.3gpp.cid"], "0"))},
	} {
		if c.ours != c.theirs || c.ours == "" {
			t.Errorf("fieldlink says %q, mmcli %q", c.ours, c.theirs)
		}
	}
	if t.Failed() {
		t.Logf("fieldlink: %v\nmmcli: %v", l, k)
	}
	changes := []struct {
		what string
		set  func(n *atmodem.Network)
		mm   func(k map[string]string) bool
		ours func(l map[string]any) bool
	}{
		{"roaming on another operator", func(n *atmodem.Network) { n.Reg, n.Operator, n.PLMN = atmodem.Roaming, "Visited Net", "27201" },
			func(k map[string]string) bool { return k["modem.3gpp.operator-code"] == "27201" },
			func(l map[string]any) bool {
				return field(l, "cellular.registration") == "roaming" && field(l, "cellular.mcc") == "272" && field(l, "cellular.operator") == "Visited Net"
			}},
		{"3G", func(n *atmodem.Network) { n.Tech = atmodem.UMTS },
			func(k map[string]string) bool { return k["modem.generic.access-technologies.value[1]"] == "umts" },
			func(l map[string]any) bool { return field(l, "cellular.technology") == "umts" }},
		{"a weak signal", func(n *atmodem.Network) { n.Signal = 1 },
			func(k map[string]string) bool { return k["modem.generic.signal-quality.value"] == "20" },
			func(l map[string]any) bool { return field(l, "signal.quality_pct") == "20" }},
		{"registration lost", func(n *atmodem.Network) { n.Reg = atmodem.Searching },
			func(k map[string]string) bool { return k["modem.3gpp.registration-state"] == "searching" },
			func(l map[string]any) bool { return field(l, "cellular.registration") == "searching" }},
	}
	for _, c := range changes {
		if c.what == "roaming on another operator" {
			// ModemManager re-reads the operator only on a change of
			// registration: a real network change passes through one.
			h.Modem.Set(func(n *atmodem.Network) { n.Reg = atmodem.Searching })
			time.Sleep(time.Second)
		}
		from := time.Now()
		h.Modem.Set(c.set)
		var seen time.Time
		deadline := time.Now().Add(30 * time.Second)
		for seen.IsZero() && time.Now().Before(deadline) {
			if c.mm(h.Keys()) {
				seen = time.Now()
			}
			time.Sleep(20 * time.Millisecond)
		}
		if seen.IsZero() {
			t.Fatalf("%s: ModemManager never showed it: %v", c.what, h.Keys())
		}
		ours := w.until(t, c.what, from, 30*time.Second, c.ours)
		t.Logf("%s: ModemManager (mmcli polled) %v, fieldlink %v", c.what, seen.Sub(from).Round(time.Millisecond), ours.Sub(from).Round(time.Millisecond))
		if ours.Sub(seen) > time.Second {
			t.Errorf("%s: fieldlink showed it %v after ModemManager did", c.what, ours.Sub(seen).Round(time.Millisecond))
		}
	}
}

func trimUnit(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return f[0]
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// TestRealModemManagerCellularVerdicts: each cellular fact reaches the
// modem's radio verdict within a second of the modem saying it:
// registration lost, a signal below the thresholds, the SIM pulled out
// (the modem deregisters); ModemManager
// restarting is said as that (the service away, then back with the modem),
// and the modem unplugged takes its link away.
func TestRealModemManagerCellularVerdicts(t *testing.T) {
	h := enabledModem(t, realmm.Options{})
	w := watchStatus(t, h.BusAddress)
	w.until(t, "the modem's radio green", time.Time{}, 10*time.Second, func(l map[string]any) bool { return field(l, "radio_level") == "green" })
	from := time.Now()
	h.Modem.Set(func(n *atmodem.Network) { n.Reg = atmodem.Searching })
	at := w.until(t, "no network", from, 5*time.Second, func(l map[string]any) bool {
		return field(l, "cellular.registration") == "searching" && field(l, "radio_level") == "red" && strings.Contains(field(l, "reason"), "searching")
	})
	t.Logf("registration lost → red: %v", at.Sub(from).Round(time.Millisecond))
	if at.Sub(from) > time.Second {
		t.Errorf("registration lost took %v to reach the verdict", at.Sub(from).Round(time.Millisecond))
	}
	h.Modem.Set(func(n *atmodem.Network) { n.Reg = atmodem.Home })
	w.until(t, "registered again", from, 10*time.Second, func(l map[string]any) bool { return field(l, "cellular.registration") == "home" })
	// Weak: the +CIEV quality is pushed at once; the Signal interface's
	// RSRP follows at its refresh rate.
	from = time.Now()
	h.Modem.Set(func(n *atmodem.Network) { n.RSRP, n.Signal = -127, 1 })
	at = w.until(t, "too weak", from, 15*time.Second, func(l map[string]any) bool {
		return field(l, "radio_level") == "red" && field(l, "signal.rsrp_dbm") == "-127"
	})
	t.Logf("signal below the thresholds → red (RSRP read at the Signal rate): %v", at.Sub(from).Round(time.Millisecond))
	h.Modem.Set(func(n *atmodem.Network) { n.RSRP, n.Signal = -95, 4 })
	w.until(t, "green again", from, 15*time.Second, func(l map[string]any) bool { return field(l, "radio_level") == "green" })
	// The SIM pulled out: the generic plugin has no SIM hot-swap detection
	// in 1.20, so what reaches ModemManager is the modem deregistering.
	from = time.Now()
	h.Modem.Set(func(n *atmodem.Network) { n.SIM = atmodem.SIMAbsent })
	at = w.until(t, "no network without a SIM", from, 5*time.Second, func(l map[string]any) bool {
		return field(l, "radio_level") == "red" && strings.Contains(field(l, "reason"), "no network")
	})
	t.Logf("SIM removed → red: %v", at.Sub(from).Round(time.Millisecond))
	if at.Sub(from) > time.Second {
		t.Errorf("SIM removed took %v to reach the verdict", at.Sub(from).Round(time.Millisecond))
	}
	h.Modem.Set(func(n *atmodem.Network) { n.SIM, n.Reg = atmodem.SIMReady, atmodem.Home })
	// ModemManager restarts.
	from = time.Now()
	h.StopMM(os.Interrupt)
	w.untilDoc(t, "ModemManager away", from, 10*time.Second, func(d watchDoc) bool { return d.mm == "false" })
	if err := h.StartMM(); err != nil {
		t.Fatal(err)
	}
	if err := h.Plug(); err != nil {
		t.Fatal(err)
	}
	w.untilDoc(t, "the modem back", from, 30*time.Second, func(d watchDoc) bool { return d.link != nil && d.mm == "true" })
	from = time.Now()
	if err := h.Unplug(); err != nil {
		t.Fatal(err)
	}
	at = w.until(t, "the modem gone", from, 10*time.Second, func(l map[string]any) bool { return l == nil })
	t.Logf("unplugged → the link gone: %v", at.Sub(from).Round(time.Millisecond))
}

// TestRealModemManagerSIMPIN: a SIM locked at the start of the day: the
// clinician's screen asks for its PIN and says how many tries are left; a
// wrong PIN is asked for again with fewer tries; the right one unlocks the
// SIM through ModemManager's Sim.SendPin; one try from locking, fieldlink
// stops asking and says to call IT. The PIN is nowhere but the modem.
func TestRealModemManagerSIMPIN(t *testing.T) {
	n := atmodem.DefaultNetwork()
	n.SIM, n.PIN = atmodem.SIMLocked, "2468"
	h := realmm.Start(t, realmm.Options{Network: &n})
	if err := h.WaitKey("modem.generic.unlock-required", "sim-pin", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte(""), 0o600)
	env := []string{"DBUS_SYSTEM_BUS_ADDRESS=" + h.BusAddress, "TERM=xterm-256color", "LANG=C.UTF-8", "FIELDLINK_RUNTIME_DIR=" + dir}
	p := startOnPTYWith(t, ptyOptions{state: filepath.Join(dir, "state"), want: "fieldlink", env: env}, "--config", cfg)
	waitUntil(t, "the PIN prompt", 20*time.Second, func() bool { return strings.Contains(p.screen(), "needs its PIN") })
	if !strings.Contains(p.screen(), "3 tries left") {
		t.Fatalf("no tries on the prompt:\n%s", p.screen())
	}
	mark := p.mark()
	time.Sleep(100 * time.Millisecond)
	p.send("0000\r")
	waitUntil(t, "asked again", 20*time.Second, func() bool {
		return strings.Contains(p.since(mark), "That PIN was wrong") && strings.Contains(p.since(mark), "2 tries left")
	})
	mark = p.mark()
	time.Sleep(100 * time.Millisecond)
	p.send("2468\r")
	// Unlocked, ModemManager initializes the modem again (its lock is
	// "--" until then), and it leaves "locked".
	waitUntil(t, "the modem unlocked", 20*time.Second, func() bool {
		k := h.Keys()
		st := k["modem.generic.state"]
		return st != "" && st != "locked" && st != "failed" && k["modem.generic.unlock-required"] != "sim-pin"
	})
	if strings.Count(p.since(mark), "needs its PIN") > 1 || strings.Contains(p.since(mark), "was not given") {
		t.Errorf("asked again after the right PIN:\n%s", p.since(mark))
	}
	if strings.Contains(p.screen(), "2468") {
		t.Fatal("the PIN reached the screen")
	}
	// Unlocked and enabled, the modem has the Signal interface it lacked
	// while locked: fieldlink switches its reporting on then.
	if err := h.WaitKey("modem.generic.state", "disabled", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Mmcli("-m", "any", "-e"); err != nil {
		t.Fatal(err)
	}
	w := watchStatus(t, h.BusAddress)
	w.until(t, "RSRP after the unlock", time.Time{}, 20*time.Second, func(l map[string]any) bool { return field(l, "signal.rsrp_dbm") != "" })
	// One try from locking: no prompt, words for the clinician.
	p.stop()
	h.Stop()
	n.PINTries = 1
	h2 := realmm.Start(t, realmm.Options{Network: &n})
	if err := h2.WaitKey("modem.generic.unlock-required", "sim-pin", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	env[0] = "DBUS_SYSTEM_BUS_ADDRESS=" + h2.BusAddress
	p2 := startOnPTYWith(t, ptyOptions{state: filepath.Join(dir, "state2"), want: "fieldlink", env: env}, "--config", cfg)
	waitUntil(t, "the words for one try left", 20*time.Second, func() bool { return strings.Contains(p2.screen(), "Call IT: one try left") })
	if strings.Contains(p2.screen(), "needs its PIN") {
		t.Fatal("asked for the PIN with one try left")
	}
}

// TestRealModemManagerAreaInTheJournal: the serving cell ModemManager
// reads from the modem (3GPP location: MCC-MNC, TAC, cell id) is the area
// a visit is journaled in.
func TestRealModemManagerAreaInTheJournal(t *testing.T) {
	h := enabledModem(t, realmm.Options{})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte(""), 0o600)
	state := filepath.Join(dir, "state")
	env := []string{"DBUS_SYSTEM_BUS_ADDRESS=" + h.BusAddress, "TERM=xterm-256color", "LANG=C.UTF-8", "FIELDLINK_RUNTIME_DIR=" + dir}
	p := startOnPTYWith(t, ptyOptions{state: state, want: "fieldlink", env: env}, "--config", cfg)
	waitUntil(t, "the modem on screen", 20*time.Second, func() bool { return strings.Contains(p.screen(), "FieldLink Net") })
	time.Sleep(2 * time.Second)
	p.send("v")
	time.Sleep(2 * time.Second)
	p.send("v")
	time.Sleep(time.Second)
	p.stop()
	j, err := journal.OpenReadOnly(filepath.Join(state, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var area string
	rows, _ := j.DB().Query(`SELECT kind, network, area FROM visit_net`)
	for rows.Next() {
		var k, n, a string
		rows.Scan(&k, &n, &a)
		t.Logf("visit_net %s %q %q", k, n, a)
		if k == "work" && a != "" {
			area = a
		}
	}
	rows.Close()
	if area == "" {
		t.Fatal("no visit with an area")
	}
	if !strings.Contains(area, "234-99") || !strings.Contains(strings.ToUpper(area), "2C3D") {
		t.Fatalf("the visit's area %q is not the modem's cell (234-99, TAC 2C3D)", area)
	}
}
