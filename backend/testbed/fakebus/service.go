package fakebus

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
)

const (
	propsIface  = "org.freedesktop.DBus.Properties"
	objMgrIface = "org.freedesktop.DBus.ObjectManager"
	introIface  = "org.freedesktop.DBus.Introspectable"
)

// Call is one method call a fake received.
type Call struct {
	Path   dbus.ObjectPath
	Iface  string
	Method string
	Args   []any
	Sender string
}

// Method implements one D-Bus method of a fake.
type Method func(c Call) ([]any, error)

// Service is a fake D-Bus service: objects with properties, an optional
// ObjectManager, and methods. Every change emits the signal the real
// daemons emit.
type Service struct {
	Name string
	Root dbus.ObjectPath // ObjectManager root, "" for none

	conn *dbus.Conn
	mu   sync.Mutex
	objs map[dbus.ObjectPath]map[string]map[string]dbus.Variant
	// methods by "iface.Method"; a path-specific entry "path iface.Method"
	// wins over the generic one.
	methods  map[string]Method
	calls    []Call
	failures map[string]error
	hang     map[string]chan struct{}
}

// NewService connects to the bus at addr and owns name.
func NewService(addr, name string, root dbus.ObjectPath) (*Service, error) {
	s, err := newServiceOffBus(addr, name, root)
	if err != nil {
		return nil, err
	}
	if err := s.Own(); err != nil {
		return nil, err
	}
	return s, nil
}

// Own takes the service's well-known name: clients see it arrive now.
func (s *Service) Own() error {
	reply, err := s.conn.RequestName(s.Name, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		s.conn.Close()
		return fmt.Errorf("own %s: %v (reply %v)", s.Name, err, reply)
	}
	return nil
}

// newServiceOffBus connects a service without taking its name yet.
func newServiceOffBus(addr, name string, root dbus.ObjectPath) (*Service, error) {
	s := &Service{Name: name, Root: root, objs: map[dbus.ObjectPath]map[string]map[string]dbus.Variant{},
		methods: map[string]Method{}, failures: map[string]error{}, hang: map[string]chan struct{}{}}
	conn, err := dbus.Connect(addr, dbus.WithHandler(handler{s}))
	if err != nil {
		return nil, err
	}
	s.conn = conn
	return s, nil
}

// Conn is the fake's own connection.
func (s *Service) Conn() *dbus.Conn { return s.conn }

// Close drops off the bus, as a daemon that exits or crashes.
func (s *Service) Close() {
	if s.conn != nil {
		s.conn.Close()
	}
}

// Handle registers a method ("org.freedesktop.NetworkManager.GetDevices").
func (s *Service) Handle(method string, m Method) {
	s.mu.Lock()
	s.methods[method] = m
	s.mu.Unlock()
}

// HandleAt registers a method on one object only.
func (s *Service) HandleAt(path dbus.ObjectPath, method string, m Method) {
	s.mu.Lock()
	s.methods[string(path)+" "+method] = m
	s.mu.Unlock()
}

// Fail makes calls of method ("org.freedesktop.NetworkManager.ActivateConnection")
// fail with err until cleared with Fail(method, nil).
func (s *Service) Fail(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.failures, method)
		return
	}
	s.failures[method] = err
}

// Hang makes calls of method never answer until release is called.
func (s *Service) Hang(method string) (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.hang[method] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.hang, method)
			s.mu.Unlock()
			close(ch)
		})
	}
}

// Calls returns the calls received so far.
func (s *Service) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo returns the calls of one method.
func (s *Service) CallsTo(method string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Iface+"."+c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

func variants(props map[string]any) map[string]dbus.Variant {
	m := make(map[string]dbus.Variant, len(props))
	for k, v := range props {
		if vv, ok := v.(dbus.Variant); ok {
			m[k] = vv
		} else {
			m[k] = dbus.MakeVariant(v)
		}
	}
	return m
}

// Add exports an object with the given interfaces and properties, emitting
// InterfacesAdded when the service has an ObjectManager.
func (s *Service) Add(path dbus.ObjectPath, ifaces map[string]map[string]any) {
	s.mu.Lock()
	obj := s.objs[path]
	if obj == nil {
		obj = map[string]map[string]dbus.Variant{}
		s.objs[path] = obj
	}
	added := map[string]map[string]dbus.Variant{}
	for iface, props := range ifaces {
		obj[iface] = variants(props)
		added[iface] = obj[iface]
	}
	s.mu.Unlock()
	if s.Root != "" {
		s.conn.Emit(s.Root, objMgrIface+".InterfacesAdded", path, added)
	}
}

// Remove drops an object, emitting InterfacesRemoved.
func (s *Service) Remove(path dbus.ObjectPath) {
	s.mu.Lock()
	obj := s.objs[path]
	delete(s.objs, path)
	var ifaces []string
	for i := range obj {
		ifaces = append(ifaces, i)
	}
	s.mu.Unlock()
	sort.Strings(ifaces)
	if s.Root != "" && obj != nil {
		s.conn.Emit(s.Root, objMgrIface+".InterfacesRemoved", path, ifaces)
	}
}

// Set changes properties of one interface and emits one PropertiesChanged.
func (s *Service) Set(path dbus.ObjectPath, iface string, props map[string]any) {
	s.mu.Lock()
	obj := s.objs[path]
	if obj == nil {
		obj = map[string]map[string]dbus.Variant{}
		s.objs[path] = obj
	}
	if obj[iface] == nil {
		obj[iface] = map[string]dbus.Variant{}
	}
	changed := variants(props)
	for k, v := range changed {
		obj[iface][k] = v
	}
	s.mu.Unlock()
	s.conn.Emit(path, propsIface+".PropertiesChanged", iface, changed, []string{})
}

// Prop returns a property's current value.
func (s *Service) Prop(path dbus.ObjectPath, iface, name string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.objs[path][iface][name]
	return v.Value(), ok
}

// Emit sends a signal ("org.freedesktop.NetworkManager.Device.Wireless.AccessPointAdded").
func (s *Service) Emit(path dbus.ObjectPath, signal string, args ...any) {
	s.conn.Emit(path, signal, args...)
}

// Has reports whether an object exists.
func (s *Service) Has(path dbus.ObjectPath) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.objs[path]
	return ok
}

