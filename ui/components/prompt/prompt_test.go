package prompt

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/agent"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func k(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	}
	return tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
}

var now = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func req() agent.Request {
	return agent.Request{ID: 7, Title: "Wi-Fi network Staff needs your network log-in", Deadline: now.Add(75 * time.Second),
		Fields: []agent.Field{{Key: "identity", Label: "User", Value: "nurse.jones"}, {Key: "password", Label: "Password", Secret: true}}}
}

func TestTypingIsMaskedAndAnswered(t *testing.T) {
	m := New(req())
	for _, r := range "s3cr3tX" {
		m.Key(k(string(r))) // focus starts on the empty password
	}
	m.Key(k("backspace"))
	m.Paste("!\n")
	out := ansi.Strip(m.View(theme.New(theme.Options{}), now, 80, 20))
	for _, want := range []string{"NETWORKMANAGER ASKS", "needs your network log-in", "User      nurse.jones", "▸ Password  •••••••_", "1m15s left"} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cr3t") {
		t.Fatalf("the secret was drawn:\n%s", out)
	}
	ascii := ansi.Strip(m.View(theme.New(theme.Options{ASCII: true}), now, 80, 20))
	if !strings.Contains(ascii, "> Password  *******_") {
		t.Fatalf("ASCII mask:\n%s", ascii)
	}
	if a := m.Key(k("enter")); a != Submit {
		t.Fatalf("enter on the last field: %v", a)
	}
	if v := m.Values(); v["identity"] != "nurse.jones" || v["password"] != "s3cr3t!" {
		t.Fatalf("values %v", v)
	}
	m.Clear()
	if v := m.Values(); v["password"] != "" || v["identity"] != "" {
		t.Fatalf("after Clear %v", v)
	}
}

func TestFieldsAndCancel(t *testing.T) {
	r := req()
	r.Fields[0].Value = ""
	m := New(r)
	m.Key(k("a"))
	if a := m.Key(k("enter")); a != None {
		t.Fatal("enter on the first field should move on, not submit")
	}
	m.Key(k("b"))
	m.Key(k("tab")) // wraps back to the user
	m.Key(k("c"))
	if v := m.Values(); v["identity"] != "ac" || v["password"] != "b" {
		t.Fatalf("values %v", v)
	}
	if a := m.Key(k("esc")); a != Cancel || m.Values()["password"] != "" {
		t.Fatal("esc should cancel and wipe")
	}
}
