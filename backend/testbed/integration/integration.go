// Package integration holds the one rule for tests that need the real
// world (root, dbus-daemon, NetworkManager, network namespaces): on a
// developer laptop without it they skip, loudly; in CI, where
// FIELDLINK_REQUIRE_INTEGRATION=1, a skip is a failure.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Required reports whether integration tests must run (CI).
func Required() bool { return os.Getenv("FIELDLINK_REQUIRE_INTEGRATION") == "1" }

// Skip skips the test with a loud reason, or fails it when integration is
// required. The skip is also appended to the file FIELDLINK_SKIP_LOG
// names: go test shows a skip's reason only with -v, and a test run that
// skipped integration tests must not end by saying all checks passed.
func Skip(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		tb.Fatalf("integration test cannot run, and FIELDLINK_REQUIRE_INTEGRATION=1: %s", msg)
	}
	if p := os.Getenv("FIELDLINK_SKIP_LOG"); p != "" {
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			fmt.Fprintf(f, "%s: %s\n", tb.Name(), msg)
			f.Close()
		}
	}
	tb.Skipf("SKIPPED INTEGRATION TEST (%s); install what it needs or run .ci/run as root to include it", msg)
}

// NeedCommands skips unless every command is on PATH.
func NeedCommands(tb testing.TB, cmds ...string) {
	tb.Helper()
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			Skip(tb, "%s is not installed", c)
		}
	}
}

// NeedRoot skips unless running as root.
func NeedRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Skip(tb, "needs root for network namespaces")
	}
}
