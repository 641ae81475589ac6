package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/fieldlink/fieldlink/backend/agent"
	"github.com/fieldlink/fieldlink/backend/launch"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func keyMsg(s string) tea.KeyPressMsg {
	switch s {
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "ctrl+x":
		return tea.KeyPressMsg{Code: 'x', Mod: tea.ModCtrl}
	case "f12":
		return tea.KeyPressMsg{Code: tea.KeyF12}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	}
	return tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

// TestKioskCannotBeQuit: q and ctrl+c do nothing but say so; only the
// admin sequence (from a root-owned config) quits, and only in full.
func TestKioskCannotBeQuit(t *testing.T) {
	st := replay(t, "home-visit", time.Minute)[0].State
	m := New(Options{Kiosk: true, AdminKeys: []string{"ctrl+x", "f12", "q"}})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(StateMsg(st))
	for _, k := range []string{"q", "ctrl+c", "esc", "ctrl+x", "q", "f12", "ctrl+c"} {
		if _, cmd := m.Update(keyMsg(k)); isQuit(cmd) {
			t.Fatalf("%s quit the kiosk", k)
		}
	}
	if out := ansi.Strip(m.Render()); !strings.Contains(out, "This is a kiosk: fieldlink stays on screen.") || strings.Contains(out, "q quit") {
		t.Fatalf("kiosk screen:\n%s", out)
	}
	m.Update(keyMsg("?"))
	if out := ansi.Strip(m.Render()); strings.Contains(out, "quit") {
		t.Fatalf("the kiosk's help offers a way out:\n%s", out)
	}
	m.Update(keyMsg("ctrl+x"))
	m.Update(keyMsg("f12"))
	if _, cmd := m.Update(keyMsg("q")); !isQuit(cmd) {
		t.Fatal("the admin sequence did not quit")
	}
	// Without a sequence there is no way out at all.
	m2 := New(Options{Kiosk: true})
	m2.Update(StateMsg(st))
	for _, k := range []string{"ctrl+x", "f12", "q", "ctrl+c"} {
		if _, cmd := m2.Update(keyMsg(k)); isQuit(cmd) {
			t.Fatalf("%s quit a kiosk with no admin keys", k)
		}
	}
}

// TestKioskGoldenLinuxConsole: the kiosk on tty1 (TERM=linux: ASCII and
// the 8 console colors) with the VPN up, the app running, and a Wi-Fi key
// prompt open.
func TestKioskGoldenLinuxConsole(t *testing.T) {
	moments := replay(t, "home-visit", 2*time.Minute)
	st := moments[1].State // VPN up over Wi-Fi
	now := st.Snapshot.Time
	st.Work.App = netstate.AppStatus{Name: "Clinical records", Phase: netstate.AppRunning, Since: now.Add(-12 * time.Minute), Launch: "on-vpn-up"}
	opts := theme.Detect(theme.FromEnviron([]string{"TERM=linux", "LANG=C.UTF-8"}))
	prompts := make(chan agent.Request, 1)
	m := New(Options{Theme: theme.New(opts), Thresholds: netstate.DefaultThresholds(), Location: time.UTC, Kiosk: true,
		Now: func() time.Time { return now }, Prompts: prompts})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(StateMsg(st))
	var b strings.Builder
	frame := func(title string) {
		var buf bytes.Buffer
		cw := &colorprofile.Writer{Forward: &buf, Profile: colorprofile.ANSI}
		cw.WriteString(m.Render())
		b.WriteString("=== " + title + "\n" + buf.String() + "\n")
	}
	frame("kiosk, VPN up, app running")
	m.Update(promptMsg(agent.Request{ID: 1, Title: "Wi-Fi network Clinic Guest needs its key",
		Fields: []agent.Field{{Key: "psk", Label: "Wi-Fi key", Secret: true}}, Deadline: now.Add(90 * time.Second)}))
	for _, r := range "hunter22" {
		m.Update(keyMsg(string(r)))
	}
	frame("a Wi-Fi key prompt, 8 characters typed")
	if strings.Contains(b.String(), "hunter22") {
		t.Fatal("the typed key was drawn")
	}
	golden.RequireEqual(t, b.String())
}

// TestTerminalAppRunsInPlaceOfTheScreen: a terminal application gets the
// terminal (Bubble Tea's exec), the screen comes back when it exits, and
// the exit is told with its status.
func TestTerminalAppRunsInPlaceOfTheScreen(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	script := filepath.Join(dir, "clinical")
	os.WriteFile(script, []byte("#!/bin/sh\necho ran > "+marker+"\nexit 3\n"), 0o700)
	var mu sync.Mutex
	var evs []string
	r := launch.New(launch.Spec{Name: "Clinical records", Command: []string{script}, Terminal: true, Launch: "manual"},
		launch.Options{Event: func(e netstate.Event) { mu.Lock(); evs = append(evs, e.Text); mu.Unlock() }})
	st := replay(t, "steady", time.Minute)[0].State
	m := New(Options{App: r})
	// A file, as a terminal is: the application is handed it directly.
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inW.Close()
	defer inR.Close()
	var out bytes.Buffer
	p := tea.NewProgram(m, tea.WithInput(inR), tea.WithOutput(&out), tea.WithoutSignals())
	done := make(chan error, 1)
	go func() { _, err := p.Run(); done <- err }()
	p.Send(tea.WindowSizeMsg{Width: 80, Height: 24})
	p.Send(StateMsg(st))
	p.Send(keyMsg("a"))
	deadline := time.Now().Add(10 * time.Second)
	for r.Status().Phase != netstate.AppFailed && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	p.Quit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the app did not run")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(evs) != 2 || evs[0] != "Started Clinical records ("+script+")" || !strings.HasPrefix(evs[1], "Clinical records exited with status 3 after") {
		t.Fatalf("events %q", evs)
	}
	if st := r.Status(); st.Reason != "exited with status 3" {
		t.Fatalf("status %+v", st)
	}
}

