// Package control lets observers see what the instance in charge sees and
// decides. The holder serves a unix socket in the state directory that
// streams its probe results and failover decisions as JSON lines; an
// observer (a technician over SSH while the kiosk runs) folds them into
// its own picture, which it otherwise reads from NetworkManager itself.
// Nothing flows the other way: an observer changes nothing.
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
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
	Type   string          `json:"type"` // hello, event, probe
	Holder string          `json:"holder,omitempty"`
	Event  *netstate.Event `json:"event,omitempty"`
	Link   string          `json:"link,omitempty"`
	Probe  *netstate.Probe `json:"probe,omitempty"`
}

// shared are the event kinds only the holder knows: its decisions and what
// came of them. Link and level events an observer derives itself.
var shared = map[netstate.EventKind]bool{
	netstate.EventFailover: true, netstate.EventFailback: true, netstate.EventDecision: true,
	netstate.EventVPNUp: true, netstate.EventVPNDown: true, netstate.EventApp: true, netstate.EventJournal: true,
	netstate.EventVisit: true,
}

// Serve streams the engine's decisions and probe results to every client
// until ctx ends. The socket is created 0600: only the same user (or
// root) may watch.
func Serve(ctx context.Context, path, holder string, eng *engine.Engine) error {
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
			serveOne(ctx, c, holder, eng)
		}()
	}
}

func serveOne(ctx context.Context, c net.Conn, holder string, eng *engine.Engine) {
	enc := json.NewEncoder(c)
	send := func(m Message) bool {
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		return enc.Encode(m) == nil
	}
	if !send(Message{Type: "hello", Holder: holder}) {
		return
	}
	states, stop := eng.Subscribe()
	defer stop()
	var lastSeq uint64
	sent := map[string]time.Time{}
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case st := <-states:
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
