// Package chromium finds Debian's headless Chromium for tests that look at
// a page as a browser does (the HTML report printed, the fleet page's DOM),
// and starts it with the flags this closed network needs.
package chromium

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

// Find returns a headless-capable Chromium, or skips (loudly; a failure in
// CI) saying what the test wanted it for.
func Find(tb testing.TB, forWhat string) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	integration.Skip(tb, "no chromium to %s (apt-get install chromium)", forWhat)
	return ""
}

// Headless is a command running browser headless with a throwaway
// profile and home in dir, then args (what to do: --dump-dom URL,
// --print-to-pdf=…). Background networking is off: on a machine with no
// route out, Chromium's own update and sync connections only add noise.
func Headless(ctx context.Context, browser, dir string, args ...string) *exec.Cmd {
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-default-browser-check",
		"--disable-background-networking", "--disable-component-update", "--disable-extensions", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "profile")}
	cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	return cmd
}
