package fieldlink_test

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The module's rooms (README "How the code is laid out"): the device side,
// the fleet side and test support, plus the binary that wires them.
const module = "github.com/fieldlink/fieldlink"

type room string

const (
	device  room = "device"
	fleet   room = "fleet"
	testbed room = "testbed"
	binary  room = "binary"
)

// roomOf places a package by its path; a package that fits no room is a
// layout error in itself.
func roomOf(path string) room {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	switch {
	case rel == "" || strings.HasPrefix(rel, "cmd/"):
		return binary
	case strings.HasPrefix(rel, "backend/testbed/"):
		return testbed
	case strings.HasPrefix(rel, "backend/fleet/"):
		return fleet
	case strings.HasPrefix(rel, "backend/"), strings.HasPrefix(rel, "ui/"):
		return device
	}
	return ""
}

type pkg struct {
	path          string
	imports, deps []string
	dir           string
}

// listPackages runs go list over the module: each package's direct
// imports and its whole dependency set, both without test files, because
// the rules below are about what ships.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .Imports \" \"}}\t{{join .Deps \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			t.Fatalf("go list line %q", sc.Text())
		}
		pkgs = append(pkgs, pkg{path: f[0], dir: f[1], imports: strings.Fields(f[2]), deps: strings.Fields(f[3])})
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func ours(paths []string) []string {
	var o []string
	for _, p := range paths {
		if strings.HasPrefix(p, module+"/") || p == module {
			o = append(o, p)
		}
	}
	return o
}

// TestLayoutRooms checks the arrows between the rooms from go list: the
// device side never reaches the fleet's store or server; nothing outside
// test support reaches test support except from _test.go files; the
// device's upload client stays free of the server's code; every package
// sits in a room.
func TestLayoutRooms(t *testing.T) {
	fleetOnly := []string{module + "/backend/fleet/store", module + "/backend/fleet/server"}
	for _, p := range listPackages(t) {
		r := roomOf(p.path)
		if r == "" {
			t.Errorf("%s is in no room: device side under backend/ or ui/, fleet side under backend/fleet/, test support under backend/testbed/", p.path)
			continue
		}
		for _, d := range ours(p.deps) {
			switch {
			case roomOf(d) == testbed && r != testbed:
				t.Errorf("%s (%s side) depends on test support %s outside its _test.go files", p.path, r, d)
			case (r == device || p.path == module+"/backend/fleet/upload") && contains(fleetOnly, d):
				t.Errorf("%s runs on the device but depends on the fleet's %s", p.path, d)
			}
		}
	}
}

// TestLayoutDesignRules checks the DESIGN.md rules a reader relies on:
// the UI draws the engine's picture and never talks to NetworkManager,
// ModemManager or the journal itself; failover reads no clock and does no
// I/O, so its rules are table tests.
func TestLayoutDesignRules(t *testing.T) {
	pkgs := listPackages(t)
	banned := []string{module + "/backend/nm", module + "/backend/mm", module + "/backend/journal"}
	for _, p := range pkgs {
		if !strings.HasPrefix(p.path, module+"/ui/") {
			continue
		}
		for _, i := range p.imports {
			if contains(banned, i) {
				t.Errorf("%s imports %s: the UI watches the engine's snapshots instead", p.path, i)
			}
		}
	}
	for _, p := range pkgs {
		if p.path != module+"/backend/failover" {
			continue
		}
		for _, i := range p.imports {
			if !strings.Contains(i, ".") && !contains([]string{"fmt", "math", "sort", "slices", "strings", "time", "errors", "strconv"}, i) {
				t.Errorf("failover imports %s: it must stay pure (no I/O)", i)
			}
		}
		for _, call := range clockCalls(t, p.dir) {
			t.Errorf("failover reads the clock: %s", call)
		}
	}
}

// TestPackageNamesAreNotStandard keeps package names from shadowing the
// standard library (a package called sync or buildinfo reads as the
// standard one at every call site).
func TestPackageNamesAreNotStandard(t *testing.T) {
	out, err := exec.Command("go", "list", "std").Output()
	if err != nil {
		t.Fatal(err)
	}
	std := map[string]string{}
	for _, s := range strings.Fields(string(out)) {
		if strings.Contains(s, "internal") || strings.HasPrefix(s, "vendor/") {
			continue
		}
		std[filepath.Base(s)] = s
	}
	for _, p := range listPackages(t) {
		if s, ok := std[filepath.Base(p.path)]; ok && p.path != module {
			t.Errorf("%s has the name of the standard library's %s", p.path, s)
		}
	}
}

// TestFunctionsReadAsSteps keeps functions under 100 lines (as
// ../shared/tools/funclen counts them: from func to the closing brace), so
// that the top of each story reads as its named steps. A function that
// must be longer says why in a "//fieldlink:long why" line of its doc.
func TestFunctionsReadAsSteps(t *testing.T) {
	const limit = 100
	for _, root := range []string{"backend", "cmd", "ui"} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			fset := token.NewFileSet()
			af, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range af.Decls {
				fd, ok := decl.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
				if n > limit && !excused(fd.Doc) {
					t.Errorf("%s: %s is %d lines (over %d): split it into named steps, or say why in a //fieldlink:long line", fset.Position(fd.Pos()), fd.Name.Name, n, limit)
				}
			}
			return nil
		})
	}
}

func excused(doc *ast.CommentGroup) bool {
	if doc == nil {
		return false
	}
	for _, c := range doc.List {
		if why, ok := strings.CutPrefix(c.Text, "//fieldlink:long "); ok && strings.TrimSpace(why) != "" {
			return true
		}
	}
	return false
}

// clockCalls lists the places in a package's non-test files that read the
// clock or wait on it.
func clockCalls(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	var found []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "time" {
				switch sel.Sel.Name {
				case "Now", "Since", "Until", "Sleep", "After", "Tick", "NewTimer", "NewTicker", "AfterFunc":
					found = append(found, fset.Position(sel.Pos()).String()+": time."+sel.Sel.Name)
				}
			}
			return true
		})
	}
	sort.Strings(found)
	return found
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
