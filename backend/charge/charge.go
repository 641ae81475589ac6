// Package charge decides which fieldlink process is in charge of the
// device: the one that probes, fails over, keeps the VPN up and writes the
// journal. Every other fieldlink on the device, whatever account started
// it, is a client of that one.
//
// The device-wide lock is a well-known name on the system bus, BusName.
// The packaged D-Bus policy lets only root own it, so the system service
// (`fieldlink daemon`) is in charge whenever it runs, and the bus tells
// every client who holds it (pid and uid, which no process can forge).
// Where the policy is not installed (a developer laptop, no package), the
// name cannot be owned by anyone; fieldlink then falls back to a lock per
// account in the state directory, says so, and steps down as soon as a
// process takes the bus name.
package charge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/lock"
)

// BusName is the device-wide lock.
const BusName = "uk.nhs.fieldlink"

// PolicyPaths are where the packaged D-Bus policy for BusName is
// installed; its presence means a service is meant to be in charge.
var PolicyPaths = []string{
	"/usr/share/dbus-1/system.d/" + BusName + ".conf",
	"/etc/dbus-1/system.d/" + BusName + ".conf",
}

// RunDir is the device-wide directory for the control sockets
// (FIELDLINK_RUNTIME_DIR overrides it, for tests).
func RunDir() string {
	if d := os.Getenv("FIELDLINK_RUNTIME_DIR"); d != "" {
		return d
	}
	return "/run/fieldlink"
}

// Scope says how far a charge reaches.
type Scope int

// Scopes.
const (
	// Device: through the bus name, for every account on the device.
	Device Scope = iota
	// Account: through a lock file in one account's state directory, the
	// fallback without the D-Bus policy (and for demos, which never act on
	// the device).
	Account
)

// Options configure Take.
type Options struct {
	// Address of the bus; "" is the system bus.
	Address string
	// StateDir holds the per-account lock (the fallback) and, for demos,
	// the control socket.
	StateDir string
	// RunDir holds device-wide control sockets (default RunDir()).
	RunDir string
	// Mode is what this process is: daemon, tui, kiosk, demo.
	Mode string
	// Demo claims only a per-account demo lock: a demo never stands in for
	// the instance watching the real network.
	Demo bool
	// Policy lists where the packaged bus policy may be (default
	// PolicyPaths).
	Policy []string
}

// Claim is the outcome of Take: in charge, or a client of whoever is.
type Claim struct {
	InCharge bool
	Scope    Scope
	// Holder is who is in charge: this process when InCharge; PID 0 when
	// nobody is yet (the service is installed but not running).
	Holder Holder
	// Warning says why the charge is weaker than it should be.
	Warning string
	// Apart: a demo started while another runs, in charge of its own run
	// with a socket and journal of its own (DemoJournal).
	Apart bool

	opt   Options
	conn  *bus.Conn
	flock *lock.Lock
	lost  chan struct{}
	once  sync.Once
	stop  func()
}

// ErrNotAllowed is returned (wrapped) by Take when this account may not be
// in charge and nobody is.
var ErrNotAllowed = errors.New("this account may not be in charge of the device")

