package bars

import (
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/theme"
)

func TestCountFollowsNmcliAndAndroidBounds(t *testing.T) {
	wifi := func(v float64) *netstate.Link {
		return &netstate.Link{Kind: netstate.KindWiFi, Signal: netstate.Signal{Strength: netstate.Some(v)}}
	}
	lte := func(v float64) *netstate.Link {
		return &netstate.Link{Kind: netstate.KindCellular, Cell: netstate.Cell{Tech: netstate.TechLTE}, Signal: netstate.Signal{RSRP: netstate.Some(v)}}
	}
	umts := func(v float64) *netstate.Link {
		return &netstate.Link{Kind: netstate.KindCellular, Cell: netstate.Cell{Tech: netstate.TechUMTS}, Signal: netstate.Signal{RSCP: netstate.Some(v)}}
	}
	cases := []struct {
		l    *netstate.Link
		want int
	}{
		{wifi(81), 4}, {wifi(80), 3}, {wifi(56), 3}, {wifi(55), 2}, {wifi(31), 2}, {wifi(30), 1}, {wifi(6), 1}, {wifi(5), 0},
		{lte(-98), 4}, {lte(-99), 3}, {lte(-108), 3}, {lte(-109), 2}, {lte(-118), 2}, {lte(-119), 1}, {lte(-128), 1}, {lte(-129), 0},
		{umts(-85), 4}, {umts(-95), 3}, {umts(-105), 2}, {umts(-115), 1}, {umts(-116), 0},
	}
	for _, c := range cases {
		if got, ok := Count(c.l); !ok || got != c.want {
			t.Errorf("Count(%+v) = %d, %v; want %d", c.l.Signal, got, ok, c.want)
		}
	}
	if _, ok := Count(&netstate.Link{Kind: netstate.KindCellular}); ok {
		t.Error("a modem with no figures has no bars")
	}
}

func TestRenderIsAlwaysFourCells(t *testing.T) {
	links := []netstate.Link{
		{Kind: netstate.KindWiFi, Signal: netstate.Signal{Strength: netstate.Some(50)}, Radio: netstate.LevelAmber},
		{Kind: netstate.KindWiFi},
		{Kind: netstate.KindEthernet, Carrier: netstate.Yes, Level: netstate.LevelGreen},
		{Kind: netstate.KindEthernet, Carrier: netstate.No},
		{Kind: netstate.KindEthernet},
		{Kind: netstate.KindCellular, Signal: netstate.Signal{Quality: netstate.Some(90)}},
	}
	for _, opts := range []theme.Options{{}, {ASCII: true}, {NoColor: true}} {
		th := theme.New(opts)
		for _, l := range links {
			out := Render(th, &l)
			if w := ansi.StringWidth(out); w != Width {
				t.Errorf("%+v %+v: width %d (%q)", opts, l.Kind, w, ansi.Strip(out))
			}
		}
	}
	if got := ansi.Strip(Draw(theme.New(theme.Options{ASCII: true}), 2, netstate.LevelAmber)); got != "##.." {
		t.Errorf("ASCII bars %q", got)
	}
	if got := ansi.Strip(Draw(theme.New(theme.Options{}), 3, netstate.LevelGreen)); got != "▂▄▆·" {
		t.Errorf("Unicode bars %q", got)
	}
}

func TestFigure(t *testing.T) {
	for want, l := range map[string]netstate.Link{
		"72%":      {Kind: netstate.KindWiFi, Signal: netstate.Signal{Strength: netstate.Some(72)}},
		"-95 dBm":  {Kind: netstate.KindCellular, Signal: netstate.Signal{RSRP: netstate.Some(-95), RSSI: netstate.Some(-60)}},
		"-101 dBm": {Kind: netstate.KindCellular, Signal: netstate.Signal{RSCP: netstate.Some(-101)}},
		"3 ms":     {Kind: netstate.KindEthernet, Probe: netstate.Probe{OK: netstate.Yes, RTT: netstate.Some(3)}},
		"":         {Kind: netstate.KindEthernet},
	} {
		if got := Figure(&l); got != want {
			t.Errorf("Figure = %q, want %q", got, want)
		}
	}
}
