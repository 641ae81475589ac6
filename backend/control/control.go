// Package control connects the fieldlink in charge of a device with every
// other fieldlink on it (its clients). The holder serves a unix socket
// that streams its probe results, decisions and work state as JSON lines;
// a client folds them into its own picture, which it otherwise reads from
// NetworkManager itself. Requests (connect the VPN, mark a visit, read the
// report) flow the other way, and the holder decides on each by the
// account the kernel says sent it (SO_PEERCRED), never by what the
// client claims.
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

	"golang.org/x/sys/unix"

	"github.com/fieldlink/fieldlink/backend/agent"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/probe"
)

// Message is one line on the socket.
type Message struct {
	Type   string          `json:"type"` // hello, event, probe, work; request and reply; busy (no place)
	Holder string          `json:"holder,omitempty"`
	Event  *netstate.Event `json:"event,omitempty"`
	Link   string          `json:"link,omitempty"`
	Probe  *netstate.Probe `json:"probe,omitempty"`
	Work   *netstate.Work  `json:"work,omitempty"`
	// Op is a request's operation and Args its arguments (a join's
	// network, as JSON); Text a reply's words, Data its payload
	// (a report as JSON), Refused whether the holder said no.
	Op      string          `json:"op,omitempty"`
	Args    json.RawMessage `json:"args,omitempty"`
	Text    string          `json:"text,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	Refused bool            `json:"refused,omitempty"`
	// Prompt is one of NetworkManager's requests for a secret (or its
	// withdrawal), for a screen that may answer; Prompt.ID and Secrets
	// are that screen's answer on its way back. Secrets travel only on
	// this socket, between this device's processes.
	Prompt  *agent.Request    `json:"prompt,omitempty"`
	ID      uint64            `json:"id,omitempty"`
	Secrets map[string]string `json:"secrets,omitempty"`
}

// Requests a client may make.
const (
	OpConnectVPN = "vpn-connect" // connect the VPN now
	OpVisit      = "visit"       // start a visit, or end the one in progress
	OpReport     = "report"      // this device's report over the last 30 days
	OpScan       = "wifi-scan"   // look for Wi-Fi networks now
	OpJoin       = "wifi-join"   // join a Wi-Fi network (Args: a join.Request)
)

// Peer is who is at the other end of a connection, as the kernel says.
type Peer struct {
	PID, UID, GID int
}

// Reply is what the holder answers to a request.
type Reply struct {
	Text    string
	Data    []byte
	Refused bool
}

// Handler carries out a client's request and says what came of it. A nil
// Handler refuses every request.
type Handler func(p Peer, op string, args json.RawMessage) Reply

// shared are the event kinds only the holder knows: its decisions and what
// came of them. Link and level events a client derives itself.
var shared = map[netstate.EventKind]bool{
	netstate.EventFailover: true, netstate.EventFailback: true, netstate.EventDecision: true,
	netstate.EventVPNUp: true, netstate.EventVPNDown: true, netstate.EventApp: true, netstate.EventJournal: true,
	netstate.EventVisit: true, netstate.EventCredential: true, netstate.EventPrompt: true,
	netstate.EventJoin: true,
}

// ServeOptions configure Serve.
type ServeOptions struct {
	// Holder describes this instance for the hello line.
	Holder string
	// Mode of the socket file: 0666 where any account may watch (requests
	// are still authorized by peer credentials), 0600 for one account.
	Mode os.FileMode
	// Handle answers requests.
	Handle Handler
	// Pools bound the connections served at once, by Class and account
	// (default DefaultPools): no local account can exhaust the holder or
	// starve the screens of those who may act.
	Pools Pools
	// Classify says which pool a peer draws from (default: every peer a
	// Member).
	Classify func(Peer) Class
	// Prompts is the holder's secret agent: screens that may act get its
	// prompts and answer them. Nil: no prompts go out.
	Prompts Prompter
	// MayAnswer says whether a peer may see and answer prompts (the
	// accounts that may act).
	MayAnswer func(Peer) bool
}

// Prompter is the holder's secret agent as its client screens see it.
type Prompter interface {
	Attach() (<-chan agent.Request, func())
	Answer(id uint64, values map[string]string) error
	Cancel(id uint64)
}

// Serve streams the engine's decisions, probe results and work to every
// client until ctx ends.
func Serve(ctx context.Context, path string, eng *engine.Engine, opt ServeOptions) error {
	if opt.Mode == 0 {
		opt.Mode = 0o600
	}
	if opt.Pools == (Pools{}) {
		opt.Pools = DefaultPools
	}
	if opt.Classify == nil {
		opt.Classify = func(Peer) Class { return Member }
	}
	// A socket left by a holder that died; we are in charge now. Only a
	// socket is removed: anything else there is not ours.
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("%s exists and is not a socket", path)
		}
		_ = os.Remove(path)
	}
	old := unix.Umask(0o177)
	l, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return err
	}
	if opt.Mode != 0o600 {
		if err := os.Chmod(path, opt.Mode); err != nil {
			l.Close()
			return err
		}
	}
	go func() {
		<-ctx.Done()
		l.Close()
		os.Remove(path)
	}()
	adm := newAdmission(opt.Pools)
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
		// Who is asking is known before a place is taken: an account
		// that may only watch never takes a place of those who may act.
		peer, err := PeerOf(c)
		if err != nil {
			c.Close()
			continue
		}
		pool, ok := adm.admit(opt.Classify(peer), peer.UID)
		if !ok {
			refuseBusy(c)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer adm.leave(pool, peer.UID)
			defer c.Close()
			serveOne(ctx, c, peer, eng, opt)
		}()
	}
}

// refuseBusy tells a connection there is no place for it and closes it;
// the line fits the socket's buffer, and the deadline keeps a peer that
// reads nothing from holding up the accepting.
func refuseBusy(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	json.NewEncoder(c).Encode(Message{Type: "busy", Text: "The fieldlink in charge has as many screens open from your account as it serves: close one and try again."})
	c.Close()
}

// PeerOf returns the credentials of the process at the other end of a
// unix socket connection.
func PeerOf(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, errors.New("not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, err
	}
	if cerr != nil {
		return Peer{}, cerr
	}
	return Peer{PID: int(cred.Pid), UID: int(cred.Uid), GID: int(cred.Gid)}, nil
}

func serveOne(ctx context.Context, c net.Conn, peer Peer, eng *engine.Engine, opt ServeOptions) {
	enc := json.NewEncoder(c)
	var wmu sync.Mutex
	send := func(m Message) bool {
		wmu.Lock()
		defer wmu.Unlock()
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		return enc.Encode(m) == nil
	}
	if !send(Message{Type: "hello", Holder: opt.Holder}) {
		return
	}
	// Requests, and a screen's answers, come in on the same connection.
	sc := &screenSide{peer: peer, opt: opt, send: send}
	defer sc.detach()
	go func() {
		in := bufio.NewScanner(c)
		in.Buffer(make([]byte, 4<<10), 64<<10)
		for in.Scan() {
			var m Message
			if json.Unmarshal(in.Bytes(), &m) != nil {
				continue
			}
			switch m.Type {
			case "request":
				r := Reply{Text: "The fieldlink in charge takes no requests.", Refused: true}
				if opt.Handle != nil {
					r = opt.Handle(peer, m.Op, m.Args)
				}
				if !send(Message{Type: "reply", Op: m.Op, Text: r.Text, Data: r.Data, Refused: r.Refused}) {
					return
				}
			case "screen", "answer", "cancel":
				if !sc.handle(ctx, m) {
					return
				}
			}
			clear(m.Secrets)
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
				// A round, or the link's traffic answered (a check that cost
				// nothing), is news for the observers' details.
				at := l.Probe.Checked
				if l.Probe.Traffic.After(at) {
					at = l.Probe.Traffic
				}
				if at.IsZero() || sent[l.ID].Equal(at) {
					continue
				}
				sent[l.ID] = at
				p := l.Probe
				if !send(Message{Type: "probe", Link: l.ID, Probe: &p}) {
					return
				}
			}
		}
	}
}

// Locator finds the holder's socket now, and the pid that must be serving
// it (0: do not check); ok is false while nobody is in charge.
type Locator func(ctx context.Context) (path string, pid int, ok bool, err error)

// ErrNobody is returned when nobody is in charge to answer.
var ErrNobody = errors.New("no fieldlink is in charge of this device")

// dial connects to the holder's socket and checks, by the kernel's word,
// that the process serving it is the one in charge: a socket file is only
// a name, and another process could have bound it.
func dial(ctx context.Context, locate Locator) (net.Conn, error) {
	path, pid, ok, err := locate(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNobody
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	if pid != 0 {
		p, err := PeerOf(c)
		if err != nil || p.PID != pid {
			c.Close()
			return nil, fmt.Errorf("%s is not served by the fieldlink in charge (pid %d)", path, pid)
		}
	}
	return c, nil
}

// Follow connects a client's engine to the holder's socket and folds in
// what it streams, finding the holder afresh at each reconnection (it may
// have restarted), while ctx lasts. status, if not nil, is told whether
// the client is following.
func Follow(ctx context.Context, locate Locator, eng *engine.Engine, now func() time.Time, status func(following bool, err error)) {
	FollowAsScreen(ctx, locate, eng, now, status, nil)
}

// FollowAsScreen is Follow for a screen where the clinician may answer
// the holder's prompts (a TUI, the kiosk): screen receives them.
func FollowAsScreen(ctx context.Context, locate Locator, eng *engine.Engine, now func() time.Time, status func(following bool, err error), screen *Screen) {
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		err := followOnce(ctx, locate, eng, now, status, screen)
		if ctx.Err() != nil {
			return
		}
		if status != nil {
			status(false, err)
		}
		if err != nil {
			backoff = min(2*backoff, 5*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

func followOnce(ctx context.Context, locate Locator, eng *engine.Engine, now func() time.Time, status func(bool, error), screen *Screen) error {
	c, err := dial(ctx, locate)
	if err != nil {
		return err
	}
	defer c.Close()
	if screen != nil {
		if err := screen.connect(c); err != nil {
			return err
		}
		defer screen.disconnect(c)
	}
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	if status != nil {
		status(true, nil)
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue // a newer holder may send kinds this one does not know
		}
		switch m.Type {
		case "hello":
			eng.SetHolder(m.Holder)
		case "event":
			if m.Event != nil {
				ev := *m.Event
				ev.Text = "[in charge] " + ev.Text
				eng.AddEvents(ev)
			}
		case "work":
			if m.Work != nil {
				eng.SetRemoteWork(*m.Work)
			}
		case "probe":
			if m.Probe != nil && m.Link != "" {
				eng.IngestProbe(probe.Report{Link: m.Link, Probe: *m.Probe}, now())
				eng.Notify()
			}
		case "prompt":
			if screen != nil && m.Prompt != nil {
				screen.deliver(*m.Prompt)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("the instance in charge closed the connection")
}

// Request asks the holder to do something and returns its answer.
func Request(ctx context.Context, locate Locator, op string) (Reply, error) {
	return RequestWith(ctx, locate, op, nil)
}

// RequestWith is Request with arguments, sent as JSON.
func RequestWith(ctx context.Context, locate Locator, op string, args any) (Reply, error) {
	var raw json.RawMessage
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return Reply{}, err
		}
		raw = b
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := dial(ctx, locate)
	if err != nil {
		if errors.Is(err, ErrNobody) {
			return Reply{}, err
		}
		return Reply{}, fmt.Errorf("cannot reach the fieldlink in charge: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if err := json.NewEncoder(c).Encode(Message{Type: "request", Op: op, Args: raw}); err != nil {
		return Reply{}, err
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var m Message
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		switch {
		case m.Type == "reply" && m.Op == op:
			return Reply{Text: m.Text, Data: m.Data, Refused: m.Refused}, nil
		case m.Type == "busy":
			return Reply{Text: m.Text, Refused: true}, nil
		}
	}
	if err := sc.Err(); err != nil {
		return Reply{}, err
	}
	return Reply{}, errors.New("the fieldlink in charge did not answer")
}
