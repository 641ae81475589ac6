package sim

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/fieldlink/fieldlink"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// DefaultScenario is what --demo plays.
const DefaultScenario = "home-visit"

// BuiltinNames lists the scenarios compiled into the binary.
func BuiltinNames() []string {
	entries, _ := fs.ReadDir(fieldlink.Scenarios, "testdata/scenarios")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".scn"))
	}
	sort.Strings(names)
	return names
}

// Builtin parses a built-in scenario by name.
func Builtin(name string) (*Scenario, error) {
	p := path.Join("testdata/scenarios", name+".scn")
	b, err := fieldlink.Scenarios.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("no built-in scenario %q (have: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	return Parse(p, bytes.NewReader(b))
}

// Frame is the state of a scenario right after the changes at one moment.
type Frame struct {
	At       time.Duration
	Snapshot netstate.Snapshot
	Events   []netstate.Event
}

// Play runs a scenario without a clock and returns a frame for every moment
// something happened, up to until. Scenario time 0 is base.
func Play(sc *Scenario, base time.Time, until time.Duration) []Frame {
	p := NewPlayer(sc)
	frames := []Frame{{At: 0, Snapshot: p.Snapshot(base)}}
	for {
		at, ok := p.NextAt()
		if !ok || at > until {
			return frames
		}
		now := base.Add(at)
		events, changed := p.Advance(at, now)
		if !changed && len(events) == 0 {
			continue
		}
		if last := &frames[len(frames)-1]; last.At == at {
			last.Snapshot = p.Snapshot(now)
			last.Events = append(last.Events, events...)
			continue
		}
		frames = append(frames, Frame{At: at, Snapshot: p.Snapshot(now), Events: events})
	}
}
