package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSkipIsLogged: a skipped integration test leaves a line in
// FIELDLINK_SKIP_LOG, which .ci/test reads so that a run without root
// never ends with "all checks passed" (finding: it did, the loud skip
// lines hidden because go test ran without -v).
func TestSkipIsLogged(t *testing.T) {
	log := filepath.Join(t.TempDir(), "skips")
	t.Setenv("FIELDLINK_SKIP_LOG", log)
	t.Setenv("FIELDLINK_REQUIRE_INTEGRATION", "")
	t.Run("needs-a-daemon", func(t *testing.T) {
		Skip(t, "frobd is not installed")
	})
	b, err := os.ReadFile(log)
	if err != nil || !strings.Contains(string(b), "TestSkipIsLogged/needs-a-daemon: frobd is not installed") {
		t.Fatalf("skip log: %q %v", b, err)
	}
}
