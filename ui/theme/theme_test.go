package theme

import "testing"

func TestDetect(t *testing.T) {
	cases := []struct {
		env     []string
		ascii   bool
		noColor bool
	}{
		{[]string{"TERM=xterm-256color", "LANG=en_GB.UTF-8"}, false, false},
		{[]string{"TERM=linux", "LANG=en_GB.UTF-8"}, true, false},
		{[]string{"TERM=xterm", "LANG=C"}, true, false},
		{[]string{"TERM=xterm", "LANG=en_GB.UTF-8", "LC_ALL=C"}, true, false},
		{[]string{"TERM=xterm", "LANG=C", "LC_CTYPE=en_US.utf8"}, false, false},
		{[]string{"TERM=xterm", "LANG=en_GB.UTF-8", "NO_COLOR=1"}, false, true},
		{[]string{"TERM=xterm", "LANG=en_GB.UTF-8", "NO_COLOR="}, false, false},
		{[]string{"TERM=xterm"}, true, false},
	}
	for _, c := range cases {
		got := Detect(FromEnviron(c.env))
		if got.ASCII != c.ascii || got.NoColor != c.noColor {
			t.Errorf("%v: got %+v", c.env, got)
		}
	}
}

func TestASCIIGlyphsAreASCII(t *testing.T) {
	th := New(Options{ASCII: true})
	all := []string{th.G.BarEmpty, th.G.Wired, th.G.NoWire, th.G.Cursor, th.G.Ellipsis, th.G.Sep, th.G.Arrow,
		th.G.Rule, th.G.VRule, th.G.Standby, th.G.Down, th.G.Busy, th.G.Absent}
	all = append(all, th.G.Bars...)
	for _, s := range th.G.Level {
		all = append(all, s)
	}
	for _, s := range all {
		for _, r := range s {
			if r > 127 {
				t.Errorf("non-ASCII glyph %q", s)
			}
		}
	}
}
