package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/fieldlink/fieldlink/backend/config"
)

const configUsage = `Usage: fieldlink config check [FILE]

Validates a config file (by default the one fieldlink would load:
$XDG_CONFIG_HOME/fieldlink/config.toml, then /etc/fieldlink/config.toml)
and prints the effective values, defaults filled in. Errors name the file
and line. Exit status 1 when the config is invalid.
`

func cmdConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return errUsage
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, configUsage)
		return flag.ErrHelp
	}
	if args[0] != "check" {
		fmt.Fprintf(stderr, "fieldlink config: unknown subcommand %q\n\n%s", args[0], configUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("fieldlink config check", flag.ContinueOnError)
	if err := parse(fs, args[1:], configUsage+"\nFlags:\n", stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return errUsage
	}
	cfg, err := config.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	out, err := cfg.Effective()
	if err != nil {
		return err
	}
	src := cfg.Path
	if src == "" {
		src = "no config file found; built-in defaults"
	}
	fmt.Fprintf(stdout, "# config OK: %s\n# effective values:\n\n%s", src, out)
	return nil
}
