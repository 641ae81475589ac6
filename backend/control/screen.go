package control

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/fieldlink/fieldlink/backend/agent"
)

// screenSide is the holder's end of one client screen: once the client
// says it is a screen (and its account may act), the agent's prompts go
// to it and its answers come back.
type screenSide struct {
	peer     Peer
	opt      ServeOptions
	send     func(Message) bool
	mu       sync.Mutex
	attached bool
	stop     func()
}

// handle takes a screen's message; false ends the connection.
func (s *screenSide) handle(ctx context.Context, m Message) bool {
	if s.opt.Prompts == nil || s.opt.MayAnswer == nil || !s.opt.MayAnswer(s.peer) {
		// An account that may only watch never sees a prompt and cannot
		// answer one.
		return true
	}
	switch m.Type {
	case "screen":
		s.attach(ctx)
	case "answer":
		if s.isAttached() {
			if err := s.opt.Prompts.Answer(m.ID, m.Secrets); err != nil {
				return s.send(Message{Type: "reply", Op: "answer", Text: err.Error(), Refused: true})
			}
		}
	case "cancel":
		if s.isAttached() {
			s.opt.Prompts.Cancel(m.ID)
		}
	}
	return true
}

func (s *screenSide) attach(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attached {
		return
	}
	ch, detach := s.opt.Prompts.Attach()
	done := make(chan struct{})
	s.attached = true
	s.stop = func() { detach(); close(done) }
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case r := <-ch:
				if !s.send(Message{Type: "prompt", Prompt: &r}) {
					return
				}
			}
		}
	}()
}

func (s *screenSide) isAttached() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attached
}

func (s *screenSide) detach() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// Screen is a client's window onto the holder's secret agent: the prompts
// NetworkManager's requests become, and the way the clinician's answers
// go back. It lasts across reconnections to the holder.
type Screen struct {
	prompts chan agent.Request
	mu      sync.Mutex
	conn    net.Conn
	enc     *json.Encoder
	shown   map[uint64]agent.Request // prompts on screen now
}

// NewScreen returns a screen for FollowAsScreen.
func NewScreen() *Screen {
	return &Screen{prompts: make(chan agent.Request, 16), shown: map[uint64]agent.Request{}}
}

// Prompts delivers the holder's prompts and their withdrawals.
func (s *Screen) Prompts() <-chan agent.Request { return s.prompts }

// ErrNotFollowing is returned when the answer cannot reach the holder.
var ErrNotFollowing = errors.New("not connected to the fieldlink in charge: the answer cannot reach NetworkManager")

// Answer sends the clinician's answer to the holder, and so to
// NetworkManager.
func (s *Screen) Answer(id uint64, values map[string]string) error {
	return s.write(Message{Type: "answer", ID: id, Secrets: values})
}

// Cancel tells the holder the clinician declined.
func (s *Screen) Cancel(id uint64) { _ = s.write(Message{Type: "cancel", ID: id}) }

func (s *Screen) write(m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return ErrNotFollowing
	}
	s.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	return s.enc.Encode(m)
}

func (s *Screen) connect(c net.Conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn, s.enc = c, json.NewEncoder(c)
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	return s.enc.Encode(Message{Type: "screen"})
}

// disconnect withdraws the prompts on screen: their answers could no
// longer reach the holder (a holder that comes back asks afresh).
func (s *Screen) disconnect(c net.Conn) {
	s.mu.Lock()
	if s.conn == c {
		s.conn, s.enc = nil, nil
	}
	var gone []agent.Request
	for id, r := range s.shown {
		r.Withdrawn, r.Reason = true, "the fieldlink in charge went away"
		gone = append(gone, r)
		delete(s.shown, id)
	}
	s.mu.Unlock()
	for _, r := range gone {
		s.push(r)
	}
}

func (s *Screen) deliver(r agent.Request) {
	s.mu.Lock()
	if r.Withdrawn {
		delete(s.shown, r.ID)
	} else {
		s.shown[r.ID] = r
	}
	s.mu.Unlock()
	s.push(r)
}

func (s *Screen) push(r agent.Request) {
	select {
	case s.prompts <- r:
	default:
	}
}
