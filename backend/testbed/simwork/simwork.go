// Package simwork makes the traffic of a clinician's work from the
// device under test: requests to a service on the far side of the cables,
// in bursts between idle spells, each on a new connection as an app that
// retries would make them, noting when each went out and whether it was
// answered. fieldlink reads that traffic as evidence; a test black-holes
// the link under it and measures from the first request swallowed.
package simwork

import (
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"
)

// Dialer connects from the device under test.
type Dialer func(network, addr string, timeout time.Duration) (net.Conn, error)

// Pace is how the work comes: a request every Every (jittered by half)
// during busy spells of Busy, separated by idle spells of Idle (each drawn
// between its two bounds). Zero Idle: busy all the time.
type Pace struct {
	Every      time.Duration
	Busy, Idle [2]time.Duration
	Seed       uint64
}

// Request is one request made.
type Request struct {
	Sent     time.Time
	Answered bool
}

// Clinician is the simulated work, running.
type Clinician struct {
	dial   Dialer
	addr   string
	pace   Pace
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	reqs []Request
}

// Start begins the work against addr (host:port of a Serve listener).
func Start(dial Dialer, addr string, pace Pace) *Clinician {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Clinician{dial: dial, addr: addr, pace: pace, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c
}

// Stop ends the work and waits for requests in flight.
func (c *Clinician) Stop() {
	c.cancel()
	<-c.done
}

func (c *Clinician) run(ctx context.Context) {
	defer close(c.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	rng := rand.New(rand.NewPCG(c.pace.Seed, c.pace.Seed^0x5eed))
	between := func(r [2]time.Duration) time.Duration {
		if r[1] <= r[0] {
			return r[0]
		}
		return r[0] + time.Duration(rng.Int64N(int64(r[1]-r[0])))
	}
	busyUntil := time.Now().Add(between(c.pace.Busy))
	for {
		if c.pace.Idle[1] > 0 && time.Now().After(busyUntil) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(between(c.pace.Idle)):
			}
			busyUntil = time.Now().Add(between(c.pace.Busy))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.request()
		}()
		gap := c.pace.Every/2 + time.Duration(rng.Int64N(int64(c.pace.Every)+1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap):
		}
	}
}

// request makes one request: connect, ask, read the answer, within 2 s.
func (c *Clinician) request() {
	sent := time.Now()
	i := c.note(Request{Sent: sent})
	conn, err := c.dial("tcp", c.addr, 2*time.Second)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetDeadline(sent.Add(2 * time.Second))
	if _, err := io.WriteString(conn, "GET /record HTTP/1.1\r\nHost: clinical\r\nConnection: close\r\n\r\n"); err != nil {
		return
	}
	if b, err := io.ReadAll(conn); err == nil && strings.HasPrefix(string(b), "HTTP/1.1 200") {
		c.mu.Lock()
		c.reqs[i].Answered = true
		c.mu.Unlock()
	}
}

func (c *Clinician) note(r Request) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs = append(c.reqs, r)
	return len(c.reqs) - 1
}

// Requests returns the requests made so far.
func (c *Clinician) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.reqs...)
}

// FirstSentAfter is when the first request at or after t went out.
func (c *Clinician) FirstSentAfter(t time.Time) (time.Time, bool) {
	for _, r := range c.Requests() {
		if !r.Sent.Before(t) {
			return r.Sent, true
		}
	}
	return time.Time{}, false
}

// Serve answers the work's requests on l (a record of 512 bytes) until l
// is closed.
func Serve(l net.Listener) {
	body := strings.Repeat("r", 512)
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(conn)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if line == "\r\n" {
					break
				}
			}
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 512\r\nConnection: close\r\n\r\n"+body)
		}()
	}
}
