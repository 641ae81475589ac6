package buildstamp

import (
	"runtime/debug"
	"testing"
)

func TestDebianVersionsSortLikeGoVersions(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.0":                             "1.2.0",
		"v1.3.0-rc.1":                        "1.3.0~rc.1",
		"v0.0.0-20261130094734-a3cf6a3bb0e0": "0.0.0~20261130094734.a3cf6a3bb0e0",
		"v1.2.1-0.20261130094734-a3cf6a3bb0e0+dirty": "1.2.1~0.20261130094734.a3cf6a3bb0e0+dirty",
		"dev": "0.0.0~dev",
	} {
		got, err := Debian(in)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1.2.0", "vX", "v1.2.0_bad"} {
		if _, err := Debian(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// dpkg's ordering: the pre-release before the release, the release
	// before the next commit's pseudo-version.
	order := []string{"0.0.0~dev", "1.3.0~rc.1", "1.3.0", "1.3.1~0.20261130094734.a3cf6a3bb0e0"}
	for i := 1; i < len(order); i++ {
		if compareDebian(order[i-1], order[i]) >= 0 {
			t.Errorf("%s should sort before %s", order[i-1], order[i])
		}
	}
}

// compareDebian is dpkg's upstream-version comparison, enough for the test.
func compareDebian(a, b string) int {
	order := func(c byte) int {
		switch {
		case c == '~':
			return -1
		case c >= '0' && c <= '9':
			return 0
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			return int(c)
		}
		return int(c) + 256
	}
	for a != "" || b != "" {
		for (a != "" && (a[0] < '0' || a[0] > '9')) || (b != "" && (b[0] < '0' || b[0] > '9')) {
			var ca, cb int
			if a != "" {
				ca = order(a[0])
			}
			if b != "" {
				cb = order(b[0])
			}
			if ca != cb {
				return ca - cb
			}
			a, b = a[1:], b[1:]
		}
		var na, nb int
		for a != "" && a[0] >= '0' && a[0] <= '9' {
			na, a = na*10+int(a[0]-'0'), a[1:]
		}
		for b != "" && b[0] >= '0' && b[0] <= '9' {
			nb, b = nb*10+int(b[0]-'0'), b[1:]
		}
		if na != nb {
			return na - nb
		}
	}
	return 0
}

func TestFromBuildInfo(t *testing.T) {
	in := From(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "a3cf6a3bb0e016ad26ddf6c69a847400e3207027"}, {Key: "vcs.time", Value: "2026-11-30T09:47:34Z"},
		{Key: "vcs.modified", Value: "true"}}})
	if s := in.String(); s != "fieldlink v1.2.0 (commit a3cf6a3bb0e0, modified, 2026-11-30) go1.26.8" {
		t.Fatalf("%q", s)
	}
	// A build with no stamp says so, and how to stamp one.
	if dev := From(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, GoVersion: "go1.26.8"}); dev.String() !=
		"fieldlink dev (unknown commit: built without version control information; "+stampHint+") go1.26.8" {
		t.Fatalf("%q", dev.String())
	}
}