// Take claims charge of the device, or finds who has it.
func Take(ctx context.Context, opt Options) (*Claim, error) {
	if opt.RunDir == "" {
		opt.RunDir = RunDir()
	}
	if opt.Policy == nil {
		opt.Policy = PolicyPaths
	}
	c := &Claim{opt: opt, lost: make(chan struct{})}
	if opt.Demo {
		if err := c.takeAccount("demo.lock"); err != nil {
			return nil, err
		}
		if !c.InCharge {
			// Another demo runs: this one is in charge of its own run,
			// never a watcher of another's simulated world.
			c.InCharge, c.Apart, c.Holder = true, true, Self(opt.Mode)
		}
		return c, nil
	}
	conn, err := dial(opt.Address)
	if err != nil {
		return nil, err
	}
	c.conn = conn
	reply, err := conn.Raw().RequestName(BusName, dbus.NameFlagDoNotQueue)
	switch {
	case err == nil && reply == dbus.RequestNameReplyPrimaryOwner:
		c.InCharge, c.Scope = true, Device
		c.Holder = Self(opt.Mode)
		c.watch(ctx)
		return c, nil
	case err == nil && reply == dbus.RequestNameReplyExists:
		c.Scope = Device
		if h, ok, err := c.owner(ctx); err == nil && ok {
			c.Holder = h
		}
		return c, nil
	case err != nil && !isAccessDenied(err):
		conn.Close()
		return nil, fmt.Errorf("claim %s on the system bus: %w", BusName, err)
	case err == nil:
		conn.Close()
		return nil, fmt.Errorf("claim %s on the system bus: unexpected reply %d", BusName, reply)
	}
	// The bus policy does not let this account own the name.
	if h, ok, err := c.owner(ctx); err == nil && ok {
		c.Scope, c.Holder = Device, h
		return c, nil
	}
	if c.policyInstalled() {
		// A service is meant to be in charge: wait for it rather than
		// become a second brain the moment it restarts.
		c.Scope = Device
		c.Warning = "the fieldlink service is not running; waiting for it to take charge (systemctl status fieldlink)"
		return c, nil
	}
	if err := c.takeAccount("lock"); err != nil {
		conn.Close()
		return nil, err
	}
	if c.InCharge {
		c.Warning = "fieldlink's D-Bus policy is not installed (" + opt.Policy[0] +
			"): another account's fieldlink could also take charge of this device"
		c.watch(ctx)
	}
	return c, nil
}

