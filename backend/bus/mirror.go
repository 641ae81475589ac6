package bus

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// Objects maps object path -> interface -> property -> value.
type Objects map[dbus.ObjectPath]map[string]map[string]dbus.Variant

// Mirror keeps a local copy of a service's objects and properties, kept up
// to date by its signals: ObjectManager InterfacesAdded/Removed and
// Properties.PropertiesChanged. It follows the service across restarts
// (NameOwnerChanged): when the service goes, the copy empties; when it
// comes back, the copy is reloaded. No polling.
type Mirror struct {
	conn *Conn
	// Name is the service's well-known name.
	Name string
	// Root is the ObjectManager path.
	Root dbus.ObjectPath
	// Namespace limits PropertiesChanged to a path namespace ("" for the
	// whole service: ModemManager's paths are not to be assumed).
	Namespace dbus.ObjectPath
	// Extra match rules for service-specific signals (sender is filled in).
	Extra []Match
	// OnSignal handles other signals from the service; it runs on the
	// mirror's goroutine and may call Fetch.
	OnSignal func(ctx context.Context, s *dbus.Signal)
	// Loaded runs after each (re)load, on the mirror's goroutine; it may
	// call services (ModemManager's Signal.Setup).
	Loaded func(ctx context.Context)
	// Fallback loads the objects when the service has no ObjectManager.
	Fallback func(ctx context.Context) (Objects, error)

	mu      sync.Mutex
	owner   string
	objs    Objects
	errs    []error // decode and call problems since the last Problems()
	started bool
	// loaded: the current owner's objects have been read in full. Between
	// a new owner and that, the copy is empty, and an empty copy of a
	// service that is running must not read as "it has no devices".
	loaded bool
}

// NewMirror returns a mirror of a service on conn.
func NewMirror(conn *Conn, name string, root dbus.ObjectPath) *Mirror {
	return &Mirror{conn: conn, Name: name, Root: root, objs: Objects{}}
}

// Conn returns the connection the mirror uses.
func (m *Mirror) Conn() *Conn { return m.conn }

// Running reports whether the service currently has an owner.
func (m *Mirror) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.owner != ""
}

// Read runs f with the objects locked; f must not keep references.
func (m *Mirror) Read(f func(objs Objects)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m.objs)
}

// ReadLoaded runs f with the objects locked and whether they are the
// current owner's full picture (false while it is being loaded); f must
// not keep references.
func (m *Mirror) ReadLoaded(f func(objs Objects, loaded bool)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m.objs, m.owner != "" && m.loaded)
}

// Update runs f with the objects locked, for a client that learned a value
// by a call rather than a signal (ModemManager's GetLocation).
func (m *Mirror) Update(f func(objs Objects)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m.objs)
}

// Report records a problem for the next Problems call.
func (m *Mirror) Report(err error) { m.problem(err) }

// Problems returns and clears the problems seen since the last call.
func (m *Mirror) Problems() []error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.errs
	m.errs = nil
	return p
}

func (m *Mirror) problem(err error) {
	m.mu.Lock()
	if len(m.errs) < 50 {
		m.errs = append(m.errs, err)
	}
	m.mu.Unlock()
}

// rules are the match rules the mirror needs.
func (m *Mirror) rules() []Match {
	pc := Match{Sender: m.Name, Interface: propsIface, Member: "PropertiesChanged", PathNamespace: m.Namespace}
	om := Match{Sender: m.Name, Interface: objMgrIface, Path: m.Root}
	out := []Match{pc, om}
	for _, x := range m.Extra {
		x.Sender = m.Name
		out = append(out, x)
	}
	return out
}

// Run follows the service until ctx ends, calling changed after each batch
// of updates. The match rules are added first and the state loaded after,
// so no signal can fall in between.
func (m *Mirror) Run(ctx context.Context, changed func()) error {
	sigs, stop := m.conn.Subscribe()
	defer stop()
	if err := m.conn.AddMatches(ctx, append(m.rules(), nameRule(m.Name))...); err != nil {
		return err
	}
	defer func() {
		bg := context.Background()
		for _, r := range m.rules() {
			_ = m.conn.RemoveMatch(bg, r)
		}
		_ = m.conn.RemoveMatch(bg, nameRule(m.Name))
	}()

	owner, err := m.conn.NameOwner(ctx, m.Name)
	if err != nil {
		m.problem(fmt.Errorf("%s: %w", m.Name, err))
	}
	// A load that failed (a service that does not answer) is retried with
	// back-off; that is the only timer here.
	var retry <-chan time.Time
	backoff := time.Second
	load := func(owner string) {
		if err := m.setOwner(ctx, owner); err != nil {
			retry = time.After(backoff)
			backoff = min(2*backoff, 30*time.Second)
		} else {
			retry, backoff = nil, time.Second
		}
	}
	load(owner)
	changed()

	// dirty: a signal of the current batch changed the copy. The batch's
	// last signal may change nothing (NetworkManager's DeviceRemoved
	// follows the PropertiesChanged that mattered), and the batch must
	// still be told.
	dirty := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-retry:
			m.mu.Lock()
			owner := m.owner
			m.mu.Unlock()
			load(owner)
			changed()
		case s, ok := <-sigs:
			if !ok {
				return fmt.Errorf("bus connection closed")
			}
			if noc, ok := ParseNameOwnerChanged(s); ok && noc.Name == m.Name {
				load(noc.New)
				changed()
				continue
			}
			if m.handle(ctx, s) {
				dirty = true
			}
			if dirty && len(sigs) == 0 {
				dirty = false
				changed()
			}
		}
	}
}

