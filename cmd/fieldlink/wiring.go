package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fieldlink/fieldlink/backend/charge"
	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/mm"
	"github.com/fieldlink/fieldlink/backend/sim"
	"github.com/fieldlink/fieldlink/backend/system"
)

// common are the flags every front end shares.
type common struct {
	demo     bool
	scenario string
	speed    float64
	config   string
	stateDir string
	ascii    bool
	db       string
	// noProbe leaves probing to NetworkManager's connectivity check: for
	// tests on fake daemons, whose interfaces do not exist.
	noProbe bool
	// kiosk is set by the TUI's --kiosk.
	kiosk bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.demo, "demo", false, "run on the built-in "+sim.DefaultScenario+" scenario (simulated data, marked DEMO)")
	fs.StringVar(&c.scenario, "scenario", "", "run on a scenario: a file, or a built-in name ("+joinNames()+")")
	fs.Float64Var(&c.speed, "speed", 1, "play the scenario timeline this many times faster")
	fs.StringVar(&c.config, "config", "", "config file (default: $XDG_CONFIG_HOME/fieldlink/config.toml, then /etc/fieldlink/config.toml; only the latter as root or in kiosk mode)")
	fs.StringVar(&c.stateDir, "state-dir", "", "state directory for the journal (default: $XDG_STATE_HOME/fieldlink, or /var/lib/fieldlink as root)")
	fs.BoolVar(&c.ascii, "ascii", false, "ASCII glyphs only (automatic on TERM=linux or a non-UTF-8 locale)")
	fs.StringVar(&c.db, "db", "", "the journal (default: journal.db in the state directory; demo-journal.db for demos)")
}

func joinNames() string {
	s := ""
	for i, n := range sim.BuiltinNames() {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

func (c *common) simulated() bool { return c.demo || c.scenario != "" }

// system reports whether this process is one others rely on: root (the
// service), or the kiosk. It then reads only the device's config and
// trusts from it only what root alone could have written.
func (c *common) system() bool { return os.Geteuid() == 0 || c.kiosk }

// loadConfig reads the config this process should, and drops what an
// untrusted file may not set (the string says what and why).
func (c *common) loadConfig() (config.Config, string, error) {
	cfg, err := config.LoadFor(c.config, c.system())
	if err != nil {
		return cfg, "", err
	}
	if c.system() {
		return cfg, cfg.Restrict(), nil
	}
	return cfg, "", nil
}

// checkSpeed refuses a --speed that would stall the scenario clock.
func (c *common) checkSpeed() error {
	if math.IsNaN(c.speed) || math.IsInf(c.speed, 0) || c.speed <= 0 || c.speed > 10000 {
		return fmt.Errorf("--speed %g: want a number between 0 and 10000", c.speed)
	}
	return nil
}

// source builds the network source: a scenario, or this device.
func (c *common) source(cfg config.Config) (engine.Source, error) {
	if err := c.checkSpeed(); err != nil {
		return nil, err
	}
	if !c.simulated() {
		src, err := system.New(system.Options{
			Timeout: cfg.DBus.Timeout.D(),
			Modem:   mm.Options{SignalRate: cfg.Cellular.SignalRate.D(), Location3GPP: cfg.Cellular.Location, GPS: cfg.Cellular.GPS},
		})
		if err != nil {
			return nil, fmt.Errorf("%w; 'fieldlink --demo' runs without one", err)
		}
		return src, nil
	}
	sc, err := c.loadScenario()
	if err != nil {
		return nil, err
	}
	return sim.New(sc, sim.Options{Speed: c.speed}), nil
}

// setup loads the config and builds the source; an untrusted config's
// refused sections come back as a warning.
func (c *common) setup() (config.Config, engine.Source, string, error) {
	cfg, warn, err := c.loadConfig()
	if err != nil {
		return cfg, nil, "", err
	}
	src, err := c.source(cfg)
	return cfg, src, warn, err
}

// waitForSource is source for the kiosk, which may start before the
// system bus is up at boot: it waits for the bus instead of giving up,
// telling say once. (With the bus up and NetworkManager not yet, the
// screen itself says so and fieldlink picks NetworkManager up when it
// comes.)
func (c *common) waitForSource(ctx context.Context, cfg config.Config, say func(string)) (engine.Source, error) {
	said := false
	for {
		src, err := c.source(cfg)
		if err == nil || c.simulated() || !errors.Is(err, system.ErrNoBus) {
			return src, err
		}
		if !said {
			say("fieldlink: waiting for the system bus (D-Bus) to start...")
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (c *common) loadScenario() (*sim.Scenario, error) {
	name := c.scenario
	if name == "" {
		name = sim.DefaultScenario
	}
	if _, err := os.Stat(name); err == nil {
		return sim.LoadFile(name)
	}
	sc, err := sim.Builtin(name)
	if err != nil && filepath.Ext(name) != "" {
		return nil, fmt.Errorf("scenario %s: no such file", name)
	}
	return sc, err
}

// stateDirectory is where the journal (and, for demos and without the
// D-Bus policy, the lock) live. As root, system paths only: XDG_STATE_HOME
// is one account's setting and may point anywhere.
func (c *common) stateDirectory() (string, error) {
	if c.stateDir != "" {
		return c.stateDir, nil
	}
	if testStateDir != "" {
		return testStateDir, nil
	}
	if os.Geteuid() == 0 {
		return "/var/lib/fieldlink", nil
	}
	if x := os.Getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "fieldlink"), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: set --state-dir or XDG_STATE_HOME (%w)", err)
	}
	return filepath.Join(h, ".local", "state", "fieldlink"), nil
}

// testStateDir stands in for the default state directory in this
// package's tests (set by TestMain only).
var testStateDir string

// safeStateDirectory is stateDirectory, created (0700) if need be, and
// refused when another account could tamper with what fieldlink writes
// there (a planted link would have root write wherever it points).
func (c *common) safeStateDirectory() (string, error) {
	dir, err := c.stateDirectory()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	return dir, checkStateDir(dir)
}

func checkStateDir(dir string) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if st.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("state directory %s is a symbolic link: refused", dir)
	}
	if !st.IsDir() {
		return fmt.Errorf("state directory %s is not a directory", dir)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("state directory %s: cannot tell its owner", dir)
	}
	if int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("state directory %s belongs to uid %d, not to this account (uid %d): refused", dir, sys.Uid, os.Geteuid())
	}
	writable := st.Mode().Perm() & 0o002
	if os.Geteuid() == 0 {
		writable = st.Mode().Perm() & 0o022
	}
	if writable != 0 {
		return fmt.Errorf("state directory %s can be written by other accounts (mode %04o): refused; chmod go-w it", dir, st.Mode().Perm())
	}
	return nil
}

// claim takes charge of the device, or finds who has it: see package
// charge. Demos claim only their own per-account lock.
func (c *common) claim(ctx context.Context, mode string) (*charge.Claim, error) {
	dir, err := c.safeStateDirectory()
	if err != nil {
		return nil, err
	}
	return charge.Take(ctx, charge.Options{StateDir: dir, Mode: mode, Demo: c.simulated()})
}
