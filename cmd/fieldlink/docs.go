package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/fieldlink/fieldlink/backend/buildstamp"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/sim"
)

// command is one of fieldlink's commands. The root --help, the manual page
// and the shell completions are all made from this list and from each
// command's own flag set, captured where its --help is printed, so that
// none of them can drift from --help.
type command struct {
	path     string // "status", "journal export"; "" for the screen itself
	synopsis string
	summary  string
}

var commands = []command{
	{"", "fieldlink [flags]", "full-screen traffic light on this device (--demo: on a built-in scenario; --kiosk: on the boot console)"},
	{"status", "fieldlink status [flags]", "one snapshot as a table (or --json, --watch)"},
	{"daemon", "fieldlink daemon [flags]", "the system service in charge: probe, fail over, keep the VPN up, journal"},
	{"report", "fieldlink report [flags]", "operators, areas, visits: where signal is workable"},
	{"journal export", "fieldlink journal export [flags]", "the on-device record for the fleet (NDJSON, or CSV for spreadsheets)"},
	{"journal import", "fieldlink journal import [flags] FILE...", "merge exports (from many devices) into a journal"},
	{"journal check", "fieldlink journal check [flags]", "integrity check and row counts"},
	{"journal path", "fieldlink journal path [flags]", "where the journal is"},
	{"journal sync", "fieldlink journal sync [flags]", "send what changed to the fleet server now, and say what was sent"},
	{"serve", "fieldlink serve [flags]", "the fleet server: devices' journals into PostgreSQL, the fleet report in a browser"},
	{"serve enroll", "fieldlink serve enroll [flags] NAME", "a device's upload token"},
	{"serve viewer", "fieldlink serve viewer [flags] NAME", "a sign-in link to the fleet report"},
	{"serve devices", "fieldlink serve devices [flags]", "enrolled devices and their last upload"},
	{"config check", "fieldlink config check [flags] [FILE]", "validate a config and print effective values"},
	{"apn", "fieldlink apn [flags]", "the SIM's APN; create a mobile data profile"},
	{"version", "fieldlink version", "version, commit and commit date (also --version)"},
	{"completion", "fieldlink completion bash|zsh|fish", "a shell completion script"},
	{"help", "fieldlink help [COMMAND] | help --man", "help for a command; --man: this manual page in roff"},
}

// rootUsage is the screen's --help: what fieldlink is, then every command.
func rootUsage() string {
	var b strings.Builder
	b.WriteString("fieldlink: is this laptop's connection good enough to work?\n\nUsage:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-40s %s\n", c.synopsis, c.summary)
	}
	b.WriteString("\nRun 'fieldlink COMMAND --help' for a command's flags.\n\nFlags:\n")
	return b.String()
}

// docCapture, when set, receives a command's flag set and help text in
// place of parsing: see captureCommand.
var docCapture func(fs *flag.FlagSet, head string)

var errDocs = errors.New("captured for the documentation")

// captured is one command's help, as --help prints it.
type captured struct {
	command
	head  string
	flags []*flag.Flag
}

// captureCommand runs a command only as far as its flag parsing, and
// returns the flag set and help text it would print for --help.
func captureCommand(c command) (captured, error) {
	out := captured{command: c}
	docCapture = func(fs *flag.FlagSet, head string) {
		out.head = head
		fs.VisitAll(func(f *flag.Flag) { out.flags = append(out.flags, f) })
	}
	defer func() { docCapture = nil }()
	var args []string
	if c.path != "" {
		args = strings.Fields(c.path)
	}
	err := dispatch(append(args, "--help"), io.Discard, io.Discard)
	if !errors.Is(err, errDocs) {
		return out, fmt.Errorf("fieldlink %s: its help could not be captured (%v)", c.path, err)
	}
	return out, nil
}

func captureAll() ([]captured, error) {
	var all []captured
	for _, c := range commands {
		if c.path == "version" || c.path == "completion" || c.path == "help" {
			all = append(all, captured{command: c})
			continue
		}
		cc, err := captureCommand(c)
		if err != nil {
			return nil, err
		}
		all = append(all, cc)
	}
	return all, nil
}

