// Package simpin asks the clinician for a locked SIM's PIN at the start of
// the day and hands it to ModemManager (Sim.SendPin). The PIN goes from
// the prompt to ModemManager and is kept nowhere; fieldlink says how many
// tries are left, and stops before the last one: a SIM that locks on a
// wrong PIN needs its PUK, which only IT has.
package simpin

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fieldlink/fieldlink/backend/agent"
	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Asker puts a prompt on the clinician's screens (the device's agent).
type Asker interface {
	AskLocal(req agent.Request, done func(values map[string]string, err error)) uint64
	Withdraw(id uint64, why string)
}

// Sender gives ModemManager a SIM's PIN.
type Sender interface {
	SendPIN(ctx context.Context, simPath, pin string) error
}

// Keeper follows the snapshots and asks when a SIM needs its PIN.
type Keeper struct {
	ask   Asker
	send  Sender
	event func(netstate.Event)

	mu     sync.Mutex
	asking map[string]uint64 // link ID → the prompt on screen
	said   map[string]string // link ID → what was last said, once
	wrong  map[string]bool   // the last PIN given was refused
	// floor is the tries left as counted here after a refusal: a wrong
	// PIN costs one whether or not ModemManager has re-read the count, and
	// the lower of the two is believed (asking once too many locks it).
	floor map[string]int
	// last is each locked SIM's link as last seen, to ask again from at
	// once after a refusal.
	last map[string]netstate.Link
}

// New returns a keeper.
func New(ask Asker, send Sender, event func(netstate.Event)) *Keeper {
	return &Keeper{ask: ask, send: send, event: event, asking: map[string]uint64{}, said: map[string]string{}, wrong: map[string]bool{},
		floor: map[string]int{}, last: map[string]netstate.Link{}}
}

// Observe looks at a picture: a SIM that needs its PIN is asked for once
// at a time; a SIM that no longer needs it has its prompt withdrawn.
func (k *Keeper) Observe(s *netstate.Snapshot) {
	k.mu.Lock()
	defer k.mu.Unlock()
	locked := map[string]bool{}
	for i := range s.Links {
		l := &s.Links[i]
		if l.Kind != netstate.KindCellular || l.Cell.Lock == "" {
			continue
		}
		locked[l.ID] = true
		k.last[l.ID] = *l
		if _, on := k.asking[l.ID]; !on {
			k.decide(l)
		}
	}
	for id, p := range k.asking {
		if !locked[id] {
			if p != 0 {
				k.ask.Withdraw(p, "the SIM no longer needs it")
			}
			delete(k.asking, id)
		}
	}
	for id := range k.last {
		if !locked[id] {
			delete(k.said, id)
			delete(k.wrong, id)
			delete(k.floor, id)
			delete(k.last, id)
		}
	}
}

// decide asks for the PIN, or says why it will not. k.mu is held.
func (k *Keeper) decide(l *netstate.Link) {
	tries := l.Cell.PINTries
	if f, ok := k.floor[l.ID]; ok && (tries < 0 || f < tries) {
		tries = f
	}
	name := l.ID
	if l.Cell.SIM.Operator != "" {
		name += " (" + l.Cell.SIM.Operator + ")"
	}
	switch {
	case l.Cell.Lock == "sim-puk":
		k.once(l.ID, netstate.LevelRed, fmt.Sprintf("The SIM in %s is blocked: call IT, it needs its PUK code", name))
		return
	case tries == 1:
		k.once(l.ID, netstate.LevelRed, fmt.Sprintf("Call IT: one try left before the SIM in %s locks; fieldlink will not use it", name))
		return
	case tries == 0:
		k.once(l.ID, netstate.LevelRed, fmt.Sprintf("The SIM in %s has no PIN tries left: call IT", name))
		return
	}
	detail := "Mobile data waits for it."
	if tries > 1 {
		detail = fmt.Sprintf("%d tries left before the SIM locks.", tries)
	}
	if k.wrong[l.ID] {
		detail = "That PIN was wrong. " + detail
	}
	req := agent.Request{Title: "The SIM in " + name + " needs its PIN", Detail: detail,
		Fields: []agent.Field{{Key: "pin", Label: "SIM PIN", Secret: true}}}
	id, path := l.ID, l.Cell.SIMPath
	k.asking[id] = k.ask.AskLocal(req, func(v map[string]string, err error) { k.answered(id, name, path, v, err) })
	k.event(netstate.Event{Time: time.Now(), Kind: netstate.EventPrompt, Link: id, Level: netstate.LevelAmber,
		Text: fmt.Sprintf("Asked for the PIN of the SIM in %s (%s)", name, detail)})
}

// answered gives ModemManager the PIN (and forgets it).
func (k *Keeper) answered(id, name, path string, v map[string]string, err error) {
	if err != nil {
		k.mu.Lock()
		if _, still := k.last[id]; !still {
			k.mu.Unlock()
			return // withdrawn: the SIM no longer needs it
		}
		// Cancelled or left: asked again only when the lock changes.
		k.asking[id] = 0
		k.mu.Unlock()
		k.event(netstate.Event{Time: time.Now(), Kind: netstate.EventCredential, Link: id, Level: netstate.LevelAmber,
			Text: fmt.Sprintf("The PIN of the SIM in %s was not given (%v): mobile data stays off", name, err)})
		return
	}
	pin := v["pin"]
	clear(v)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	serr := k.send.SendPIN(ctx, path, pin)
	cancel()
	if serr != nil {
		k.event(netstate.Event{Time: time.Now(), Kind: netstate.EventCredential, Link: id, Level: netstate.LevelRed,
			Text: fmt.Sprintf("The SIM in %s refused the PIN", name)})
		k.refused(id)
		return
	}
	k.mu.Lock()
	// Sent: nothing more is asked until ModemManager's picture shows the
	// SIM unlocked (it may still say locked for a moment).
	k.asking[id] = 0
	k.wrong[id] = false
	k.mu.Unlock()
	k.event(netstate.Event{Time: time.Now(), Kind: netstate.EventCredential, Link: id, Level: netstate.LevelGreen,
		Text: fmt.Sprintf("The SIM in %s is unlocked", name)})
}

// refused counts the try a wrong PIN cost and asks again at once (a
// picture with ModemManager's new count may be a while coming), or says
// why not.
func (k *Keeper) refused(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.asking, id)
	k.wrong[id] = true
	l, ok := k.last[id]
	if !ok {
		return
	}
	tries := l.Cell.PINTries
	if f, ok := k.floor[id]; ok && (tries < 0 || f < tries) {
		tries = f
	}
	if tries > 0 {
		k.floor[id] = tries - 1
	}
	k.decide(&l)
}

func (k *Keeper) once(id string, lv netstate.Level, text string) {
	if k.said[id] == text {
		return
	}
	k.said[id] = text
	k.event(netstate.Event{Time: time.Now(), Kind: netstate.EventCredential, Link: id, Level: lv, Text: text})
}
