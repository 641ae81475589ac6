package banner

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/ui/theme"
)

func TestDemoAndObserverAreMarked(t *testing.T) {
	th := theme.New(theme.Options{})
	lines := Lines(th, Info{Demo: true, Source: "Home visit", Observer: true, ReadOnly: true, Holder: "fieldlink pid 7 (kiosk)",
		Warnings: []string{"ModemManager is not running"}}, 80, false)
	if len(lines) != 3 {
		t.Fatalf("lines %d", len(lines))
	}
	plain := ansi.Strip(strings.Join(lines, "\n"))
	for _, want := range []string{"DEMO", "simulated data", "Home visit", "OBSERVER", "read-only", "in charge: fieldlink pid 7 (kiosk)", "! ModemManager is not running"} {
		if !strings.Contains(plain, want) {
			t.Errorf("lacks %q:\n%s", want, plain)
		}
	}
	compact := ansi.Strip(Lines(th, Info{Demo: true, Source: "Home visit"}, 20, true)[0])
	if !strings.HasPrefix(compact, " DEMO") || ansi.StringWidth(compact) > 20 {
		t.Fatalf("compact demo banner %q", compact)
	}
	real := ansi.Strip(Lines(th, Info{Source: "system"}, 40, false)[0])
	if strings.Contains(real, "DEMO") || !strings.Contains(real, "fieldlink") {
		t.Fatalf("real banner %q", real)
	}
}

// TestLongWarningLosesNoWord: a warning over three lines at 80 columns
// (a config path, then why) keeps every word: the indented lines are
// wrapped narrower rather than cut at the edge.
func TestLongWarningLosesNoWord(t *testing.T) {
	w := "config /tmp/flkiosk382775169/config.toml is owned by root but writable by others (mode 0666): " +
		"its [app], [kiosk] admin_keys, [technician] and [sync] are ignored"
	lines := wrapWarning(w, 80)
	var words []string
	for _, l := range lines {
		if ansi.StringWidth(l) > 80 {
			t.Fatalf("a line wider than 80: %q", l)
		}
		words = append(words, strings.Fields(strings.TrimPrefix(l, " ! "))...)
	}
	if got := strings.Join(words, " "); got != w {
		t.Fatalf("wrapped:\n%s\nlost words: %q", strings.Join(lines, "\n"), got)
	}
}