// description is a command's help text without its usage line and the
// trailing "Flags:" heading.
func (c captured) description() string {
	lines := strings.Split(strings.TrimRight(c.head, "\n"), "\n")
	var out []string
	for i, l := range lines {
		if i == 0 && (strings.HasPrefix(l, "Usage:") || strings.HasPrefix(l, "fieldlink:")) {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(l), "Flags") && strings.HasSuffix(strings.TrimSpace(l), ":") {
			continue
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// takesValue reports whether a flag takes a value (is not a switch).
func takesValue(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// fileFlag reports whether a flag's value is a path, for completion.
func fileFlag(f *flag.Flag) bool {
	switch f.Name {
	case "config", "db", "output", "scenario", "state-dir":
		return true
	}
	return false
}

const versionUsage = `Usage: fieldlink version

Prints the version, the commit and its date, as the build stamped them
(fieldlink --version prints the same). --debian prints the version a
Debian package of this build carries.
`

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink version", flag.ContinueOnError)
	deb := fs.Bool("debian", false, "print the Debian package version of this build")
	if err := parse(fs, args, versionUsage+"\nFlags:\n", stdout, stderr); err != nil {
		return err
	}
	in := buildstamp.Read()
	if *deb {
		v, err := buildstamp.Debian(in.Version)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, v)
		return nil
	}
	fmt.Fprintln(stdout, in)
	return nil
}

const completionUsage = `Usage: fieldlink completion bash|zsh|fish

Prints a completion script for the shell: commands, subcommands and
flags (with file names where a flag takes a path). The package installs
them; by hand:
  fieldlink completion bash > /etc/bash_completion.d/fieldlink
  fieldlink completion zsh  > "${fpath[1]}/_fieldlink"
  fieldlink completion fish > ~/.config/fish/completions/fieldlink.fish
`

func cmdCompletion(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink completion", flag.ContinueOnError)
	if err := parse(fs, args, completionUsage+"\nFlags:\n", stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	all, err := captureAll()
	if err != nil {
		return err
	}
	switch fs.Arg(0) {
	case "bash":
		return writeBash(stdout, all)
	case "zsh":
		return writeZsh(stdout, all)
	case "fish":
		return writeFish(stdout, all)
	}
	return fmt.Errorf("completion %q: want bash, zsh or fish", fs.Arg(0))
}

// subcommands maps each command path to the words that may follow it.
func subcommands(all []captured) map[string][]string {
	next := map[string][]string{}
	for _, c := range all {
		words := strings.Fields(c.path)
		for i := range words {
			parent := strings.Join(words[:i], " ")
			w := words[i]
			seen := false
			for _, x := range next[parent] {
				seen = seen || x == w
			}
			if !seen {
				next[parent] = append(next[parent], w)
			}
		}
	}
	return next
}

func writeBash(w io.Writer, all []captured) error {
	var b strings.Builder
	b.WriteString("# bash completion for fieldlink (generated by 'fieldlink completion bash')\n")
	b.WriteString("_fieldlink() {\n\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} path='' i w skip=0\n")
	// Flags that take a value: their value is not a subcommand.
	vals := map[string]bool{}
	files := map[string]bool{}
	for _, c := range all {
		for _, f := range c.flags {
			if takesValue(f) {
				vals["--"+f.Name] = true
			}
			if fileFlag(f) {
				files["--"+f.Name] = true
			}
		}
	}
	b.WriteString("\tfor ((i = 1; i < COMP_CWORD; i++)); do\n\t\tw=${COMP_WORDS[i]}\n")
	b.WriteString("\t\tif ((skip)); then skip=0; continue; fi\n\t\tcase $w in\n")
	fmt.Fprintf(&b, "\t\t%s) skip=1 ;;\n", strings.Join(sortedKeys(vals), "|"))
	b.WriteString("\t\t-*) ;;\n\t\t*) path=\"${path:+$path }$w\" ;;\n\t\tesac\n\tdone\n")
	b.WriteString("\tcase \"${path:+$path }$prev\" in\n")
	for _, c := range all {
		for _, f := range c.flags {
			if vals := flagValues(c.path, f); len(vals) > 0 {
				extra := ""
				if fileFlag(f) {
					extra = "; COMPREPLY+=($(compgen -f -- \"$cur\"))"
				}
				fmt.Fprintf(&b, "\t%q) COMPREPLY=($(compgen -W %q -- \"$cur\"))%s; return ;;\n", strings.TrimSpace(c.path+" --"+f.Name), strings.Join(vals, " "), extra)
			}
		}
	}
	b.WriteString("\tesac\n")
	fmt.Fprintf(&b, "\tcase $prev in\n\t%s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", strings.Join(sortedKeys(files), "|"))
	b.WriteString("\tesac\n\tlocal words\n\tcase $path in\n")
	next := subcommands(all)
	for _, c := range all {
		var words []string
		words = append(words, next[c.path]...)
		for _, f := range c.flags {
			words = append(words, "--"+f.Name)
		}
		if c.path == "completion" {
			words = append(words, "bash", "zsh", "fish")
		}
		fmt.Fprintf(&b, "\t%q) words=%q ;;\n", c.path, strings.Join(words, " "))
	}
	for parent, kids := range next {
		if !hasPath(all, parent) {
			fmt.Fprintf(&b, "\t%q) words=%q ;;\n", parent, strings.Join(kids, " "))
		}
	}
	b.WriteString("\t*) words='' ;;\n\tesac\n")
	b.WriteString("\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n")
	b.WriteString("\tif [[ $path == \"journal import\" || $path == \"config check\" ]] && [[ $cur != -* ]]; then COMPREPLY+=($(compgen -f -- \"$cur\")); fi\n}\n")
	b.WriteString("complete -F _fieldlink fieldlink\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func hasPath(all []captured, p string) bool {
	for _, c := range all {
		if c.path == p {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// flagValues are the words a flag's value may be, for the completions:
// the report's and the export's formats, the built-in scenarios (a file
// is also taken), the shells.
func flagValues(path string, f *flag.Flag) []string {
	switch {
	case f.Name == "format" && path == "report":
		return []string{"table", "csv", "json", "html"}
	case f.Name == "format" && path == "journal export":
		return []string{"ndjson", "csv"}
	case f.Name == "scenario":
		return sim.BuiltinNames()
	case f.Name == "records":
		return journal.RecordTypes()
	}
	return nil
}

// zshQuote escapes a description for _arguments and _describe.
func zshQuote(s string) string {
	s = strings.NewReplacer("'", "'\\''", "[", "\\[", "]", "\\]", ":", "\\:").Replace(s)
	return s
}

func writeZsh(w io.Writer, all []captured) error {
	var b strings.Builder
	b.WriteString("#compdef fieldlink\n# zsh completion for fieldlink (generated by 'fieldlink completion zsh')\n\n")
	b.WriteString("_fieldlink() {\n\tlocal -a path_words\n\tlocal i w\n")
	b.WriteString("\tfor ((i = 2; i < CURRENT; i++)); do\n\t\tw=${words[i]}\n\t\t[[ $w == -* ]] && continue\n")
	b.WriteString("\t\t[[ ${words[i-1]} == --(" + valueFlagAlternation(all) + ") ]] && continue\n")
	b.WriteString("\t\tpath_words+=($w)\n\tdone\n\tcase \"${(j: :)path_words}\" in\n")
	next := subcommands(all)
	summary := map[string]string{}
	for _, c := range all {
		summary[c.path] = c.summary
	}
	emit := func(path string, c *captured) {
		fmt.Fprintf(&b, "\t%q)\n", path)
		var kids []string
		for _, k := range next[path] {
			full := strings.TrimSpace(path + " " + k)
			d := summary[full]
			if d == "" {
				d = k + " commands"
			}
			kids = append(kids, fmt.Sprintf("'%s:%s'", k, zshQuote(d)))
		}
		if c != nil && c.path == "completion" {
			kids = append(kids, "'bash:bash'", "'zsh:zsh'", "'fish:fish'")
		}
		var args []string
		if c != nil {
			for _, f := range c.flags {
				spec := "'--" + f.Name
				if takesValue(f) {
					spec += "=[" + zshQuote(firstLine(f.Usage)) + "]:" + f.Name
					switch vals := flagValues(path, f); {
					case len(vals) > 0 && fileFlag(f):
						spec += `:{_alternative "names:built-in name:(` + strings.Join(vals, " ") + `)" "files:file:_files"}`
					case len(vals) > 0:
						spec += ":(" + strings.Join(vals, " ") + ")"
					case fileFlag(f):
						spec += ":_files"
					default:
						spec += ": "
					}
				} else {
					spec += "[" + zshQuote(firstLine(f.Usage)) + "]"
				}
				args = append(args, spec+"'")
			}
		}
		if len(kids) > 0 {
			b.WriteString("\t\tlocal -a sub=(" + strings.Join(kids, " ") + ")\n")
			args = append(args, "'*::command:->sub'")
			fmt.Fprintf(&b, "\t\t_arguments -s %s && return\n", strings.Join(args, " "))
			b.WriteString("\t\t_describe 'command' sub\n\t\t;;\n")
			return
		}
		if path == "journal import" || path == "config check" {
			args = append(args, "'*:file:_files'")
		}
		fmt.Fprintf(&b, "\t\t_arguments -s %s\n\t\t;;\n", strings.Join(args, " "))
	}
	for i := range all {
		emit(all[i].path, &all[i])
	}
	for parent := range next {
		if !hasPath(all, parent) {
			emit(parent, nil)
		}
	}
	// Autoloaded from $fpath it completes; sourced (source <(fieldlink
	// completion zsh)) it registers itself instead of running outside a
	// completion.
	b.WriteString("\tesac\n}\n\nif [[ $funcstack[1] == _fieldlink ]]; then\n\t_fieldlink \"$@\"\nelse\n\tcompdef _fieldlink fieldlink\nfi\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func valueFlagAlternation(all []captured) string {
	vals := map[string]bool{}
	for _, c := range all {
		for _, f := range c.flags {
			if takesValue(f) {
				vals[f.Name] = true
			}
		}
	}
	return strings.Join(sortedKeys(vals), "|")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func writeFish(w io.Writer, all []captured) error {
	var b strings.Builder
	b.WriteString("# fish completion for fieldlink (generated by 'fieldlink completion fish')\n")
	b.WriteString("complete -c fieldlink -f\n")
	next := subcommands(all)
	summary := map[string]string{}
	for _, c := range all {
		summary[c.path] = c.summary
	}
	// cond is true when the words typed so far (flags aside) are exactly path.
	cond := func(path string) string {
		if path == "" {
			return "__fish_use_subcommand"
		}
		words := strings.Fields(path)
		c := "__fish_seen_subcommand_from " + words[0]
		if len(words) > 1 {
			c += "; and __fish_seen_subcommand_from " + words[1]
		} else if kids := next[path]; len(kids) > 0 {
			c += "; and not __fish_seen_subcommand_from " + strings.Join(kids, " ")
		}
		return c
	}
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "\\'") + "'" }
	paths := []string{""}
	for _, c := range all {
		if c.path != "" {
			paths = append(paths, c.path)
		}
	}
	for parent := range next {
		if !hasPath(all, parent) {
			paths = append(paths, parent)
		}
	}
	for _, p := range paths {
		for _, k := range next[p] {
			d := summary[strings.TrimSpace(p+" "+k)]
			if d == "" {
				d = k + " commands"
			}
			fmt.Fprintf(&b, "complete -c fieldlink -n %s -a %s -d %s\n", quote(cond(p)), k, quote(d))
		}
	}
	for _, c := range all {
		for _, f := range c.flags {
			line := fmt.Sprintf("complete -c fieldlink -n %s -l %s -d %s", quote(cond(c.path)), f.Name, quote(firstLine(f.Usage)))
			if takesValue(f) {
				line += " -r"
				if fileFlag(f) {
					line += " -F"
				}
				if vals := flagValues(c.path, f); len(vals) > 0 {
					if !fileFlag(f) {
						line += " -f" // these words only
					}
					line += " -a " + quote(strings.Join(vals, " "))
				}
			}
			b.WriteString(line + "\n")
		}
		if c.path == "completion" {
			fmt.Fprintf(&b, "complete -c fieldlink -n %s -a 'bash zsh fish'\n", quote(cond(c.path)))
		}
		if c.path == "journal import" || c.path == "config check" {
			fmt.Fprintf(&b, "complete -c fieldlink -n %s -F\n", quote(cond(c.path)))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMan writes fieldlink(1) in roff: every command with its flags, as
// --help has them.
func writeMan(w io.Writer) error {
	all, err := captureAll()
	if err != nil {
		return err
	}
	in := buildstamp.Read()
	date := ""
	if !in.Date.IsZero() {
		date = in.Date.UTC().Format("2006-01-02")
	}
	var b strings.Builder
	fmt.Fprintf(&b, ".TH FIELDLINK 1 %q %q \"User Commands\"\n", date, "fieldlink "+in.Version)
	b.WriteString(".SH NAME\nfieldlink \\- is this laptop's connection good enough to work?\n")
	b.WriteString(".SH SYNOPSIS\n")
	for _, c := range all {
		fmt.Fprintf(&b, ".B %s\n.br\n", roff(c.synopsis))
	}
	b.WriteString(".SH DESCRIPTION\n")
	b.WriteString(roffText("fieldlink keeps a clinician's laptop connected and says, at a glance, whether work can go over its network: " +
		"a traffic light (GO, MARGINAL, DO NOT PROCEED, in words and shapes as well as color), signal bars for every link, " +
		"failover between wired, Wi-Fi and cellular, the VPN and the clinical application brought up once the link is good, " +
		"and an offline journal of every connection for the fleet's reports."))
	b.WriteString(".SH COMMANDS\n")
	for _, c := range all {
		fmt.Fprintf(&b, ".SS %s\n", roff(c.synopsis))
		desc := c.description()
		if c.path == "" {
			desc = screenAbout
		}
		if desc == "" {
			desc = c.summary
		}
		b.WriteString(roffText(desc))
		for _, f := range c.flags {
			name, usage := flag.UnquoteUsage(f)
			b.WriteString(".TP\n")
			if name != "" {
				fmt.Fprintf(&b, ".BI \\-\\-%s \" %s\"\n", roff(f.Name), roff(name))
			} else {
				fmt.Fprintf(&b, ".B \\-\\-%s\n", roff(f.Name))
			}
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				usage += " (default " + f.DefValue + ")"
			}
			b.WriteString(roffLine(usage) + "\n")
		}
	}
	b.WriteString(manTail)
	_, err = io.WriteString(w, b.String())
	return err
}

// manTail is the manual's fixed sections: files, environment, examples,
// exit status, see also.
const manTail = `.SH FILES
.TP
.I /etc/fieldlink/config.toml
The device's configuration (see fieldlink config check). As root and in the kiosk, only a file owned by root that no one else can change may set [app], [kiosk] admin_keys and [technician]. Its [wifi] join (everyone, technicians or nobody) and allow_ssids decide who may join which Wi-Fi networks from a screen.
.TP
.I /var/lib/fieldlink/journal.db
The service's journal: sessions, samples, events and visits (no patient data).
.TP
.I /run/fieldlink/
The control socket that every fieldlink screen follows.
.TP
.I /usr/share/dbus-1/system.d/uk.nhs.fieldlink.conf
Only root may own uk.nhs.fieldlink, the name that puts a fieldlink in charge of the device.
.SH ENVIRONMENT
.TP
.B DBUS_SYSTEM_BUS_ADDRESS
The system bus NetworkManager and ModemManager are on (default the system's).
.TP
.B XDG_CONFIG_HOME
Where an account's own config is looked for ($XDG_CONFIG_HOME/fieldlink/config.toml); not read as root or in the kiosk.
.TP
.B XDG_STATE_HOME
An account's state directory ($XDG_STATE_HOME/fieldlink: its journal when it is in charge); root uses /var/lib/fieldlink.
.TP
.B FIELDLINK_RUNTIME_DIR
Where the control sockets are (default /run/fieldlink).
.TP
.B FIELDLINK_VIEWER_TOKEN
A fleet viewer's token for fieldlink report \-\-server, instead of \-\-token\-file.
.TP
.B TERM, NO_COLOR
TERM=linux draws with the console's 8 colors and ASCII shapes; NO_COLOR draws no color (the verdict is always in words and shapes too).
.TP
.B SSH_CONNECTION
Set by ssh: the clinical application is not started on a screen over SSH.
.TP
.B PGPASSFILE, PGPASSWORD
The fleet database's password for fieldlink serve (better a file than the URL).
.SH EXAMPLES
.TP
.B fieldlink \-\-demo
The screen on a built-in scenario, on any machine.
.TP
.B fieldlink status \-\-watch \-\-json
One line of JSON a change, for a script or a technician.
.TP
.B fieldlink report \-\-since 30d
Which operators were workable, where, over the last 30 days.
.TP
.B sudo systemctl enable \-\-now fieldlink
The service in charge of the laptop; every screen is then its client.
.TP
.B fieldlink journal sync \-\-now
Send the journal to the fleet server now, and say what was sent.
.TP
.B fieldlink serve enroll tb\-nurse\-12 \-\-group "Community North"
On the fleet server: a laptop's upload token, shown once.
.SH EXIT STATUS
0 on success, 1 on an error (one line on standard error says what), 2 on a command line fieldlink does not understand, 3 when the kiosk is left by the admin key sequence.
.SH SEE ALSO
.BR nmcli (1),
.BR NetworkManager (8),
.BR ModemManager (8),
.BR systemctl (1)
`

// screenAbout is the manual's word on fieldlink without a command; its
// --help lists the commands instead.
const screenAbout = `The full-screen traffic light: the level of the link that carries the work
(GO, MARGINAL, DO NOT PROCEED), every link with its signal bars and figures,
the VPN, the clinical application, the visit in progress and what just
happened. Keys: up/down or j/k select a link, enter shows its every figure,
v marks arrival at and departure from a visit, r shows this device's report,
w lists the Wi-Fi networks in range and joins one (the key is asked by
NetworkManager, masked; [wifi] in the config says who may join which),
c connects the VPN, a starts the clinical application, ? helps, q quits.

With --demo (or --scenario) it plays a built-in scenario, marked DEMO on
every screen. With --kiosk it is the boot console's screen: no key quits
it but the admin sequence of the config, and the clinical application
starts by itself.

On a device with the fieldlink service, every screen is the service's
client: it shows the service's decisions, and the service carries out what
the account at the screen may ask (members of the fieldlink group mark
visits and connect the VPN; other accounts watch).`

// roff escapes text for a roff argument; characters beyond ASCII are
// written as groff's Unicode escapes, which every man viewer renders.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	var b strings.Builder
	for _, r := range s {
		if r > 0x7e {
			fmt.Fprintf(&b, `\[u%04X]`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// roffLine escapes one line of running text.
func roffLine(s string) string {
	s = roff(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffText turns help paragraphs into roff: blank lines are paragraph
// breaks, indented lines (examples, lists) are kept as they are.
func roffText(s string) string {
	var b strings.Builder
	inNF := false
	for _, l := range strings.Split(s, "\n") {
		switch {
		case strings.TrimSpace(l) == "":
			if inNF {
				b.WriteString(".fi\n")
				inNF = false
			}
			b.WriteString(".PP\n")
		case strings.HasPrefix(l, "  "):
			if !inNF {
				b.WriteString(".nf\n")
				inNF = true
			}
			b.WriteString(roffLine(l) + "\n")
		default:
			if inNF {
				b.WriteString(".fi\n")
				inNF = false
			}
			b.WriteString(roffLine(l) + "\n")
		}
	}
	if inNF {
		b.WriteString(".fi\n")
	}
	return b.String()
}
