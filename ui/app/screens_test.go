package app

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/ui/theme"
)

// sampleReport is a month of a device's journal as the reports view gets
// it: three operators, named areas, a dead zone.
func sampleReport() *report.Report {
	return &report.Report{Period: report.Period{From: "2026-10-25", To: "2026-11-23", Text: "25 Oct – 23 Nov 2026"},
		Headline: report.Headline{Visits: 24, Workable: 19},
		Operators: []report.Operator{
			{Network: "Vodafone (234-15)", Text: "Vodafone (234-15): workable in 91% of 11 visits, 3 areas"},
			{Network: "EE (234-30)", Text: "EE (234-30): workable in 70% of 10 visits, 2 areas"},
			{Network: "O2 (234-10)", Text: "O2 (234-10): workable in 33% of 3 visits, 1 area"},
		},
		DeadZones: []string{"Longbridge"},
		Networks: []report.Row{
			{Key: "Wi-Fi NHS-Community", Kind: "wifi", GreenPct: 80, AmberPct: 15, RedPct: 5, ConnectedHours: 30.5},
			{Key: "Vodafone (234-15)", Kind: "cellular", GreenPct: 71, AmberPct: 20, RedPct: 9, ConnectedHours: 14},
			{Key: "EE (234-30)", Kind: "cellular", GreenPct: 40, AmberPct: 40, RedPct: 20, ConnectedHours: 12},
		}}
}

// TestGoldenOtherScreens: the details, help, reports and Wi-Fi networks
// screens at every size and in every mode, at one fixed moment.
func TestGoldenOtherScreens(t *testing.T) {
	moments := replay(t, "home-visit", 2*time.Minute+30*time.Second)
	st := moments[len(moments)-1].State
	screens := []struct {
		name string
		keys []string
		msg  tea.Msg
	}{
		{"details", []string{"enter"}, nil},
		{"help", []string{"?"}, nil},
		{"reports", []string{"r"}, reportMsg{rep: sampleReport()}},
		{"networks", []string{"w"}, nil},
	}
	for _, size := range [][2]int{{80, 24}, {40, 12}, {30, 8}, {120, 40}, {200, 60}} {
		for _, md := range modes {
			t.Run(fmt.Sprintf("%dx%d/%s", size[0], size[1], md.name), func(t *testing.T) {
				var b strings.Builder
				for _, sc := range screens {
					m := New(Options{Theme: theme.New(md.opts), Thresholds: netstate.DefaultThresholds(), Location: time.UTC,
						Now: func() time.Time { return st.Snapshot.Time }, Report: func() (*report.Report, error) { return sampleReport(), nil },
						Join: func(join.Request) string { return "" }})
					m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
					m.Update(StateMsg(st))
					for _, k := range sc.keys {
						m.Update(keyMsg(k))
					}
					if sc.msg != nil {
						m.Update(sc.msg)
					}
					var buf bytes.Buffer
					cw := &colorprofile.Writer{Forward: &buf, Profile: md.profile}
					out := m.Render()
					cw.WriteString(out)
					for i, l := range strings.Split(out, "\n") {
						if ansi.StringWidth(l) > size[0] {
							t.Errorf("%s line %d is %d cells wide", sc.name, i, ansi.StringWidth(l))
						}
					}
					fmt.Fprintf(&b, "=== %s\n%s\n", sc.name, buf.String())
				}
				golden.RequireEqual(t, b.String())
			})
		}
	}
}