// handler routes calls to the fake's objects.
type handler struct{ s *Service }

func (h handler) LookupObject(path dbus.ObjectPath) (dbus.ServerObject, bool) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objs[path]; ok || path == s.Root {
		return object{s, path}, true
	}
	for k := range s.methods {
		if strings.HasPrefix(k, string(path)+" ") {
			return object{s, path}, true
		}
	}
	return nil, false
}

type object struct {
	s    *Service
	path dbus.ObjectPath
}

func (o object) LookupInterface(name string) (dbus.Interface, bool) {
	return iface{o, name}, true
}

type iface struct {
	o    object
	name string
}

func (i iface) LookupMethod(name string) (dbus.Method, bool) {
	s := i.o.s
	switch {
	case i.name == propsIface:
		switch name {
		case "Get", "GetAll", "Set":
			return method{i, name, s.props}, true
		}
		return nil, false
	case i.name == objMgrIface && i.o.path == s.Root && name == "GetManagedObjects":
		return method{i, name, s.managed}, true
	case i.name == introIface && name == "Introspect":
		return method{i, name, func(Call) ([]any, error) { return []any{"<node/>"}, nil }}, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.methods[string(i.o.path)+" "+i.name+"."+name]; ok {
		return method{i, name, m}, true
	}
	if m, ok := s.methods[i.name+"."+name]; ok {
		return method{i, name, m}, true
	}
	return nil, false
}

// method adapts a Method to godbus; it decodes nothing itself, so the fake
// sees the raw arguments.
type method struct {
	i    iface
	name string
	fn   Method
}

func (m method) DecodeArguments(_ *dbus.Conn, sender string, msg *dbus.Message, body []any) ([]any, error) {
	return []any{Call{Path: m.i.o.path, Iface: m.i.name, Method: m.name, Args: body, Sender: sender}}, nil
}

func (m method) Call(args ...any) ([]any, error) {
	c := args[0].(Call)
	s := m.i.o.s
	name := c.Iface + "." + c.Method
	s.mu.Lock()
	s.calls = append(s.calls, c)
	err := s.failures[name]
	ch := s.hang[name]
	s.mu.Unlock()
	if ch != nil {
		<-ch
	}
	if err != nil {
		return nil, err
	}
	return m.fn(c)
}

func (m method) NumArguments() int     { return 0 }
func (m method) NumReturns() int       { return 0 }
func (m method) ArgumentValue(int) any { return nil }
func (m method) ReturnValue(int) any   { return nil }

func (s *Service) props(c Call) ([]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, ok := s.objs[c.Path]
	if !ok {
		return nil, dbus.NewError("org.freedesktop.DBus.Error.UnknownObject", []any{"no object " + string(c.Path)})
	}
	str := func(i int) string {
		if i < len(c.Args) {
			v, _ := c.Args[i].(string)
			return v
		}
		return ""
	}
	switch c.Method {
	case "GetAll":
		props, ok := obj[str(0)]
		if !ok {
			return nil, dbus.NewError("org.freedesktop.DBus.Error.UnknownInterface", []any{"no interface " + str(0)})
		}
		out := make(map[string]dbus.Variant, len(props))
		for k, v := range props {
			out[k] = v
		}
		return []any{out}, nil
	case "Get":
		v, ok := obj[str(0)][str(1)]
		if !ok {
			return nil, dbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{"no property " + str(1)})
		}
		return []any{v}, nil
	}
	return nil, dbus.NewError("org.freedesktop.DBus.Error.PropertyReadOnly", []any{"read-only"})
}

func (s *Service) managed(Call) ([]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[dbus.ObjectPath]map[string]map[string]dbus.Variant{}
	for p, ifaces := range s.objs {
		if p == s.Root || !strings.HasPrefix(string(p), string(s.Root)) {
			continue
		}
		cp := map[string]map[string]dbus.Variant{}
		for i, props := range ifaces {
			pp := map[string]dbus.Variant{}
			for k, v := range props {
				pp[k] = v
			}
			cp[i] = pp
		}
		out[p] = cp
	}
	return []any{out}, nil
}
