// Package bus is fieldlink's thin typed layer over godbus: a private
// system-bus connection with ordered signal delivery, a timeout on every
// call, match rules that are removed on close, and property reads that say
// which object, interface and property was missing or of the wrong type.
// Nothing here knows about NetworkManager or ModemManager.
package bus

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// DefaultTimeout bounds every call unless the Conn says otherwise.
const DefaultTimeout = 2 * time.Second

// Well-known names of the bus itself.
const (
	busName      = "org.freedesktop.DBus"
	propsIface   = "org.freedesktop.DBus.Properties"
	objMgrIface  = "org.freedesktop.DBus.ObjectManager"
	nameOwnerSig = "org.freedesktop.DBus.NameOwnerChanged"
)

// Conn is one private bus connection.
type Conn struct {
	raw *dbus.Conn
	// Timeout bounds each call (default DefaultTimeout).
	Timeout time.Duration

	mu     sync.Mutex
	rules  map[string]int // match rule -> references, to remove on Close
	closed bool
}

// System connects privately to the system bus: $DBUS_SYSTEM_BUS_ADDRESS or
// the standard socket. Signals are delivered in the order they arrive,
// which the state machines downstream rely on.
func System() (*Conn, error) {
	raw, err := dbus.ConnectSystemBus(dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	if err != nil {
		return nil, fmt.Errorf("system bus: %w", err)
	}
	return wrap(raw), nil
}

// Dial connects privately to the bus at address.
func Dial(address string) (*Conn, error) {
	raw, err := dbus.Connect(address, dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	if err != nil {
		return nil, fmt.Errorf("bus %s: %w", address, err)
	}
	return wrap(raw), nil
}

func wrap(raw *dbus.Conn) *Conn {
	return &Conn{raw: raw, Timeout: DefaultTimeout, rules: map[string]int{}}
}

// Raw returns the godbus connection, for exporting objects.
func (c *Conn) Raw() *dbus.Conn { return c.raw }

// UniqueName is this connection's name on the bus.
func (c *Conn) UniqueName() string {
	if names := c.raw.Names(); len(names) > 0 {
		return names[0]
	}
	return ""
}

// Close removes every match rule this connection added, then closes it.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	rules := make([]string, 0, len(c.rules))
	for r := range c.rules {
		rules = append(rules, r)
	}
	c.rules = map[string]int{}
	c.mu.Unlock()
	for _, r := range rules {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
		_ = c.raw.BusObject().CallWithContext(ctx, busName+".RemoveMatch", 0, r).Err
		cancel()
	}
	return c.raw.Close()
}

func (c *Conn) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// CallError is a failed method call, with the D-Bus error name when the
// service answered with one.
type CallError struct {
	Dest    string
	Path    dbus.ObjectPath
	Method  string
	Name    string // D-Bus error name, "" for transport errors and timeouts
	Message string
	Timeout bool
	Err     error
}

func (e *CallError) Error() string {
	where := fmt.Sprintf("%s %s %s", e.Dest, e.Path, e.Method)
	switch {
	case e.Timeout:
		return where + ": no answer within the timeout"
	case e.Name != "":
		if e.Message != "" {
			return fmt.Sprintf("%s: %s: %s", where, e.Name, e.Message)
		}
		return where + ": " + e.Name
	}
	return fmt.Sprintf("%s: %v", where, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// Call calls a method (interface-qualified: "org.freedesktop.NetworkManager.GetDevices")
// with the connection's timeout and returns the reply body.
func (c *Conn) Call(ctx context.Context, dest string, path dbus.ObjectPath, method string, args ...any) ([]any, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	call := c.raw.Object(dest, path).CallWithContext(ctx, method, 0, args...)
	if call.Err != nil {
		return nil, callError(dest, path, method, call.Err, ctx)
	}
	return call.Body, nil
}

// CallStore calls a method and stores the reply into out, naming the call
// when the reply has the wrong shape.
func (c *Conn) CallStore(ctx context.Context, dest string, path dbus.ObjectPath, method string, args []any, out ...any) error {
	body, err := c.Call(ctx, dest, path, method, args...)
	if err != nil {
		return err
	}
	if err := dbus.Store(body, out...); err != nil {
		return &CallError{Dest: dest, Path: path, Method: method, Err: fmt.Errorf("unexpected reply %s: %w", describeBody(body), err)}
	}
	return nil
}

func callError(dest string, path dbus.ObjectPath, method string, err error, ctx context.Context) error {
	ce := &CallError{Dest: dest, Path: path, Method: method, Err: err}
	var de dbus.Error
	var dep *dbus.Error
	switch {
	case errors.As(err, &dep):
		ce.Name = dep.Name
		ce.Message = errBodyText(dep.Body)
	case errors.As(err, &de):
		ce.Name = de.Name
		ce.Message = errBodyText(de.Body)
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		ce.Timeout = true
	}
	return ce
}

func errBodyText(body []any) string {
	if len(body) > 0 {
		if s, ok := body[0].(string); ok {
			return s
		}
	}
	return ""
}

// ErrorName returns the D-Bus error name of a failed call, or "".
func ErrorName(err error) string {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Name
	}
	return ""
}

// IsTimeout reports whether a call failed for want of an answer.
func IsTimeout(err error) bool {
	var ce *CallError
	return errors.As(err, &ce) && ce.Timeout
}

// GetAll reads every property of one interface of an object.
func (c *Conn) GetAll(ctx context.Context, dest string, path dbus.ObjectPath, iface string) (Props, error) {
	var m map[string]dbus.Variant
	if err := c.CallStore(ctx, dest, path, propsIface+".GetAll", []any{iface}, &m); err != nil {
		return Props{}, err
	}
	return Props{Path: path, Iface: iface, M: m}, nil
}

// Get reads one property.
func (c *Conn) Get(ctx context.Context, dest string, path dbus.ObjectPath, iface, prop string) (dbus.Variant, error) {
	var v dbus.Variant
	err := c.CallStore(ctx, dest, path, propsIface+".Get", []any{iface, prop}, &v)
	return v, err
}

// ManagedObjects is the reply of ObjectManager.GetManagedObjects.
type ManagedObjects = Objects

// GetManagedObjects reads every object a service exports under root.
func (c *Conn) GetManagedObjects(ctx context.Context, dest string, root dbus.ObjectPath) (ManagedObjects, error) {
	var m map[dbus.ObjectPath]map[string]map[string]dbus.Variant
	if err := c.CallStore(ctx, dest, root, objMgrIface+".GetManagedObjects", nil, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// Match is a signal match rule. Empty fields match anything.
type Match struct {
	Sender        string
	Interface     string
	Member        string
	Path          dbus.ObjectPath
	PathNamespace dbus.ObjectPath
	Arg0          string
}

// String renders the rule as the bus daemon receives it.
func (m Match) String() string {
	parts := []string{"type='signal'"}
	add := func(k, v string) {
		if v != "" {
			// A quote inside a value is written '\'' (spec, "Match Rules").
			parts = append(parts, k+"='"+strings.ReplaceAll(v, "'", `'\''`)+"'")
		}
	}
	add("sender", m.Sender)
	add("interface", m.Interface)
	add("member", m.Member)
	add("path", string(m.Path))
	add("path_namespace", string(m.PathNamespace))
	add("arg0", m.Arg0)
	return strings.Join(parts, ",")
}

// AddMatch adds a match rule; Close removes it. Adding the same rule twice
// keeps one rule on the bus.
func (c *Conn) AddMatch(ctx context.Context, m Match) error {
	rule := m.String()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("bus connection closed")
	}
	n := c.rules[rule]
	c.rules[rule] = n + 1
	c.mu.Unlock()
	if n > 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	if err := c.raw.BusObject().CallWithContext(ctx, busName+".AddMatch", 0, rule).Err; err != nil {
		c.mu.Lock()
		delete(c.rules, rule)
		c.mu.Unlock()
		return fmt.Errorf("add match rule %s: %w", rule, err)
	}
	return nil
}

// AddMatches adds several rules at once, sending every AddMatch before
// waiting for the first answer: at start-up the round trips add up.
func (c *Conn) AddMatches(ctx context.Context, ms ...Match) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	type pending struct {
		rule string
		call *dbus.Call
	}
	var calls []pending
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("bus connection closed")
	}
	for _, m := range ms {
		rule := m.String()
		n := c.rules[rule]
		c.rules[rule] = n + 1
		if n == 0 {
			calls = append(calls, pending{rule, c.raw.BusObject().GoWithContext(ctx, busName+".AddMatch", 0, nil, rule)})
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, p := range calls {
		<-p.call.Done
		if p.call.Err != nil {
			c.mu.Lock()
			delete(c.rules, p.rule)
			c.mu.Unlock()
			errs = append(errs, fmt.Errorf("add match rule %s: %w", p.rule, p.call.Err))
		}
	}
	return errors.Join(errs...)
}

// RemoveMatch drops one reference to a rule, removing it from the bus with
// the last one.
func (c *Conn) RemoveMatch(ctx context.Context, m Match) error {
	rule := m.String()
	c.mu.Lock()
	n := c.rules[rule]
	if n > 1 {
		c.rules[rule] = n - 1
		c.mu.Unlock()
		return nil
	}
	delete(c.rules, rule)
	c.mu.Unlock()
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	return c.raw.BusObject().CallWithContext(ctx, busName+".RemoveMatch", 0, rule).Err
}

// Rules returns the match rules this connection holds, sorted.
func (c *Conn) Rules() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.rules))
	for r := range c.rules {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Subscribe returns a channel with every signal that matches this
// connection's rules, in arrival order, and a function to stop.
func (c *Conn) Subscribe() (<-chan *dbus.Signal, func()) {
	ch := make(chan *dbus.Signal, 64)
	c.raw.Signal(ch)
	var once sync.Once
	return ch, func() { once.Do(func() { c.raw.RemoveSignal(ch) }) }
}

// NameOwner returns the unique name owning a well-known name, or "" when
// nobody does.
func (c *Conn) NameOwner(ctx context.Context, name string) (string, error) {
	var owner string
	err := c.CallStore(ctx, busName, "/org/freedesktop/DBus", busName+".GetNameOwner", []any{name}, &owner)
	if ErrorName(err) == "org.freedesktop.DBus.Error.NameHasNoOwner" {
		return "", nil
	}
	return owner, err
}

// WatchName adds the match rule for NameOwnerChanged of one name; the
// signals arrive on Subscribe's channel (see ParseNameOwnerChanged).
func (c *Conn) WatchName(ctx context.Context, name string) error {
	return c.AddMatch(ctx, nameRule(name))
}

// UnwatchName drops WatchName's rule (rules are counted: another watcher
// of the same name keeps it).
func (c *Conn) UnwatchName(ctx context.Context, name string) error {
	return c.RemoveMatch(ctx, nameRule(name))
}

func nameRule(name string) Match {
	return Match{Sender: busName, Interface: busName, Member: "NameOwnerChanged", Arg0: name}
}

// NameOwnerChange is a parsed NameOwnerChanged signal.
type NameOwnerChange struct {
	Name, Old, New string
}

// ParseNameOwnerChanged decodes a NameOwnerChanged signal.
func ParseNameOwnerChanged(s *dbus.Signal) (NameOwnerChange, bool) {
	if s.Name != nameOwnerSig || len(s.Body) != 3 {
		return NameOwnerChange{}, false
	}
	n, ok1 := s.Body[0].(string)
	o, ok2 := s.Body[1].(string)
	w, ok3 := s.Body[2].(string)
	return NameOwnerChange{n, o, w}, ok1 && ok2 && ok3
}

// PropertiesChanged is a parsed org.freedesktop.DBus.Properties signal.
type PropertiesChanged struct {
	Props       Props
	Invalidated []string
}

// ParsePropertiesChanged decodes a PropertiesChanged signal, rejecting odd
// bodies with an error instead of panicking.
func ParsePropertiesChanged(s *dbus.Signal) (PropertiesChanged, error) {
	if s.Name != propsIface+".PropertiesChanged" {
		return PropertiesChanged{}, fmt.Errorf("%s: not PropertiesChanged", s.Name)
	}
	if len(s.Body) < 2 {
		return PropertiesChanged{}, fmt.Errorf("%s PropertiesChanged: body %s", s.Path, describeBody(s.Body))
	}
	iface, ok := s.Body[0].(string)
	changed, ok2 := s.Body[1].(map[string]dbus.Variant)
	if !ok || !ok2 {
		return PropertiesChanged{}, fmt.Errorf("%s PropertiesChanged: body %s, want (s a{sv} as)", s.Path, describeBody(s.Body))
	}
	pc := PropertiesChanged{Props: Props{Path: s.Path, Iface: iface, M: changed}}
	if len(s.Body) > 2 {
		pc.Invalidated, _ = s.Body[2].([]string)
	}
	return pc, nil
}

// InterfacesAdded is a parsed ObjectManager.InterfacesAdded signal.
type InterfacesAdded struct {
	Path   dbus.ObjectPath
	Ifaces map[string]map[string]dbus.Variant
}

// ParseInterfacesAdded decodes an InterfacesAdded signal.
func ParseInterfacesAdded(s *dbus.Signal) (InterfacesAdded, error) {
	if s.Name != objMgrIface+".InterfacesAdded" || len(s.Body) != 2 {
		return InterfacesAdded{}, fmt.Errorf("%s %s: body %s", s.Path, s.Name, describeBody(s.Body))
	}
	p, ok := s.Body[0].(dbus.ObjectPath)
	m, ok2 := s.Body[1].(map[string]map[string]dbus.Variant)
	if !ok || !ok2 {
		return InterfacesAdded{}, fmt.Errorf("%s InterfacesAdded: body %s, want (o a{sa{sv}})", s.Path, describeBody(s.Body))
	}
	return InterfacesAdded{p, m}, nil
}

// InterfacesRemoved is a parsed ObjectManager.InterfacesRemoved signal.
type InterfacesRemoved struct {
	Path   dbus.ObjectPath
	Ifaces []string
}

// ParseInterfacesRemoved decodes an InterfacesRemoved signal.
func ParseInterfacesRemoved(s *dbus.Signal) (InterfacesRemoved, error) {
	if s.Name != objMgrIface+".InterfacesRemoved" || len(s.Body) != 2 {
		return InterfacesRemoved{}, fmt.Errorf("%s %s: body %s", s.Path, s.Name, describeBody(s.Body))
	}
	p, ok := s.Body[0].(dbus.ObjectPath)
	l, ok2 := s.Body[1].([]string)
	if !ok || !ok2 {
		return InterfacesRemoved{}, fmt.Errorf("%s InterfacesRemoved: body %s, want (o as)", s.Path, describeBody(s.Body))
	}
	return InterfacesRemoved{p, l}, nil
}

// PathArg decodes a signal whose only argument is an object path
// (DeviceAdded, AccessPointRemoved, ...).
func PathArg(s *dbus.Signal) (dbus.ObjectPath, error) {
	if len(s.Body) == 1 {
		if p, ok := s.Body[0].(dbus.ObjectPath); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s %s: body %s, want (o)", s.Path, s.Name, describeBody(s.Body))
}

func describeBody(body []any) string {
	if len(body) == 0 {
		return "()"
	}
	return "(" + dbus.SignatureOf(body...).String() + ")"
}

// OneLine words an error (a daemon's reply may be a many-line traceback)
// as one line for the events pane: its first line, or, for a traceback,
// the exception on its last line.
func OneLine(s string) string {
	s = strings.TrimSpace(s)
	first, rest, multi := strings.Cut(s, "\n")
	if !multi {
		return s
	}
	// "...: Traceback (most recent call last):" says nothing; the
	// exception is the last line.
	if strings.Contains(first, "Traceback (most recent call last)") {
		lines := strings.Split(strings.TrimSpace(rest), "\n")
		last := strings.TrimSpace(lines[len(lines)-1])
		head := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.Replace(first, "Traceback (most recent call last):", "", 1)), ":"))
		if head != "" {
			return head + ": " + last
		}
		return last
	}
	return strings.TrimSpace(first) + " …"
}
