package simpin

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/agent"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// screen answers prompts with the PINs it is given, in order.
type screen struct {
	mu      sync.Mutex
	pins    []string
	details []string
}

func (s *screen) AskLocal(req agent.Request, done func(map[string]string, error)) uint64 {
	s.mu.Lock()
	s.details = append(s.details, req.Detail)
	if len(s.pins) == 0 {
		s.mu.Unlock()
		return 1 // left on screen
	}
	pin := s.pins[0]
	s.pins = s.pins[1:]
	s.mu.Unlock()
	go done(map[string]string{"pin": pin}, nil)
	return 1
}

func (s *screen) Withdraw(uint64, string) {}

// sim is ModemManager's SIM: it never re-reads its count, so only the
// keeper's own counting stands between the clinician and the PUK.
type sim struct {
	pin  string
	sent []string
	mu   sync.Mutex
}

func (m *sim) SendPIN(_ context.Context, _ string, pin string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, pin)
	if pin != m.pin {
		return errors.New("org.freedesktop.ModemManager1.Error.MobileEquipment.IncorrectPassword")
	}
	return nil
}

func locked(tries int) *netstate.Snapshot {
	l := netstate.Link{ID: "wwan0", Kind: netstate.KindCellular}
	l.Cell.Lock, l.Cell.PINTries, l.Cell.SIMPath = "sim-pin", tries, "/org/freedesktop/ModemManager1/SIM/0"
	return &netstate.Snapshot{Links: []netstate.Link{l}}
}

// TestWrongPINsStopBeforeTheLastTry: each wrong PIN is asked for again at
// once with one try fewer, even when ModemManager's count never moves,
// and the keeper stops at one try left with words for IT.
func TestWrongPINsStopBeforeTheLastTry(t *testing.T) {
	sc := &screen{pins: []string{"0000", "1111", "2222"}}
	m := &sim{pin: "2468"}
	var mu sync.Mutex
	var said []string
	k := New(sc, m, func(ev netstate.Event) { mu.Lock(); said = append(said, ev.Text); mu.Unlock() })
	k.Observe(locked(3))
	deadline := time.After(5 * time.Second)
	for {
		mu.Lock()
		done := strings.Contains(strings.Join(said, "\n"), "Call IT: one try left")
		mu.Unlock()
		if done {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("never stopped asking: %q", said)
		default:
		}
		k.Observe(locked(3)) // ModemManager still says 3
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sent) != 2 {
		t.Fatalf("PINs sent %v: want two, then none with one try left", m.sent)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	want := []string{"3 tries left before the SIM locks.", "That PIN was wrong. 2 tries left before the SIM locks."}
	if len(sc.details) != 2 || sc.details[0] != want[0] || sc.details[1] != want[1] {
		t.Fatalf("prompts %q, want %q", sc.details, want)
	}
}
