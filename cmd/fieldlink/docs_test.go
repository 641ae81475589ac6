package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

// helpFlags lists the flags a command's --help prints.
func helpFlags(t *testing.T, path string) []string {
	t.Helper()
	args := append(strings.Fields(path), "--help")
	out, _, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d", args, code)
	}
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`).FindAllStringSubmatch(out, -1) {
		flags = append(flags, m[1])
	}
	if len(flags) == 0 && path != "config check" {
		t.Fatalf("%v prints no flags:\n%s", args, out)
	}
	return flags
}

// TestDocsFollowHelp: the manual page and the three shell completions
// name every command and every flag that --help prints, because they are
// made from the same flag sets; the page is valid roff and the scripts
// valid in their shells.
func TestDocsFollowHelp(t *testing.T) {
	man, _, code := runCLI(t, "help", "--man")
	if code != 0 || !strings.HasPrefix(man, ".TH FIELDLINK 1") {
		t.Fatalf("help --man: exit %d %.80q", code, man)
	}
	scripts := map[string]string{}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out, stderr, code := runCLI(t, "completion", sh)
		if code != 0 {
			t.Fatalf("completion %s: %s", sh, stderr)
		}
		scripts[sh] = out
	}
	for _, c := range commands {
		if c.path == "version" || c.path == "completion" || c.path == "help" {
			continue
		}
		if !strings.Contains(man, ".SS "+roff(c.synopsis)) {
			t.Errorf("the manual has no section for %q", c.synopsis)
		}
		for _, f := range helpFlags(t, c.path) {
			if !strings.Contains(man, `\-\-`+roff(f)) {
				t.Errorf("the manual lacks --%s of %q", f, c.path)
			}
			for sh, s := range scripts {
				if !strings.Contains(s, "--"+f) && !strings.Contains(s, "-l "+f) {
					t.Errorf("the %s completion lacks --%s of %q", sh, f, c.path)
				}
			}
		}
	}
	dir := t.TempDir()
	for name, body := range map[string]string{"fieldlink.1": man, "fieldlink.bash": scripts["bash"], "_fieldlink": scripts["zsh"], "fieldlink.fish": scripts["fish"]} {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	// The bash completion completes.
	script := `source ` + filepath.Join(dir, "fieldlink.bash") + `
t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=(); _fieldlink; echo "${COMPREPLY[*]}"; }
t fieldlink jou; t fieldlink journal ""; t fieldlink --config x.toml sta; t fieldlink status --js; t fieldlink completion f`
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil || string(out) != "journal\nexport import check path sync\nstatus\n--json\nfish\n" {
		t.Fatalf("bash completion: %v\n%s", err, out)
	}
	// Flag values: the formats, the built-in scenarios.
	values := `source ` + filepath.Join(dir, "fieldlink.bash") + `
t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=(); _fieldlink; echo "${COMPREPLY[*]}"; }
t fieldlink report --format ""; t fieldlink journal export --format ""; t fieldlink --scenario cap`
	if out, err := exec.Command("bash", "-c", values).CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "table csv json html\nndjson csv\ncaptive-portal") {
		t.Fatalf("bash completion of flag values: %v\n%s", err, out)
	}
	for _, section := range []string{".SH FILES", ".SH ENVIRONMENT", ".SH EXAMPLES", "FIELDLINK_RUNTIME_DIR", "NO_COLOR"} {
		if !strings.Contains(man, section) {
			t.Errorf("the manual lacks %s", section)
		}
	}
	integration.NeedCommands(t, "groff", "zsh", "fish")
	var stderr bytes.Buffer
	cmd := exec.Command("groff", "-man", "-ww", "-z", filepath.Join(dir, "fieldlink.1"))
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("the manual page is not clean roff: %v\n%s", err, stderr.String())
	}
	if out, err := exec.Command("zsh", "-n", filepath.Join(dir, "_fieldlink")).CombinedOutput(); err != nil {
		t.Fatalf("zsh completion: %v\n%s", err, out)
	}
	// Sourced as well as autoloaded (finding: source <(fieldlink
	// completion zsh) failed with _tags:comptry:55).
	sourced := exec.Command("zsh", "-c", "autoload -U compinit; compinit -u -d "+filepath.Join(dir, "zcompdump")+"; source "+filepath.Join(dir, "_fieldlink")+"; print ${_comps[fieldlink]}")
	if out, err := sourced.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "_fieldlink" {
		t.Fatalf("zsh completion sourced: %v\n%s", err, out)
	}
	fish := exec.Command("fish", "-c", "source "+filepath.Join(dir, "fieldlink.fish")+`; complete -C "fieldlink journal "; complete -C "fieldlink status --js"; complete -C "fieldlink report --format j"`)
	if out, err := fish.CombinedOutput(); err != nil || !strings.Contains(string(out), "export\t") || !strings.Contains(string(out), "--json\t") || !strings.Contains(string(out), "json\t") {
		t.Fatalf("fish completion: %v\n%s", err, out)
	}
}

// TestVersion: --version and version say the same, from the build's own
// record of its commit.
func TestVersion(t *testing.T) {
	a, _, code := runCLI(t, "--version")
	b, _, code2 := runCLI(t, "version")
	if code != 0 || code2 != 0 || a != b || !strings.HasPrefix(a, "fieldlink ") {
		t.Fatalf("--version %q, version %q", a, b)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skip("not a git checkout: nothing to stamp a commit from")
	}
	bin := filepath.Join(t.TempDir(), "fieldlink")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.Contains(string(out), "(commit "+strings.TrimSpace(string(head))[:12]) || !strings.HasPrefix(string(out), "fieldlink v0.0.0-") && !strings.HasPrefix(string(out), "fieldlink v") {
		t.Fatalf("--version of a git build: %q %v", out, err)
	}
	deb, err := exec.Command(bin, "version", "--debian").Output()
	if err != nil || !regexp.MustCompile(`^[0-9][0-9A-Za-z.+~]*\n$`).Match(deb) {
		t.Fatalf("version --debian: %q %v", deb, err)
	}
}
