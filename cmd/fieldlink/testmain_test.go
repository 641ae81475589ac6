package main

import (
	"os"
	"testing"

	"github.com/fieldlink/fieldlink/backend/testbed/pgtest"
)

// TestMain keeps every fieldlink this package's tests start, in-process or
// as a child, away from the machine's own state: the control sockets go
// to a directory of the test run's (children inherit the variable), and
// in-process commands use a state directory of their own. As root
// XDG_STATE_HOME is ignored by design, so it cannot serve for that.
func TestMain(m *testing.M) {
	run, err := os.MkdirTemp("", "fieldlink-run")
	if err != nil {
		panic(err)
	}
	os.Setenv("FIELDLINK_RUNTIME_DIR", run)
	state, err := os.MkdirTemp("", "fieldlink-state")
	if err != nil {
		panic(err)
	}
	testStateDir = state
	code := m.Run()
	dropGroup()
	pgtest.StopShared()
	os.RemoveAll(run)
	os.RemoveAll(state)
	os.Exit(code)
}
