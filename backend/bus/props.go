package bus

import (
	"fmt"
	"math"
	"reflect"

	"github.com/godbus/dbus/v5"
)

// Props are the properties of one interface of one object, as GetAll,
// GetManagedObjects or PropertiesChanged delivered them.
type Props struct {
	Path  dbus.ObjectPath
	Iface string
	M     map[string]dbus.Variant
}

// PropError says which property of which object was missing or of the
// wrong type, so a bad value from a daemon never becomes a silent zero.
type PropError struct {
	Path     dbus.ObjectPath
	Iface    string
	Property string
	Want     string
	Got      string // D-Bus signature of what came, "" when missing
}

func (e *PropError) Error() string {
	where := fmt.Sprintf("%s %s.%s", e.Path, e.Iface, e.Property)
	if e.Got == "" {
		return where + ": missing"
	}
	return fmt.Sprintf("%s: want %s, got %s", where, e.Want, e.Got)
}

// Missing reports whether the property was absent rather than mistyped.
func (e *PropError) Missing() bool { return e.Got == "" }

// Has reports whether the property is present.
func (p Props) Has(name string) bool {
	_, ok := p.M[name]
	return ok
}

func (p Props) fail(name, want string) *PropError {
	e := &PropError{Path: p.Path, Iface: p.Iface, Property: name, Want: want}
	if v, ok := p.M[name]; ok {
		e.Got = v.Signature().String()
		if e.Got == "" {
			e.Got = "nothing"
		}
	}
	return e
}

// String reads an "s" (or "o") property.
func (p Props) String(name string) (string, error) {
	switch v := p.M[name].Value().(type) {
	case string:
		return v, nil
	case dbus.ObjectPath:
		return string(v), nil
	}
	return "", p.fail(name, "string (s)")
}

// Bool reads a "b" property.
func (p Props) Bool(name string) (bool, error) {
	if v, ok := p.M[name].Value().(bool); ok {
		return v, nil
	}
	return false, p.fail(name, "boolean (b)")
}

// integer accepts any D-Bus integer type whose value fits in [lo, hi]:
// daemons disagree on signedness more than on meaning.
func (p Props) integer(name, want string, lo, hi float64) (int64, error) {
	v, ok := p.M[name]
	if !ok {
		return 0, p.fail(name, want)
	}
	rv := reflect.ValueOf(v.Value())
	var f float64
	switch rv.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		f = float64(rv.Int())
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		f = float64(rv.Uint())
	default:
		return 0, p.fail(name, want)
	}
	if f < lo || f > hi {
		e := p.fail(name, want)
		e.Got = fmt.Sprintf("%s out of range (%g)", e.Got, f)
		return 0, e
	}
	return int64(f), nil
}

// Uint32 reads a "u" property.
func (p Props) Uint32(name string) (uint32, error) {
	v, err := p.integer(name, "uint32 (u)", 0, math.MaxUint32)
	return uint32(v), err
}

// Int32 reads an "i" property.
func (p Props) Int32(name string) (int32, error) {
	v, err := p.integer(name, "int32 (i)", math.MinInt32, math.MaxInt32)
	return int32(v), err
}

// Byte reads a "y" property.
func (p Props) Byte(name string) (byte, error) {
	v, err := p.integer(name, "byte (y)", 0, 255)
	return byte(v), err
}

// Uint64 reads a "t" property.
func (p Props) Uint64(name string) (uint64, error) {
	v, ok := p.M[name].Value().(uint64)
	if ok {
		return v, nil
	}
	n, err := p.integer(name, "uint64 (t)", 0, math.MaxInt64)
	return uint64(n), err
}

// Float64 reads a "d" property (integers are accepted).
func (p Props) Float64(name string) (float64, error) {
	if v, ok := p.M[name].Value().(float64); ok {
		return v, nil
	}
	n, err := p.integer(name, "double (d)", math.MinInt64, math.MaxInt64)
	if err != nil {
		return 0, p.fail(name, "double (d)")
	}
	return float64(n), nil
}

// ObjectPath reads an "o" property.
func (p Props) ObjectPath(name string) (dbus.ObjectPath, error) {
	if v, ok := p.M[name].Value().(dbus.ObjectPath); ok {
		return v, nil
	}
	return "", p.fail(name, "object path (o)")
}

// ObjectPaths reads an "ao" property.
func (p Props) ObjectPaths(name string) ([]dbus.ObjectPath, error) {
	if v, ok := p.M[name].Value().([]dbus.ObjectPath); ok {
		return v, nil
	}
	return nil, p.fail(name, "object paths (ao)")
}

// Bytes reads an "ay" property.
func (p Props) Bytes(name string) ([]byte, error) {
	if v, ok := p.M[name].Value().([]byte); ok {
		return v, nil
	}
	return nil, p.fail(name, "bytes (ay)")
}

