package fieldlink_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// userFacing are the trees whose strings reach a clinician, a technician or
// IT: the screens, `status`, the reports (device and fleet), the events and
// the manual. Protocol text (SQL, AT commands, D-Bus names) lives elsewhere.
var userFacing = []string{"ui", "backend/status", "backend/report", "backend/netstate", "backend/engine",
	"backend/failover", "backend/vpn", "backend/launch", "backend/fleet/server", "cmd/fieldlink"}

// capitals finds words written in capitals, joined into phrases
// ("DO NOT PROCEED").
var capitals = regexp.MustCompile(`\b[A-Z][A-Z_/]*[A-Z](?: [A-Z][A-Z_/]*[A-Z])*\b`)

// notProse are literals that are code for another machine: SQL, shell.
var notProse = regexp.MustCompile(`\bSELECT |\$\{words|\bINSERT INTO |\bUPDATE \w+ SET |\bCREATE (TABLE|INDEX)|\bDELETE FROM | WHERE |COMPREPLY|compdef|complete -c`)

// sqlWords are a query's words, in fragments notProse cannot tell.
var sqlWords = regexp.MustCompile(`^((SUM|MAX|MIN|COUNT|AND|OR|IN|FROM|GROUP BY|ORDER BY|BETWEEN|AS|DESC|ASC|LIMIT|UNION ALL|SELECT|NOT NULL|ON CONFLICT|DO NOTHING|DO UPDATE SET|COALESCE|NULL|JOIN|LEFT JOIN|USING|CASE WHEN|THEN|ELSE|END|DISTINCT)( |$))+$`)

// placeholders are the README's metavariables and file names, which are
// capitals without being words on a screen.
var placeholders = []string{"DIR", "FILE:LINE:COL", "FILE:LINE", "FILE", "LINE:COL", "YYYY-MM-DD", "H:MM:SS", "M:SS", "LAT LON",
	"CIDR", "synchronous=NORMAL", "WAL", "THRESHOLDS.md", "DESIGN.md", "SSSD", "LDAP", "SIGQUIT"}

// roff are the manual's macros (.SH, .TP, \fB).
var roff = regexp.MustCompile(`(?m)^\.[A-Z]{1,2}\b|\\f[BIRP]`)

// retired are wordings the one table replaced: each once stood for a
// verdict or a state beside the table's word for it.
var retired = []string{"NO GO", "DNP", "G/A/R", "Level red", "Level green", "Level amber", "%G ", "%R "}

// TestVocabulary greps every user-facing string literal (and the README)
// against netstate's one table of words: a phrase in capitals is a verdict,
// a state or one of the listed capitals, or it is a new word for a state in
// disguise (finding: DO NOT PROCEED, NO GO, DOWN, "Level red", DNP% and
// G/A/R for three verdicts).
func TestVocabulary(t *testing.T) {
	known := map[string]bool{}
	for _, w := range slices.Concat(netstate.Verdicts, netstate.States, netstate.Capitals) {
		known[w] = true
	}
	check := func(where, s string) {
		if notProse.MatchString(s) {
			return
		}
		s = roff.ReplaceAllString(s, "")
		for _, old := range retired {
			if strings.Contains(s, old) {
				t.Errorf("%s: %q says %q, a retired wording", where, short(s), old)
			}
		}
		for _, phrase := range capitals.FindAllString(s, -1) {
			if strings.Contains(phrase, "_") || sqlWords.MatchString(phrase) {
				continue // an environment variable, a query
			}
			if !known[phrase] && !allKnown(known, phrase) {
				t.Errorf("%s: %q is not in netstate's table of words (words.go): %q", where, phrase, short(s))
			}
		}
	}
	n := 0
	for _, root := range userFacing {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			n += literals(t, path, check)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	fenced := false
	for i, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "## For developers") {
			break // what follows is for who builds fieldlink, not who uses it
		}
		for _, p := range placeholders {
			line = strings.ReplaceAll(line, p, "")
		}
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if !fenced && !strings.HasPrefix(line, "    ") {
			check("README.md:"+strconv.Itoa(i+1), line)
		}
	}
	if n < 500 {
		t.Fatalf("only %d string literals read: the walk is not reading the tree", n)
	}
}

// allKnown reports whether every word of a phrase is known on its own, as
// in "SIM PIN".
func allKnown(known map[string]bool, phrase string) bool {
	for _, w := range strings.FieldsFunc(phrase, func(r rune) bool { return r == ' ' || r == '/' }) {
		if !known[w] {
			return false
		}
	}
	return true
}

// literals calls check on each string literal of a Go file, with its
// file:line, and returns how many it read.
func literals(t *testing.T, path string, check func(where, s string)) int {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		lit, ok := node.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		n++
		check(fset.Position(lit.Pos()).String(), s)
		return true
	})
	return n
}

func short(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
