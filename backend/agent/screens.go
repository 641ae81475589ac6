package agent

import "sync"

// screens are where the clinician may be: the TUI in charge, and every
// client screen (a TUI, the kiosk) that follows the one in charge and may
// act. NetworkManager asks the one agent of the device; each prompt goes
// to every screen, the first answer wins and the others see the prompt
// withdrawn. A prompt that arrives while no screen is attached waits for
// one (until its time runs out): a kiosk that starts after the service
// still gets the morning's log-in.
type screens struct {
	mu   sync.Mutex
	next int
	out  map[int]chan Request
}

func newScreens() *screens { return &screens{out: map[int]chan Request{}} }

// attach adds a screen and hands it the prompts waiting now.
func (s *screens) attach(pending []Request) (<-chan Request, func()) {
	ch := make(chan Request, 16+len(pending))
	for _, r := range pending {
		ch <- r
	}
	s.mu.Lock()
	s.next++
	id := s.next
	s.out[id] = ch
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.out, id)
		s.mu.Unlock()
	}
}

// send gives every screen a prompt or a withdrawal; a screen that does not
// keep up misses it rather than hold NetworkManager's call.
func (s *screens) send(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.out {
		select {
		case ch <- r:
		default:
		}
	}
}

// count is how many screens are attached.
func (s *screens) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.out)
}
