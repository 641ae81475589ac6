package probe

import (
	"context"
	"errors"
	"time"

	"github.com/fieldlink/fieldlink/backend/clock"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/traffic"
)

// trafficWatch reads the traffic of a link while it carries the work, one
// look per Config.Sample, and turns what it says into the link's state:
// answered is a check (no round needed), unanswered a doubt (a burst of
// rounds at once, and fresh answers asked of the other links). It lives in
// the link's loop goroutine.
type trafficWatch struct {
	ctx   context.Context
	p     *Prober
	ls    *linkState
	timer clock.Timer
	on    bool
	// prev is the last look, at the link's traffic as it was then.
	prev     traffic.Sample
	prevLink traffic.Link
	have     bool
	// idleLooks counts looks in a row with nothing sent. After sleepAfter
	// of them the watch sleeps: no look until a packet goes out (woke).
	idleLooks  int
	asleep     bool
	woke       chan error
	cancelWait context.CancelFunc
	cannotWait bool
}

// Waiter is a Sampler that can also wait, at no cost, for the first
// packet out of an idle link (traffic.Kernel, with CAP_NET_RAW).
type Waiter interface {
	WaitOutgoing(ctx context.Context, ifaces []string) error
}

// sleepAfter is how many looks in a row with nothing sent make the watch
// sleep until traffic comes back: a link left idle costs no wakeup.
const sleepAfter = 3

func newTrafficWatch(ctx context.Context, p *Prober, ls *linkState) *trafficWatch {
	t := p.clock.NewTimer(time.Hour)
	t.Stop()
	return &trafficWatch{ctx: ctx, p: p, ls: ls, timer: t}
}

func (w *trafficWatch) stop() {
	w.timer.Stop()
	w.wake()
}

// c is the timer's channel while the watch looks (nil blocks for ever).
func (w *trafficWatch) c() <-chan time.Time {
	if !w.on || w.asleep {
		return nil
	}
	return w.timer.C()
}

// woken is the channel that says traffic came back while asleep.
func (w *trafficWatch) woken() <-chan error {
	if !w.asleep {
		return nil
	}
	return w.woke
}

// sleep stops looking until a packet goes out by the link. The last look
// stays the baseline: the first look after waking, a Sample later, tells
// whether what went out was answered.
func (w *trafficWatch) sleep(link traffic.Link) {
	wt, ok := w.p.sampler.(Waiter)
	if !ok || w.cannotWait {
		return
	}
	ctx, cancel := context.WithCancel(w.ctx)
	ch := make(chan error, 1)
	w.asleep, w.woke, w.cancelWait = true, ch, cancel
	w.timer.Stop()
	go func() { ch <- wt.WaitOutgoing(ctx, link.Interfaces) }()
}

// wake ends a sleep (traffic came back, or the watch is turned off).
func (w *trafficWatch) wake() {
	if w.cancelWait != nil {
		w.cancelWait()
		w.cancelWait = nil
	}
	w.asleep, w.idleLooks = false, 0
}

// wokenBy handles the end of a sleep: look a Sample after the first
// packet, against the look from before the sleep.
func (w *trafficWatch) wokenBy(err error) {
	w.wake()
	if errors.Is(err, traffic.ErrCannotWait) {
		w.cannotWait = true
	} else if err != nil {
		w.have = false // the baseline is stale after a failed wait
	}
	w.timer.Reset(w.p.cfg.Sample)
}

// plan turns the watch on while the link carries the work (the first look
// at once, as the baseline), off otherwise.
func (w *trafficWatch) plan() {
	w.p.mu.Lock()
	want := w.p.sampler != nil && w.p.cfg.Sample > 0 && w.ls.role == Primary && len(w.ls.traffic.Interfaces) > 0
	w.p.mu.Unlock()
	switch {
	case want && !w.on:
		w.on, w.have = true, false
		w.timer.Reset(0)
	case !want && w.on:
		w.on = false
		w.timer.Stop()
		w.wake()
	}
}

// read takes one look and folds what it says into the link's state.
func (w *trafficWatch) read() {
	now := w.p.clock.Now()
	w.p.mu.Lock()
	link := w.ls.traffic
	w.p.mu.Unlock()
	cur, err := w.p.sampler.Sample(link, now)
	w.timer.Reset(w.p.cfg.Sample)
	if err != nil {
		w.have = false // no evidence: the clock's rounds stand
		return
	}
	prev, same := w.prev, w.have && sameLink(link, w.prevLink)
	w.prev, w.prevLink, w.have = cur, link, true
	if !same {
		return // a baseline
	}
	v := traffic.Compare(prev, cur)
	w.apply(v, now)
	if cur.TxPackets == prev.TxPackets && v == traffic.Idle {
		w.idleLooks++
	} else {
		w.idleLooks = 0
	}
	if w.idleLooks >= sleepAfter {
		w.sleep(link)
	}
}

// apply folds a verdict into the link's state.
func (w *trafficWatch) apply(v traffic.Verdict, now time.Time) {
	p, ls := w.p, w.ls
	p.mu.Lock()
	defer p.mu.Unlock()
	switch v {
	case traffic.Answered:
		ls.checked, ls.suspect = now, false
		if ls.failures > 0 {
			ls.refresh = true // answered again: a round confirms it
		}
		quiet := p.cfg.Idle
		if ls.metered {
			quiet = p.cfg.MeteredIdle
		}
		// The engine hears of it at the pace of the idle rounds it
		// replaces, not at every look: a screen is not redrawn each second.
		if ls.last.OK == netstate.Yes && now.Sub(ls.told) >= quiet {
			ls.told = now
			ls.last.Traffic = now
			select {
			case p.out <- Report{Link: ls.id, Probe: ls.last}:
			default: // the engine is behind; the next look tells it
				ls.told = time.Time{}
			}
		}
	case traffic.Unanswered:
		if !ls.suspect {
			ls.suspect = true
			p.refreshOthers(ls.id)
		}
	}
}

func sameLink(a, b traffic.Link) bool {
	if len(a.Interfaces) != len(b.Interfaces) || len(a.Addresses) != len(b.Addresses) {
		return false
	}
	for i := range a.Interfaces {
		if a.Interfaces[i] != b.Interfaces[i] {
			return false
		}
	}
	for i := range a.Addresses {
		if a.Addresses[i] != b.Addresses[i] {
			return false
		}
	}
	return true
}