func (c *Claim) takeAccount(name string) error {
	c.Scope = Account
	if err := os.MkdirAll(c.opt.StateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	l, h, err := lock.Acquire(c.opt.StateDir, name, c.opt.Mode)
	if errors.Is(err, lock.ErrHeld) {
		c.Holder = fromLock(h)
		return nil
	}
	if err != nil {
		return err
	}
	c.flock, c.InCharge = l, true
	c.Holder = Self(c.opt.Mode)
	return nil
}

func (c *Claim) policyInstalled() bool {
	for _, p := range c.opt.Policy {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// watch closes Lost when this holder stops being in charge: the bus went
// away under a device-wide holder, or a device-wide holder appeared over
// an account-wide one.
func (c *Claim) watch(ctx context.Context) {
	if c.conn == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	c.stop = cancel
	sigs, unsubscribe := c.conn.Subscribe()
	if err := c.conn.WatchName(ctx, BusName); err != nil {
		unsubscribe()
		return
	}
	me := c.conn.UniqueName()
	go func() {
		defer unsubscribe()
		for {
			select {
			case <-ctx.Done():
				return
			case s, ok := <-sigs:
				if !ok {
					c.loseCharge()
					return
				}
				ch, ok := bus.ParseNameOwnerChanged(s)
				if !ok || ch.Name != BusName {
					continue
				}
				if (c.Scope == Device && ch.New != me) || (c.Scope == Account && ch.New != "") {
					c.loseCharge()
					return
				}
			case <-c.conn.Raw().Context().Done():
				c.loseCharge()
				return
			}
		}
	}()
}

func (c *Claim) loseCharge() { c.once.Do(func() { close(c.lost) }) }

// DemoJournal is the journal file name of a demo: the shared one, or one
// of its own for a demo apart (removed when it ends: see Release).
func (c *Claim) DemoJournal() string {
	if c.Apart {
		return "demo-" + strconv.Itoa(os.Getpid()) + "-journal.db"
	}
	return "demo-journal.db"
}

// Lost is closed when a holder is no longer in charge.
func (c *Claim) Lost() <-chan struct{} { return c.lost }

// Release gives the charge up (if held) and closes the bus connection.
func (c *Claim) Release() {
	if c == nil {
		return
	}
	if c.stop != nil {
		c.stop()
	}
	if c.flock != nil {
		c.flock.Release()
		c.flock = nil
	}
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// Socket is where the holder serves its clients: device-wide holders in
// the runtime directory, one socket per holder account (so that no
// account can replace another's), account-wide ones in the state
// directory.
func (c *Claim) Socket() string {
	if c.Scope == Account {
		return c.accountSocket()
	}
	return c.deviceSocket(c.Holder)
}

func (c *Claim) deviceSocket(h Holder) string {
	return filepath.Join(c.opt.RunDir, "control-"+strconv.Itoa(h.UID)+".sock")
}

func (c *Claim) accountSocket() string {
	name := "control.sock"
	switch {
	case c.Apart:
		name = "demo-" + strconv.Itoa(os.Getpid()) + "-control.sock"
	case c.opt.Demo:
		name = "demo-control.sock"
	}
	return filepath.Join(c.opt.StateDir, name)
}

// Locate finds the holder now (it may have restarted, or changed, since
// Take) and the socket it serves; ok is false while nobody is in charge.
func (c *Claim) Locate(ctx context.Context) (Holder, string, bool, error) {
	if c.conn != nil {
		h, ok, err := c.owner(ctx)
		if err != nil {
			return Holder{}, "", false, err
		}
		if ok {
			return h, c.deviceSocket(h), true, nil
		}
	}
	if c.opt.StateDir == "" {
		return Holder{}, "", false, nil
	}
	name := "lock"
	if c.opt.Demo {
		name = "demo.lock"
	}
	h, held, err := lock.Probe(c.opt.StateDir, name)
	if err != nil || !held {
		return Holder{}, "", false, err
	}
	return fromLock(h), c.accountSocket(), true, nil
}

// Observe finds who is in charge without claiming anything, for one-shot
// commands such as `fieldlink status`; Locate follows the holder after.
func Observe(ctx context.Context, opt Options) (*Claim, error) {
	if opt.RunDir == "" {
		opt.RunDir = RunDir()
	}
	c := &Claim{opt: opt, lost: make(chan struct{}), Scope: Device}
	if !opt.Demo {
		conn, err := dial(opt.Address)
		if err != nil {
			return nil, err
		}
		c.conn = conn
	} else {
		// A simulated run observes nothing: `status --demo` plays its own.
		c.Scope = Account
		return c, nil
	}
	h, _, ok, err := c.Locate(ctx)
	if err != nil {
		c.Release()
		return nil, err
	}
	if ok {
		c.Holder = h
	}
	return c, nil
}

// owner asks the bus who owns BusName: its pid and uid come from the bus
// itself, which no process can forge.
func (c *Claim) owner(ctx context.Context) (Holder, bool, error) {
	return Owner(ctx, c.conn)
}

// Owner returns the process owning BusName on conn's bus.
func Owner(ctx context.Context, conn *bus.Conn) (Holder, bool, error) {
	name, err := conn.NameOwner(ctx, BusName)
	if err != nil || name == "" {
		return Holder{}, false, err
	}
	var uid, pid uint32
	if err := conn.CallStore(ctx, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.GetConnectionUnixUser",
		[]any{name}, &uid); err != nil {
		return Holder{}, false, err
	}
	if err := conn.CallStore(ctx, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.GetConnectionUnixProcessID",
		[]any{name}, &pid); err != nil {
		return Holder{}, false, err
	}
	return Describe(int(pid), int(uid)), true, nil
}

func dial(address string) (*bus.Conn, error) {
	if address != "" {
		return bus.Dial(address)
	}
	return bus.System()
}

func isAccessDenied(err error) bool {
	var de dbus.Error
	var dep *dbus.Error
	switch {
	case errors.As(err, &dep):
		return dep.Name == "org.freedesktop.DBus.Error.AccessDenied"
	case errors.As(err, &de):
		return de.Name == "org.freedesktop.DBus.Error.AccessDenied"
	}
	return false
}

func fromLock(h lock.Holder) Holder {
	if h.PID == 0 {
		return Holder{}
	}
	out := Describe(h.PID, -1)
	out.Mode = h.Mode
	if !h.Since.IsZero() {
		out.Since = h.Since
	}
	return out
}
