package config

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
)

// durationKeys are the dotted keys of every Duration in the file.
var durationKeys = sync.OnceValue(func() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			switch {
			case f.Type == reflect.TypeOf(Duration(0)):
				out = append(out, prefix+name)
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, prefix+name+".")
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
})

// checkDurations refuses a duration written as a bare number: the decoder
// would take `timeout = 5` as 5 nanoseconds, which is never what was meant.
func checkDurations(name string, doc []byte) error {
	var raw map[string]any
	if err := toml.Unmarshal(doc, &raw); err != nil {
		return nil // the typed decode reports syntax errors
	}
	var lines []string
	for _, key := range durationKeys() {
		v, ok := lookup(raw, strings.Split(key, "."))
		if !ok {
			continue
		}
		if _, isString := v.(string); isString {
			continue
		}
		kind := "value"
		switch v.(type) {
		case int64, float64:
			kind = "number"
		case bool:
			kind = "true/false"
		}
		msg := fmt.Sprintf("%s: expected a duration like \"30s\" or \"500ms\", found a bare %s (%v) with no unit", key, kind, v)
		if row := keyLine(doc, key); row > 0 {
			lines = append(lines, fmt.Sprintf("%s:%d: %s", name, row, msg))
		} else {
			lines = append(lines, fmt.Sprintf("%s: %s", name, msg))
		}
	}
	if len(lines) > 0 {
		return fmt.Errorf("%s", strings.Join(lines, "\n"))
	}
	return nil
}

func lookup(m map[string]any, path []string) (any, bool) {
	v, ok := m[path[0]]
	if !ok || len(path) == 1 {
		return v, ok
	}
	sub, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	return lookup(sub, path[1:])
}
