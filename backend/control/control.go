// Package control lets observers see what the instance in charge sees and
// decides. The holder serves a unix socket in the state directory that
// streams its probe results and failover decisions as JSON lines; an
// observer (a technician over SSH while the kiosk runs) folds them into
// its own picture, which it otherwise reads from NetworkManager itself.
// The only thing that flows the other way is a request (connect the VPN),
// and the holder carries it out only when its config lets technicians act.
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/probe"
)

// SocketName is the socket's file name in the state directory; demos use
// their own, as they use their own lock.
const (
	SocketName     = "control.sock"
	DemoSocketName = "demo-control.sock"
)

// Message is one line on the socket.
type Message struct {
	Type   string          `json:"type"` // hello, event, probe, work; request and reply
	Holder string          `json:"holder,omitempty"`
	Event  *netstate.Event `json:"event,omitempty"`
	Link   string          `json:"link,omitempty"`
	Probe  *netstate.Probe `json:"probe,omitempty"`
	Work   *netstate.Work  `json:"work,omitempty"`
	// Op is a request's operation (OpConnectVPN); Text a reply's words.
	Op   string `json:"op,omitempty"`
	Text string `json:"text,omitempty"`
}

// OpConnectVPN asks the holder to connect the VPN now.
const OpConnectVPN = "vpn-connect"

// Handler carries out an observer's request and says what came of it.
// A nil Handler refuses every request.
type Handler func(op string) string

// shared are the event kinds only the holder knows: its decisions and what
// came of them. Link and level events an observer derives itself.
var shared = map[netstate.EventKind]bool{
	netstate.EventFailover: true, netstate.EventFailback: true, netstate.EventDecision: true,
	netstate.EventVPNUp: true, netstate.EventVPNDown: true, netstate.EventApp: true, netstate.EventJournal: true,
	netstate.EventVisit: true, netstate.EventCredential: true,
}

// Serve streams the engine's decisions and probe results to every client
// until ctx ends. The socket is created 0600: only the same user (or
// root) may watch.
func Serve(ctx context.Context, path, holder string, eng *engine.Engine, h Handler) error {
	_ = os.Remove(path) // left by a holder that died; the lock says we are in charge
	old := umask(0o177)
	l, err := net.Listen("unix", path)
	umask(old)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		l.Close()
		os.Remove(path)
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			serveOne(ctx, c, holder, eng, h)
		}()
	}
}

func serveOne(ctx context.Context, c net.Conn, holder string, eng *engine.Engine, h Handler) {
	enc := json.NewEncoder(c)
	var wmu sync.Mutex
	send := func(m Message) bool {
		wmu.Lock()
		defer wmu.Unlock()
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		return enc.Encode(m) == nil
	}
	if !send(Message{Type: "hello", Holder: holder}) {
		return
	}
	// Requests come in on the same connection.
	go func() {
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			var m Message
			if json.Unmarshal(sc.Bytes(), &m) != nil || m.Type != "request" {
				continue
			}
			text := "The fieldlink in charge does not let technicians act ([technician] act = true in its config allows it)."
			if h != nil {
				text = h(m.Op)
			}
			if !send(Message{Type: "reply", Op: m.Op, Text: text}) {
				return
			}
		}
	}()
	states, stop := eng.Subscribe()
	defer stop()
	var lastSeq uint64
	sent := map[string]time.Time{}
	first := true
	var work netstate.Work
	for {
		select {
		case <-ctx.Done():
			return
		case st := <-states:
			if first || st.Work != work {
				work = st.Work
				w := work
				if !send(Message{Type: "work", Work: &w}) {
					return
				}
			}
			for _, ev := range st.Events {
				if ev.Seq <= lastSeq {
					continue
				}
				lastSeq = ev.Seq
				// On connecting, the recent history; afterwards, news.
				if shared[ev.Kind] && (!first || time.Since(ev.Time) < time.Hour) {
					e := ev
					if !send(Message{Type: "event", Event: &e}) {
						return
					}
				}
			}
			first = false
			for _, l := range st.Snapshot.Links {
				if l.Probe.Checked.IsZero() || sent[l.ID].Equal(l.Probe.Checked) {
					continue
				}
				sent[l.ID] = l.Probe.Checked
				p := l.Probe
				if !send(Message{Type: "probe", Link: l.ID, Probe: &p}) {
					return
				}
			}
		}
	}
}

// Follow connects an observer's engine to the holder's socket and folds in
// what it streams, reconnecting while ctx lasts. It returns when ctx ends.
func Follow(ctx context.Context, path string, eng *engine.Engine, now func() time.Time) {
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		err := followOnce(ctx, path, eng, now)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			backoff = min(2*backoff, 10*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

func followOnce(ctx context.Context, path string, eng *engine.Engine, now func() time.Time) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	defer c.Close()
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue // a newer holder may send kinds this one does not know
		}
		switch m.Type {
		case "event":
			if m.Event != nil {
				ev := *m.Event
				ev.Text = "[in charge] " + ev.Text
				eng.AddEvents(ev)
				eng.Notify()
			}
		case "work":
			if m.Work != nil {
				eng.SetWork(*m.Work)
			}
		case "probe":
			if m.Probe != nil && m.Link != "" {
				eng.IngestProbe(probe.Report{Link: m.Link, Probe: *m.Probe}, now())
				eng.Notify()
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("the instance in charge closed the connection")
}

// Request asks the holder to do something (OpConnectVPN) and returns its
// answer in words.
func Request(ctx context.Context, path, op string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", fmt.Errorf("cannot reach the fieldlink in charge: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if err := json.NewEncoder(c).Encode(Message{Type: "request", Op: op}); err != nil {
		return "", err
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m Message
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Type == "reply" && m.Op == op {
			return m.Text, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("the fieldlink in charge did not answer")
}
