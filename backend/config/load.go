package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
)

// SystemPath is the device's config file.
const SystemPath = "/etc/fieldlink/config.toml"

// Candidates lists where a config is looked for, in order, when no --config
// is given. A system process (root, the kiosk) reads only the device's
// file: XDG_CONFIG_HOME is one account's setting and may point anywhere.
func Candidates(system bool) []string {
	if system {
		return []string{SystemPath}
	}
	var out []string
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		out = append(out, filepath.Join(x, "fieldlink", "config.toml"))
	} else if h, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(h, ".config", "fieldlink", "config.toml"))
	}
	return append(out, SystemPath)
}

// Load reads the config at explicit if given (it must exist), else the first
// candidate that exists, else returns the defaults.
func Load(explicit string) (Config, error) { return LoadFor(explicit, false) }

// LoadFor is Load for a system process (root, the kiosk) when system is
// true: see Candidates.
func LoadFor(explicit string, system bool) (Config, error) {
	if explicit != "" {
		return LoadFile(explicit)
	}
	for _, p := range Candidates(system) {
		if _, err := os.Stat(p); err == nil {
			return LoadFile(p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return Config{}, fmt.Errorf("%s: %w", p, err)
		}
	}
	return Default(), nil
}

// openedFile is a config file as read: Distrust judges this, not whatever
// the path names later (a symlink swapped after the check).
type openedFile struct {
	real string
	info os.FileInfo
}

// LoadFile reads one config file. It is read from the descriptor whose
// file Distrust judges, and a symlink is judged at its target.
func LoadFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		if real, err = filepath.EvalSymlinks(path); err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(path, b)
	if err != nil {
		return Config{}, err
	}
	c.opened = &openedFile{real: real, info: info}
	return c, nil
}

// Parse decodes a config document on top of the defaults. name is used in
// error messages ("/etc/fieldlink/config.toml:12: ...").
func Parse(name string, b []byte) (Config, error) {
	c := Default()
	c.Links.Prefer = nil
	dec := toml.NewDecoder(bytes.NewReader(b)).DisallowUnknownFields()
	if err := checkDurations(name, b); err != nil {
		return Config{}, err
	}
	if err := dec.Decode(&c); err != nil {
		return Config{}, describe(name, err)
	}
	if c.Links.Prefer == nil {
		c.Links.Prefer = Default().Links.Prefer
	}
	c.Path = name
	if errs := c.Validate(); len(errs) > 0 {
		lines := make([]string, len(errs))
		for i, e := range errs {
			if row := keyLine(b, e.Key); row > 0 {
				lines[i] = fmt.Sprintf("%s:%d: %s", name, row, e)
			} else {
				lines[i] = fmt.Sprintf("%s: %s", name, e)
			}
		}
		return Config{}, errors.New(strings.Join(lines, "\n"))
	}
	return c, nil
}

// describe turns go-toml's errors into "file:line:col: message" lines.
func describe(name string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var lines []string
		for _, e := range strict.Errors {
			row, col := e.Position()
			lines = append(lines, fmt.Sprintf("%s:%d:%d: unknown key %q", name, row, col, strings.Join(e.Key(), ".")))
		}
		return errors.New(strings.Join(lines, "\n"))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := plainTypeError(strings.TrimPrefix(de.Error(), "toml: "))
		if k := de.Key(); len(k) > 0 {
			msg = fmt.Sprintf("%s: %s", strings.Join(k, "."), msg)
		}
		return fmt.Errorf("%s:%d:%d: %s", name, row, col, msg)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Effective renders the config as TOML, with every default filled in, for
// `fieldlink config check`.
func (c *Config) Effective() (string, error) {
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	enc.SetIndentTables(true)
	if err := enc.Encode(c); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// typeErrorRE is compiled on first use: config errors are rare, and every
// start of fieldlink (status in a script loop) would pay for it.
var typeErrorRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^cannot decode TOML (\w+) into struct field \S+ of type (\S+)$`)
})

// plainTypeError rewords go-toml's Go-typed message for someone editing a
// config file: "expected a number, found a string".
func plainTypeError(msg string) string {
	m := typeErrorRE().FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := map[string]string{"float64": "a number", "int": "a whole number", "bool": "true or false",
		"string": "a quoted string", "[]string": "a list of strings like [\"a\", \"b\"]",
		"config.Duration": "a duration like \"30s\""}[m[2]]
	if want == "" {
		want = m[2]
	}
	return fmt.Sprintf("expected %s, found a TOML %s", want, m[1])
}

// keyLine finds the line that sets a dotted key, following [table] headers,
// so that a semantic error points at the line to fix. It returns 0 when the
// key is not written in the file (a default is wrong only if code is).
func keyLine(doc []byte, dotted string) int {
	table := ""
	for i, line := range strings.Split(string(doc), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "[") && !strings.HasPrefix(l, "[[") {
			table = strings.Trim(strings.TrimSpace(strings.SplitN(l, "#", 2)[0]), "[] ")
			continue
		}
		k, _, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		full := strings.Trim(strings.TrimSpace(k), `"'`)
		if table != "" {
			full = table + "." + full
		}
		if full == dotted {
			return i + 1
		}
	}
	return 0
}
