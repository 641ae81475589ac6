package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/fieldlink/fieldlink/backend/charge"
	"github.com/fieldlink/fieldlink/backend/control"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/ui/app"
)

// joinTimeout bounds one join: NetworkManager's own prompt wait (2
// minutes) and the connection after it.
const joinTimeout = 3 * time.Minute

// peerActor is who a client's request to join comes from, as the kernel
// and the system's groups say: the request itself claims nothing.
func peerActor(p control.Peer) join.Actor {
	return join.Actor{
		MayAct:     charge.PeerMayAct(p.PID, p.UID, os.Geteuid()),
		Technician: isTechnician(p.PID, p.UID),
		Kiosk:      charge.Describe(p.PID, p.UID).Mode == "kiosk",
	}
}

// selfActor is the holder's own screen.
func selfActor(kiosk bool) join.Actor {
	return join.Actor{MayAct: true, Technician: isTechnician(os.Getpid(), os.Geteuid()), Kiosk: kiosk}
}

// isTechnician: root, or a process in join.TechnicianGroup.
func isTechnician(pid, uid int) bool {
	if uid == 0 {
		return true
	}
	if g, err := user.LookupGroup(join.TechnicianGroup); err == nil {
		if gid, err := strconv.Atoi(g.Gid); err == nil && charge.ProcessInGroup(pid, uid, gid) {
			return true
		}
	}
	return charge.InGroup(uid, join.TechnicianGroup)
}

// handleJoin answers a client's scan or join.
func (r *running) handleJoin(p control.Peer, op string, args json.RawMessage, who string) control.Reply {
	a := peerActor(p)
	if op == control.OpScan {
		if !a.MayAct {
			return control.Reply{Refused: true, Text: "Your account (" + who + ") may watch but not scan for networks."}
		}
		return r.scan()
	}
	var req join.Request
	if err := json.Unmarshal(args, &req); err != nil {
		return control.Reply{Refused: true, Text: "The request to join named no network fieldlink can read."}
	}
	return r.startJoin(a, req, who)
}

// scan asks the radios to look again.
func (r *running) scan() control.Reply {
	if r.joiner == nil {
		return control.Reply{Refused: true, Text: "The fieldlink in charge cannot scan for networks."}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.joiner.Scan(ctx); err != nil {
		return control.Reply{Refused: true, Text: "Scan not started: " + oneLine(err)}
	}
	return control.Reply{Text: "Looking for networks: the list fills in over a few seconds."}
}

// startJoin checks IT's policy and the request, then joins in the
// background; what comes of it is an event every screen shows (the key,
// if one is needed, is asked by NetworkManager through the agent).
func (r *running) startJoin(a join.Actor, req join.Request, who string) control.Reply {
	if r.joiner == nil {
		return control.Reply{Refused: true, Text: "The fieldlink in charge cannot join networks."}
	}
	if err := req.Validate(); err != nil {
		return control.Reply{Refused: true, Text: "Not joined: " + err.Error() + "."}
	}
	if err := r.cfg.JoinPolicy().Check(a, req.SSID); err != nil {
		return control.Reply{Refused: true, Text: "Not joined: " + err.Error() + "."}
	}
	if !r.joining.CompareAndSwap(false, true) {
		return control.Reply{Refused: true, Text: "A network is being joined already: wait for it."}
	}
	r.eng.AddEvents(netstate.Event{Time: time.Now(), Kind: netstate.EventJoin, Link: req.Interface,
		Level: netstate.LevelUnknown, Text: fmt.Sprintf("%s asked to join Wi-Fi %s", who, req.SSID)})
	go func() {
		defer r.joining.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
		defer cancel()
		text, err := r.joiner.Join(ctx, req)
		ev := netstate.Event{Time: time.Now(), Kind: netstate.EventJoin, Link: req.Interface, Level: netstate.LevelGreen, Text: text}
		if err != nil {
			ev.Level, ev.Text = netstate.LevelRed, oneLine(err)
			var refused *join.Refused
			if errors.As(err, &refused) {
				ev.Level = netstate.LevelAmber
			}
		}
		r.eng.AddEvents(ev)
	}()
	return control.Reply{Text: "Joining " + req.SSID + ": a key, if needed, is asked here."}
}

// joinOptions wires the screen's list of networks: the holder's own screen
// joins itself, under the same policy a client's request meets; a client
// asks the holder, which decides again.
func (r *running) joinOptions(ctx context.Context, ao *app.Options, kiosk bool) {
	pol := r.cfg.JoinPolicy()
	ao.JoinPolicy = pol
	if r.role == engine.Holder {
		a := selfActor(kiosk)
		if err := pol.May(a); err != nil {
			ao.JoinRefusal = err.Error()
		}
		who := charge.Self("").User
		ao.Scan = func() string { return r.scan().Text }
		ao.Join = func(req join.Request) string { return r.startJoin(a, req, who).Text }
		return
	}
	a := join.Actor{MayAct: !ao.ReadOnly, Technician: isTechnician(os.Getpid(), os.Geteuid()), Kiosk: kiosk}
	if err := pol.May(a); err != nil {
		ao.JoinRefusal = err.Error()
	}
	ao.Scan = func() string {
		rep, err := control.Request(ctx, r.locate, control.OpScan)
		if err != nil {
			return err.Error()
		}
		return rep.Text
	}
	ao.Join = func(req join.Request) string {
		rep, err := control.RequestWith(ctx, r.locate, control.OpJoin, req)
		if err != nil {
			return err.Error()
		}
		return rep.Text
	}
}
