package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/fieldlink/fieldlink/backend/config"
)

const configUsage = `Usage: fieldlink config check [FILE]

Validates a config file (by default the one fieldlink would load:
$XDG_CONFIG_HOME/fieldlink/config.toml, then /etc/fieldlink/config.toml;
as root, only the latter) and prints the effective values, defaults filled
in. Errors name the file and line. It also says whether the file may set
[app], [kiosk] admin_keys and [technician] for the service and the kiosk:
only a file owned by root, that no one else can change, may. Exit status
1 when the config is invalid, or when run as root on a file whose [app],
[kiosk] or [technician] the service would ignore.
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
	root := os.Geteuid() == 0
	cfg, err := config.LoadFor(fs.Arg(0), root)
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
	trust := "# trust: the service and the kiosk take all of it (owned by root, no one else can change it)\n"
	refused := cfg.Restrict()
	switch {
	case cfg.Path == "":
		trust = ""
	case refused != "":
		trust = "# trust: REFUSED in part as root and in the kiosk: " + refused + "\n"
	case cfg.Distrust() != "":
		trust = "# trust: " + cfg.Distrust() + ": as root and in the kiosk it could not set [app], [kiosk] admin_keys or [technician]\n"
	}
	fmt.Fprintf(stdout, "# config OK: %s\n%s# effective values:\n\n%s", src, trust, out)
	if refused != "" {
		fmt.Fprintln(stderr, "fieldlink: warning: "+refused)
		if root {
			return fmt.Errorf("%s: the service would ignore its [app], [kiosk] admin_keys and [technician]", cfg.Path)
		}
	}
	return nil
}
