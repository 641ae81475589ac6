package status

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/sim"
)

var base = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// stateAt plays a built-in scenario through an engine up to a moment.
func stateAt(t *testing.T, name string, at time.Duration) engine.State {
	sc, err := sim.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(sim.New(sc, sim.Options{}), engine.Options{Thresholds: netstate.DefaultThresholds()})
	for _, f := range sim.Play(sc, base, at) {
		e.Ingest(netstate.Update{Snapshot: f.Snapshot, Events: f.Events}, base.Add(f.At))
	}
	return e.Current()
}

// TestJSONIsStable pins the status document: a change here breaks the
// scripts that read it, so the golden file changes only on purpose.
func TestJSONIsStable(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, FromState(stateAt(t, "rural-cellular", 65*time.Second))); err != nil {
		t.Fatal(err)
	}
	golden.RequireEqual(t, buf.String())
	var back Doc
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	l := back.Links[1]
	if l.Cell.Registration != netstate.RegRoaming || l.Cell.MCC != "272" || !l.Signal.RSCP.OK || l.Signal.RSRP.OK {
		t.Fatalf("round trip lost cellular detail: %+v", l.Cell)
	}
}

func TestTextAndLine(t *testing.T) {
	d := FromState(stateAt(t, "cable-pulled", 16*time.Second))
	var buf bytes.Buffer
	if err := WriteText(&buf, d, time.UTC); err != nil {
		t.Fatal(err)
	}
	golden.RequireEqual(t, buf.String())
	line := Line(d, []netstate.Event{{Text: "a"}, {Text: "b"}}, time.UTC)
	if line != "09:00:15  DO NOT PROCEED  Wired Base dock via eth0: no carrier  | a; b" {
		t.Fatalf("line %q", line)
	}
}

func TestEventsBounded(t *testing.T) {
	st := stateAt(t, "steady", 0)
	for i := 0; i < 50; i++ {
		st.Events = append(st.Events, netstate.Event{Seq: uint64(100 + i), Text: "x"})
	}
	d := FromState(st)
	if len(d.Events) != MaxEvents || d.Events[MaxEvents-1].Seq != 149 {
		t.Fatalf("events %d", len(d.Events))
	}
	empty := FromState(engine.State{})
	b, _ := json.Marshal(empty)
	if !strings.Contains(string(b), `"links":[]`) || !strings.Contains(string(b), `"events":[]`) {
		t.Fatalf("empty lists must be [] not null: %s", b)
	}
}