// Strings reads an "as" property.
func (p Props) Strings(name string) ([]string, error) {
	if v, ok := p.M[name].Value().([]string); ok {
		return v, nil
	}
	return nil, p.fail(name, "strings (as)")
}

// Dict reads an "a{sv}" property.
func (p Props) Dict(name string) (Props, error) {
	if v, ok := p.M[name].Value().(map[string]dbus.Variant); ok {
		return Props{Path: p.Path, Iface: p.Iface + "." + name, M: v}, nil
	}
	return Props{Path: p.Path, Iface: p.Iface}, p.fail(name, "dictionary (a{sv})")
}

// Dicts reads an "aa{sv}" property.
func (p Props) Dicts(name string) ([]Props, error) {
	v, ok := p.M[name].Value().([]map[string]dbus.Variant)
	if !ok {
		return nil, p.fail(name, "dictionaries (aa{sv})")
	}
	out := make([]Props, len(v))
	for i, m := range v {
		out[i] = Props{Path: p.Path, Iface: fmt.Sprintf("%s.%s[%d]", p.Iface, name, i), M: m}
	}
	return out, nil
}

// Struct reads a struct property ("(ub)", "(uu)") as its fields.
func (p Props) Struct(name string, n int) ([]any, error) {
	if v := StructFields(p.M[name].Value()); len(v) == n {
		return v, nil
	}
	return nil, p.fail(name, fmt.Sprintf("struct of %d fields", n))
}

// StructFields returns the fields of a D-Bus struct value: []any as it
// comes off the wire, or a Go struct as an in-process variant holds it.
func StructFields(v any) []any {
	if f, ok := v.([]any); ok {
		return f
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Struct {
		return nil
	}
	out := make([]any, 0, rv.NumField())
	for i := 0; i < rv.NumField(); i++ {
		if !rv.Type().Field(i).IsExported() {
			return nil
		}
		out = append(out, rv.Field(i).Interface())
	}
	return out
}

// Reader reads properties that may be absent (older daemons lack newer
// ones), keeping the first of any type errors so the caller can report
// them without failing the whole object.
type Reader struct {
	P    Props
	Errs []error
}

// NewReader reads from p.
func NewReader(p Props) *Reader { return &Reader{P: p} }

func (r *Reader) keep(err error) bool {
	if err == nil {
		return true
	}
	if pe, ok := err.(*PropError); ok && pe.Missing() {
		return false
	}
	r.Errs = append(r.Errs, err)
	return false
}

// String returns the property or "".
func (r *Reader) String(name string) string {
	v, err := r.P.String(name)
	r.keep(err)
	return v
}

// Bool returns the property or false.
func (r *Reader) Bool(name string) (bool, bool) {
	v, err := r.P.Bool(name)
	return v, r.keep(err)
}

// Uint32 returns the property and whether it was usable.
func (r *Reader) Uint32(name string) (uint32, bool) {
	v, err := r.P.Uint32(name)
	return v, r.keep(err)
}

// Int32 returns the property and whether it was usable.
func (r *Reader) Int32(name string) (int32, bool) {
	v, err := r.P.Int32(name)
	return v, r.keep(err)
}

// Byte returns the property and whether it was usable.
func (r *Reader) Byte(name string) (byte, bool) {
	v, err := r.P.Byte(name)
	return v, r.keep(err)
}

// Float64 returns the property and whether it was usable.
func (r *Reader) Float64(name string) (float64, bool) {
	v, err := r.P.Float64(name)
	return v, r.keep(err)
}

// Path returns the property, or "" (also for NetworkManager's "/" meaning
// "none").
func (r *Reader) Path(name string) dbus.ObjectPath {
	v, err := r.P.ObjectPath(name)
	if !r.keep(err) || v == "/" {
		return ""
	}
	return v
}

// Paths returns the property or nil.
func (r *Reader) Paths(name string) ([]dbus.ObjectPath, bool) {
	v, err := r.P.ObjectPaths(name)
	return v, r.keep(err)
}

// Bytes returns the property or nil.
func (r *Reader) Bytes(name string) []byte {
	v, err := r.P.Bytes(name)
	r.keep(err)
	return v
}

// Dict returns the property, or an empty dictionary.
func (r *Reader) Dict(name string) Props {
	v, err := r.P.Dict(name)
	r.keep(err)
	return v
}

// Dicts returns the property or nil.
func (r *Reader) Dicts(name string) []Props {
	v, err := r.P.Dicts(name)
	r.keep(err)
	return v
}

// Struct returns the property's fields, or nil.
func (r *Reader) Struct(name string, n int) []any {
	v, err := r.P.Struct(name, n)
	r.keep(err)
	return v
}
