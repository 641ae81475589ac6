package light

import (
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func TestLightSaysItInWordsAndShape(t *testing.T) {
	snap := netstate.Snapshot{Path: "Wi-Fi NHS-Community 72% via wlan0", Reason: "Wi-Fi 72%"}
	for _, lv := range []netstate.Level{netstate.LevelGreen, netstate.LevelAmber, netstate.LevelRed, netstate.LevelUnknown} {
		snap.Level = lv
		for _, opts := range []theme.Options{{}, {ASCII: true}, {NoColor: true}} {
			th := theme.New(opts)
			for _, compact := range []bool{false, true} {
				out := View(th, &snap, 60, compact)
				plain := ansi.Strip(out)
				if !strings.Contains(plain, th.Symbol(lv)+" "+lv.Word()) {
					t.Errorf("%v %+v: no shape and word in %q", lv, opts, plain)
				}
				if !strings.Contains(plain, snap.Path) || !strings.Contains(plain, snap.Reason) {
					t.Errorf("%v: path or reason missing", lv)
				}
				if n := strings.Count(out, "\n") + 1; n != Height {
					t.Errorf("height %d", n)
				}
				for _, line := range strings.Split(out, "\n") {
					if w := ansi.StringWidth(line); w > 60 {
						t.Errorf("line width %d", w)
					}
				}
			}
		}
	}
}

var background = regexp.MustCompile(`\x1b\[[0-9;]*4[0-7]m`)

func TestNoColorUsesReverseVideo(t *testing.T) {
	snap := netstate.Snapshot{Level: netstate.LevelRed, Path: "No connection", Reason: "no carrier"}
	out := View(theme.New(theme.Options{NoColor: true}), &snap, 40, false)
	if background.MatchString(out) {
		t.Fatalf("background color under NO_COLOR: %q", out)
	}
	if !strings.Contains(out, "\x1b[1;7m") && !strings.Contains(out, "\x1b[7;1m") && !strings.Contains(out, "7m") {
		t.Fatalf("no reverse video: %q", out)
	}
	col := View(theme.New(theme.Options{}), &snap, 40, false)
	if !strings.Contains(col, "41") {
		t.Fatalf("red light should have a red background: %q", col)
	}
}

func TestZeroWidth(t *testing.T) {
	if View(theme.New(theme.Options{}), &netstate.Snapshot{}, 0, false) != "" {
		t.Fatal("zero width should draw nothing")
	}
}