// setOwner records a new owner and (re)loads, or empties the copy.
func (m *Mirror) setOwner(ctx context.Context, owner string) error {
	m.mu.Lock()
	m.owner = owner
	m.objs = Objects{}
	m.loaded = false
	m.mu.Unlock()
	if owner == "" {
		return nil
	}
	objs, err := m.conn.GetManagedObjects(ctx, m.Name, m.Root)
	if err != nil && m.Fallback != nil && !IsTimeout(err) {
		objs, err = m.Fallback(ctx)
	}
	if err != nil {
		m.problem(fmt.Errorf("loading %s: %w", m.Name, err))
		return err
	}
	m.mu.Lock()
	if m.owner == owner {
		for p, ifaces := range objs {
			m.objs[p] = ifaces
		}
	}
	m.mu.Unlock()
	if m.Loaded != nil {
		m.Loaded(ctx)
	}
	m.mu.Lock()
	m.loaded = m.owner == owner
	m.mu.Unlock()
	return nil
}

// handle applies one signal from the bus and reports whether anything
// changed; signals from anyone but the service's current owner are ignored.
func (m *Mirror) handle(ctx context.Context, s *dbus.Signal) bool {
	if _, ok := ParseNameOwnerChanged(s); ok {
		return false // handled by Run
	}
	m.mu.Lock()
	mine := s.Sender != "" && s.Sender == m.owner
	m.mu.Unlock()
	if !mine {
		return false
	}
	return m.Apply(ctx, s)
}

// Apply folds one signal from the service into the copy and reports
// whether anything changed. Run calls it for each signal from the
// service's current owner; benchmarks call it directly.
func (m *Mirror) Apply(ctx context.Context, s *dbus.Signal) bool {
	switch s.Name {
	case propsIface + ".PropertiesChanged":
		pc, err := ParsePropertiesChanged(s)
		if err != nil {
			m.problem(err)
			return false
		}
		m.mu.Lock()
		obj := m.objs[s.Path]
		if obj == nil {
			// NetworkManager signals properties of objects before (or
			// without) InterfacesAdded in some versions; keep them.
			obj = map[string]map[string]dbus.Variant{}
			m.objs[s.Path] = obj
		}
		props := obj[pc.Props.Iface]
		if props == nil {
			props = map[string]dbus.Variant{}
			obj[pc.Props.Iface] = props
		}
		for k, v := range pc.Props.M {
			props[k] = v
		}
		m.mu.Unlock()
		for _, name := range pc.Invalidated {
			if v, err := m.conn.Get(ctx, m.Name, s.Path, pc.Props.Iface, name); err == nil {
				m.mu.Lock()
				props[name] = v
				m.mu.Unlock()
			}
		}
		return true
	case objMgrIface + ".InterfacesAdded":
		ia, err := ParseInterfacesAdded(s)
		if err != nil {
			m.problem(err)
			return false
		}
		m.mu.Lock()
		obj := m.objs[ia.Path]
		if obj == nil {
			obj = map[string]map[string]dbus.Variant{}
			m.objs[ia.Path] = obj
		}
		for iface, props := range ia.Ifaces {
			obj[iface] = props
		}
		m.mu.Unlock()
		return true
	case objMgrIface + ".InterfacesRemoved":
		ir, err := ParseInterfacesRemoved(s)
		if err != nil {
			m.problem(err)
			return false
		}
		m.mu.Lock()
		if obj := m.objs[ir.Path]; obj != nil {
			for _, iface := range ir.Ifaces {
				delete(obj, iface)
			}
			if len(obj) == 0 {
				delete(m.objs, ir.Path)
			}
		}
		m.mu.Unlock()
		return true
	}
	if m.OnSignal != nil {
		m.OnSignal(ctx, s)
		return true
	}
	return false
}

// Load replaces the copy, as a load from the service would.
func (m *Mirror) Load(objs Objects) {
	m.mu.Lock()
	m.objs = objs
	m.mu.Unlock()
}

// Fetch reads the given interfaces of an object into the copy (used when a
// service announces an object only by path, as AccessPointAdded does).
func (m *Mirror) Fetch(ctx context.Context, path dbus.ObjectPath, ifaces ...string) error {
	got := map[string]map[string]dbus.Variant{}
	for _, iface := range ifaces {
		p, err := m.conn.GetAll(ctx, m.Name, path, iface)
		if err != nil {
			if n := ErrorName(err); strings.HasSuffix(n, "UnknownInterface") || strings.HasSuffix(n, "UnknownObject") {
				continue
			}
			m.problem(err)
			return err
		}
		got[iface] = p.M
	}
	m.mu.Lock()
	obj := m.objs[path]
	if obj == nil {
		obj = map[string]map[string]dbus.Variant{}
		m.objs[path] = obj
	}
	for iface, props := range got {
		obj[iface] = props
	}
	m.mu.Unlock()
	return nil
}

// Forget drops an object from the copy.
func (m *Mirror) Forget(path dbus.ObjectPath) {
	m.mu.Lock()
	delete(m.objs, path)
	m.mu.Unlock()
}

// Known reports whether an object is in the copy.
func (m *Mirror) Known(path dbus.ObjectPath) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.objs[path]
	return ok
}
