// Package buildstamp says what this fieldlink binary is: its version,
// commit and commit date, as the Go toolchain stamped them into it, and
// the Debian version a package of it carries, so that `fieldlink
// --version` and the package's version come from one place.
package buildstamp

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// Info is what the build stamped.
type Info struct {
	// Version is the module version: a tag (v1.2.0), a pseudo-version for
	// a commit after one (v0.0.0-20261130094734-a3cf6a3bb0e0), "+dirty"
	// when built from a modified tree, or "dev" when built without
	// version control information (go run).
	Version  string
	Commit   string
	Date     time.Time // the commit's date: builds of one commit are alike
	Modified bool
	Go       string
}

// Read returns this binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "dev"}
	}
	return From(bi)
}

// From extracts Info from Go's build information.
func From(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	if in.Version == "" || in.Version == "(devel)" {
		in.Version = "dev"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.time":
			in.Date, _ = time.Parse(time.RFC3339, s.Value)
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// stampHint says how a build gets its commit and date.
const stampHint = "build it with 'go build -buildvcs=true ./cmd/fieldlink' in a git checkout, or use the package, which is stamped"

// String is the line `fieldlink --version` prints.
func (in Info) String() string {
	s := "fieldlink " + in.Version
	if in.Commit != "" {
		c := in.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (commit " + c
		if in.Modified {
			s += ", modified"
		}
		if !in.Date.IsZero() {
			s += ", " + in.Date.UTC().Format("2006-01-02")
		}
		s += ")"
	} else {
		// Said, so that a bug report is not filed against "dev".
		s += " (unknown commit: built without version control information; " + stampHint + ")"
	}
	if in.Go != "" {
		s += " " + in.Go
	}
	return s
}

// Debian turns a Go module version into a Debian upstream version that
// sorts the same way: v1.2.0 -> 1.2.0, v1.3.0-rc.1 -> 1.3.0~rc.1,
// v0.0.0-20261130094734-a3cf6a3bb0e0 -> 0.0.0~20261130094734.a3cf6a3bb0e0,
// and a build without version information -> 0.0.0~dev.
func Debian(version string) (string, error) {
	v, ok := strings.CutPrefix(version, "v")
	if !ok || v == "" || v[0] < '0' || v[0] > '9' {
		if version == "dev" {
			return "0.0.0~dev", nil
		}
		return "", fmt.Errorf("%q is not a Go module version", version)
	}
	build := ""
	if i := strings.IndexByte(v, '+'); i >= 0 {
		v, build = v[:i], v[i:]
	}
	// A pre-release or pseudo-version sorts before its release: "~" in
	// Debian; the rest of its dashes become dots (a dash would start the
	// Debian revision).
	if i := strings.IndexByte(v, '-'); i >= 0 {
		v = v[:i] + "~" + strings.ReplaceAll(v[i+1:], "-", ".")
	}
	out := v + build
	for _, r := range out {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune(".+~", r)) {
			return "", fmt.Errorf("%q: %q cannot be in a Debian version", version, r)
		}
	}
	return out, nil
}
