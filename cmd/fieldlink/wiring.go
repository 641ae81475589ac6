package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/lock"
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
}

func (c *common) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.demo, "demo", false, "run on the built-in "+sim.DefaultScenario+" scenario (simulated data, marked DEMO)")
	fs.StringVar(&c.scenario, "scenario", "", "run on a scenario: a file, or a built-in name ("+joinNames()+")")
	fs.Float64Var(&c.speed, "speed", 1, "play the scenario timeline this many times faster")
	fs.StringVar(&c.config, "config", "", "config file (default: $XDG_CONFIG_HOME/fieldlink/config.toml, then /etc/fieldlink/config.toml)")
	fs.StringVar(&c.stateDir, "state-dir", "", "state directory for the lock (default: $XDG_STATE_HOME/fieldlink, or /var/lib/fieldlink as root)")
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

// setup loads the config and builds the source.
func (c *common) setup() (config.Config, engine.Source, error) {
	cfg, err := config.Load(c.config)
	if err != nil {
		return cfg, nil, err
	}
	if c.speed <= 0 || c.speed > 10000 {
		return cfg, nil, fmt.Errorf("--speed %g: want a number between 0 and 10000", c.speed)
	}
	if !c.simulated() {
		src, err := system.New(system.Options{
			Timeout: cfg.DBus.Timeout.D(),
			Modem:   mm.Options{SignalRate: cfg.Cellular.SignalRate.D(), Location3GPP: cfg.Cellular.Location, GPS: cfg.Cellular.GPS},
		})
		if err != nil {
			return cfg, nil, fmt.Errorf("%w; 'fieldlink --demo' runs without one", err)
		}
		return cfg, src, nil
	}
	sc, err := c.loadScenario()
	if err != nil {
		return cfg, nil, err
	}
	return cfg, sim.New(sc, sim.Options{Speed: c.speed}), nil
}

// setupWaiting is setup for the kiosk, which may start before the system
// bus is up at boot: it waits for the bus instead of giving up, saying so
// on the console once. (With the bus up and NetworkManager not yet, the
// screen itself says so and fieldlink picks NetworkManager up when it
// comes.)
func (c *common) setupWaiting(stderr io.Writer) (config.Config, engine.Source, error) {
	said := false
	for {
		cfg, src, err := c.setup()
		if err == nil || c.simulated() || !errors.Is(err, system.ErrNoBus) {
			return cfg, src, err
		}
		if !said {
			fmt.Fprintln(stderr, "fieldlink: waiting for the system bus (D-Bus) to start...")
			said = true
		}
		time.Sleep(time.Second)
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

// stateDir is where the lock (and later the journal) live.
func (c *common) stateDirectory() (string, error) {
	if c.stateDir != "" {
		return c.stateDir, nil
	}
	if x := os.Getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "fieldlink"), nil
	}
	if os.Geteuid() == 0 {
		return "/var/lib/fieldlink", nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: set --state-dir or XDG_STATE_HOME (%w)", err)
	}
	return filepath.Join(h, ".local", "state", "fieldlink"), nil
}

// holder reports who is in charge, without taking charge.
func (c *common) holder() (string, error) {
	dir, err := c.stateDirectory()
	if err != nil {
		return "", err
	}
	h, held, err := lock.Probe(dir, c.lockName())
	if err != nil || !held {
		return "", err
	}
	return h.String(), nil
}

func (c *common) lockName() string {
	if c.simulated() {
		return "demo.lock"
	}
	return "lock"
}

// acquire takes the single-instance lock; failing that, this instance is an
// observer. Demos lock separately so that a demo never stands in for, or
// gets in the way of, the instance watching the real network.
func (c *common) acquire(mode string) (*lock.Lock, engine.Role, string, error) {
	dir, err := c.stateDirectory()
	if err != nil {
		return nil, engine.Holder, "", err
	}
	l, h, err := lock.Acquire(dir, c.lockName(), mode)
	if errors.Is(err, lock.ErrHeld) {
		return nil, engine.Observer, h.String(), nil
	}
	if err != nil {
		return nil, engine.Holder, "", err
	}
	return l, engine.Holder, "", nil
}
