package control

import (
	"sync"
	"time"
)

// Class is how far the holder trusts a connection's account: it decides
// which pool of connections the account draws from, so that no account
// outside the fieldlink group can starve the clinicians' screens.
type Class int

// Classes of peers.
const (
	// Guest: an account that may only watch.
	Guest Class = iota
	// Member: an account that may act (the fieldlink group).
	Member
	// Privileged: root and the holder's own account (the kiosk's
	// service, IT at the console): a pool of its own that no one else
	// can fill.
	Privileged
)

// Pools bound the connections served at once, per class and per account.
type Pools struct {
	// Members, Guests, Privileged: connections at once per class.
	Members, Guests, Privileged int
	// MemberPerUID and GuestPerUID: per account within its class.
	MemberPerUID, GuestPerUID int
}

// DefaultPools leave a clinician's screens room whatever a watcher does:
// 32 connections for the group (8 an account), 8 for every other account
// together (4 an account: a screen or two and a request), 4 kept for root
// and the holder's account.
var DefaultPools = Pools{Members: 32, Guests: 8, Privileged: 4, MemberPerUID: 8, GuestPerUID: 4}

// admission counts the connections in use, by class and by account.
type admission struct {
	mu    sync.Mutex
	pools Pools
	class map[Class]int
	uid   map[int]int
}

func newAdmission(p Pools) *admission {
	return &admission{pools: p, class: map[Class]int{}, uid: map[int]int{}}
}

// admit takes a place for a connection, or says there is none (the
// peer's credentials are known before it takes anything), and returns the
// pool the place is in, for leave.
func (a *admission) admit(c Class, uid int) (Class, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	total, per := a.pools.Members, a.pools.MemberPerUID
	switch c {
	case Guest:
		total, per = a.pools.Guests, a.pools.GuestPerUID
	case Privileged:
		total, per = a.pools.Privileged, 0
	}
	if a.class[c] >= total || (per > 0 && a.uid[uid] >= per) {
		if c == Privileged && a.class[Member] < a.pools.Members {
			// Root overflows into the members' pool, never a guest's.
			c = Member
		} else {
			return c, false
		}
	}
	a.class[c]++
	a.uid[uid]++
	return c, true
}

// leave gives a connection's place back, in the pool admit gave.
func (a *admission) leave(c Class, uid int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.class[c]--
	if a.uid[uid]--; a.uid[uid] <= 0 {
		delete(a.uid, uid)
	}
}

// Spacing lets one request an account through per Every: a key held down
// or a script asking in a loop gets a refusal, not a journal of hundreds
// of empty visits. The zero value lets everything through.
type Spacing struct {
	Every time.Duration
	mu    sync.Mutex
	last  map[int]time.Time
}

// Allow reports whether uid may be served at now, and counts it if so.
func (s *Spacing) Allow(uid int, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[int]time.Time{}
	}
	if t, ok := s.last[uid]; ok && now.Sub(t) < s.Every && now.Sub(t) >= 0 {
		return false
	}
	s.last[uid] = now
	return true
}
