package config

import (
	"fmt"
	"strconv"
	"strings"
)

// namedKeys are the keys, by the names the TUI receives them under, that
// a console or terminal sends as themselves.
var namedKeys = map[string]bool{
	"enter": true, "tab": true, "backspace": true, "esc": true, "space": true,
	"up": true, "down": true, "left": true, "right": true,
	"insert": true, "delete": true, "pgup": true, "pgdown": true, "home": true, "end": true,
}

// CheckKey says why a kiosk admin key can never be pressed as written, or
// "" when the TUI receives a key under that name: one character ("q",
// "X"), a named key ("f12", "esc", "enter"), ctrl+ a letter, alt+ a
// character or named key, shift+tab or shift+ an arrow.
func CheckKey(k string) string {
	if validKey(k) {
		return ""
	}
	if l := strings.ToLower(k); l != k && validKey(l) {
		return fmt.Sprintf("%q is not a key name the screen receives: write %q", k, l)
	}
	return fmt.Sprintf("%q is not a key (write keys as the screen names them: ctrl+x, f12, alt+q, esc, enter, or one character such as q)", k)
}

func validKey(k string) bool {
	if r := []rune(k); len(r) == 1 {
		return r[0] > ' ' && r[0] != 0x7f
	}
	if namedKeys[k] || fkey(k) {
		return true
	}
	if rest, ok := strings.CutPrefix(k, "ctrl+"); ok {
		// ctrl+i and ctrl+m arrive as tab and enter on every terminal.
		return len(rest) == 1 && rest[0] >= 'a' && rest[0] <= 'z' && rest != "i" && rest != "m"
	}
	if rest, ok := strings.CutPrefix(k, "alt+"); ok {
		r := []rune(rest)
		return (len(r) == 1 && r[0] > ' ' && r[0] != 0x7f) || namedKeys[rest] || fkey(rest)
	}
	if rest, ok := strings.CutPrefix(k, "shift+"); ok {
		return rest == "tab" || rest == "up" || rest == "down" || rest == "left" || rest == "right"
	}
	return false
}

// fkey accepts f1…f20: the Linux console sends F13–F20 for shift+F1–F8.
func fkey(k string) bool {
	n, ok := strings.CutPrefix(k, "f")
	if !ok {
		return false
	}
	v, err := strconv.Atoi(n)
	return err == nil && v >= 1 && v <= 20 && strconv.Itoa(v) == n
}
