// Command fieldlink keeps a clinician's laptop connected and says, at a
// glance, whether they can work. This file only parses the command line and
// wires the backend to the chosen front end.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// errUsage marks errors already explained by a usage message.
var errUsage = errors.New("usage")

func main() {
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) int {
	err := dispatch(args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errAdminExit):
		return 3
	}
	fmt.Fprintln(stderr, "fieldlink: "+strings.TrimPrefix(err.Error(), "fieldlink: "))
	return 1
}

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return cmdStatus(args[1:], stdout, stderr)
		case "config":
			return cmdConfig(args[1:], stdout, stderr)
		case "apn":
			return cmdAPN(args[1:], stdout, stderr)
		case "daemon":
			return cmdDaemon(args[1:], stdout, stderr)
		case "report":
			return cmdReport(args[1:], stdout, stderr)
		case "journal":
			return cmdJournal(args[1:], stdout, stderr)
		case "serve":
			return cmdServe(args[1:], stdout, stderr)
		case "version", "--version", "-version":
			return cmdVersion(args[1:], stdout, stderr)
		case "completion":
			return cmdCompletion(args[1:], stdout, stderr)
		case "help":
			if len(args) > 1 && (args[1] == "--man" || args[1] == "-man") {
				return writeMan(stdout)
			}
			if len(args) > 1 {
				return dispatch(append(args[1:], "--help"), stdout, stderr)
			}
			return cmdTUI([]string{"--help"}, stdout, stderr)
		}
		if !strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(stderr, "fieldlink: unknown command %q\n\nRun 'fieldlink --help' for the commands.\n", args[0])
			return errUsage
		}
	}
	return cmdTUI(args, stdout, stderr)
}

// parse parses flags, printing usage to stdout when asked for it and to
// stderr on errors.
// usageLine is the "Usage: ..." line of a command's help, or one made
// from its name.
func usageLine(head, name string) string {
	for _, l := range strings.Split(head, "\n") {
		if strings.HasPrefix(l, "Usage: ") {
			return l
		}
	}
	return "Usage: " + name + " [command] [flags]"
}

func parse(fs *flag.FlagSet, args []string, head string, stdout, stderr io.Writer) error {
	if docCapture != nil {
		docCapture(fs, head)
		return errDocs
	}
	out, help := stderr, false
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			out, help = stdout, true
		}
	}
	fs.SetOutput(out)
	fs.Usage = func() {
		if help {
			fmt.Fprint(out, head)
			fs.PrintDefaults()
			return
		}
		// A mistake gets its own line (the flag package's, above) and
		// two more, so that it stays on an 80x24 screen.
		fmt.Fprintf(out, "%s\nRun '%s --help' for the flags.\n", usageLine(head, fs.Name()), fs.Name())
	}
	// Flags may come after the arguments they go with ("journal import
	// all.ndjson --db fleet.db"): Go's flag package would stop at the first
	// argument and leave the rest as arguments, so that a command acted
	// on half its command line. Parse every flag wherever it stands; "--"
	// ends the flags.
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage
		}
		left := fs.Args()
		if used := len(rest) - len(left); used > 0 && rest[used-1] == "--" {
			positional = append(positional, left...)
			break
		}
		if len(left) == 0 {
			break
		}
		positional = append(positional, left[0])
		rest = left[1:]
	}
	// Leave the positional arguments as the flag set's own.
	return fs.Parse(append([]string{"--"}, positional...))
}
