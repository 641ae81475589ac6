package agent

import (
	"sync"
	"time"
)

// Remember says how long a VPN log-in the clinician typed is kept, in
// memory only, to answer NetworkManager's later requests for the same
// profile without a prompt: the re-makes after a failover, a fail-back, a
// NetworkManager restart or a resume. A screen lock, a refusal by the
// server or the end of the working day forgets it.
type Remember struct {
	// Until is the local time of day the working day ends ("20:00"): a
	// log-in is forgotten at the next such time after it was typed.
	// Zero: never remembered.
	Until time.Duration
	// Max bounds how long one log-in lasts whatever Until says (a log-in
	// typed after the end of one day does not last into the next one's).
	Max time.Duration
}

// expiry is when a log-in typed at t is forgotten.
func (r Remember) expiry(t time.Time) time.Time {
	if r.Until <= 0 {
		return t
	}
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	end := day.Add(r.Until)
	if !end.After(t) {
		end = day.AddDate(0, 0, 1).Add(r.Until)
	}
	if r.Max > 0 && t.Add(r.Max).Before(end) {
		end = t.Add(r.Max)
	}
	return end
}

// memory holds the log-ins being remembered, by profile UUID. Values are
// byte slices so that forgetting can overwrite them; Go gives no stronger
// promise than that (copies the runtime made are beyond reach), which is
// why nothing of this ever goes to disk, a log or the screen.
type memory struct {
	mu      sync.Mutex
	entries map[string]*remembered
}

type remembered struct {
	name    string // the profile, for the screen's words
	values  map[string][]byte
	expires time.Time
}

func newMemory() *memory { return &memory{entries: map[string]*remembered{}} }

// keep remembers a log-in until it expires.
func (m *memory) keep(uuid, name string, values map[string]string, expires time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.entries[uuid]; old != nil {
		old.wipe()
	}
	e := &remembered{name: name, values: map[string][]byte{}, expires: expires}
	for k, v := range values {
		e.values[k] = []byte(v)
	}
	m.entries[uuid] = e
}

// answer returns the remembered values for every key asked, or false when
// any is missing or the log-in has expired (and is then forgotten).
func (m *memory) answer(uuid string, keys []string, now time.Time) (map[string]string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[uuid]
	if e == nil {
		return nil, false
	}
	if !now.Before(e.expires) {
		e.wipe()
		delete(m.entries, uuid)
		return nil, false
	}
	out := map[string]string{}
	for _, k := range keys {
		v, ok := e.values[k]
		if !ok {
			return nil, false
		}
		out[k] = string(v)
	}
	return out, len(out) > 0
}

// forget drops one profile's log-in ("" drops them all) and returns the
// names of the profiles forgotten.
func (m *memory) forget(uuid string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for id, e := range m.entries {
		if uuid == "" || id == uuid {
			names = append(names, e.name)
			e.wipe()
			delete(m.entries, id)
		}
	}
	return names
}

// holds reports whether a log-in is remembered for the profile now.
func (m *memory) holds(uuid string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[uuid]
	return e != nil && now.Before(e.expires)
}

func (e *remembered) wipe() {
	for k, v := range e.values {
		clear(v)
		delete(e.values, k)
	}
}