// TestPromptsQueueAndWithdraw: prompts wait their turn; an answer goes to
// the right request; a withdrawn prompt closes with a word why.
func TestPromptsQueueAndWithdraw(t *testing.T) {
	st := replay(t, "steady", time.Minute)[0].State
	type answer struct {
		id   uint64
		vals map[string]string
	}
	var answers []answer
	var cancelled []uint64
	m := New(Options{Answer: func(id uint64, v map[string]string) error {
		c := map[string]string{}
		for k, x := range v {
			c[k] = x
		}
		answers = append(answers, answer{id, c})
		return nil
	}, Cancel: func(id uint64) { cancelled = append(cancelled, id) }})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(StateMsg(st))
	field := []agent.Field{{Key: "psk", Label: "Wi-Fi key", Secret: true}}
	m.Update(promptMsg(agent.Request{ID: 1, Title: "Wi-Fi network A needs its key", Fields: field, Deadline: time.Now().Add(time.Minute)}))
	m.Update(promptMsg(agent.Request{ID: 2, Title: "Wi-Fi network B needs its key", Fields: field, Deadline: time.Now().Add(time.Minute)}))
	m.Update(promptMsg(agent.Request{ID: 3, Title: "VPN C needs your log-in", Fields: field, Deadline: time.Now().Add(time.Minute)}))
	if out := ansi.Strip(m.Render()); !strings.Contains(out, "Wi-Fi network A needs its key") {
		t.Fatalf("first prompt not shown:\n%s", out)
	}
	m.Update(keyMsg("x"))
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if len(answers) != 1 || answers[0].id != 1 || answers[0].vals["psk"] != "x" {
		t.Fatalf("answers %+v", answers)
	}
	if out := ansi.Strip(m.Render()); !strings.Contains(out, "Wi-Fi network B needs its key") {
		t.Fatalf("second prompt not shown:\n%s", out)
	}
	m.Update(promptMsg(agent.Request{ID: 3, Withdrawn: true, Reason: "NetworkManager no longer needs it"}))
	m.Update(promptMsg(agent.Request{ID: 2, Withdrawn: true, Reason: "not answered in time"}))
	out := ansi.Strip(m.Render())
	if strings.Contains(out, "NETWORKMANAGER ASKS") || !strings.Contains(out, "Prompt withdrawn (not answered in time): Wi-Fi network B needs its key") {
		t.Fatalf("after withdrawals:\n%s", out)
	}
	if len(cancelled) != 0 {
		t.Fatalf("withdrawn prompts were cancelled too: %v", cancelled)
	}
}
