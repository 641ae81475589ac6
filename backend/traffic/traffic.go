// Package traffic holds the evidence a link's own traffic gives about it:
// whether what went out got answers. A link whose traffic is answered
// both ways is alive, and probing it would only spend the SIM; one whose
// traffic goes out and nothing comes back is probed at once. The evidence
// is the interface's packet counters (netlink) and the progress of the
// TCP sockets using the link (sock_diag): bytes acknowledged and received,
// and retransmissions.
package traffic

import (
	"net/netip"
	"time"
)

// Sample is what one look at a link's traffic saw.
type Sample struct {
	At time.Time
	// TxPackets and RxPackets are the interfaces' packet counters, summed;
	// RxPackets leaves multicast and broadcast out (a LAN's chatter is no
	// answer to anything).
	TxPackets, RxPackets uint64
	// Sockets are the TCP sockets with an address of the link, by the
	// kernel's socket cookie.
	Sockets map[uint64]Socket
}

// Socket is one TCP socket's progress, from its tcp_info.
type Socket struct {
	// Established: the handshake completed (an answer in itself).
	Established bool
	// Acked and Received are the bytes the peer acknowledged and the
	// bytes received (tcpi_bytes_acked, tcpi_bytes_received).
	Acked, Received uint64
	// Unacked is the segments sent and not yet acknowledged.
	Unacked uint32
	// Retransmits is the current run of retransmissions of one segment
	// (tcpi_retransmits): non-zero while the peer is silent.
	Retransmits uint8
	// SinceAck is how long ago the last acknowledgement came.
	SinceAck time.Duration
}

// Verdict is what the traffic between two samples says about a link.
type Verdict int

// Verdicts.
const (
	// Idle: nothing went out.
	Idle Verdict = iota
	// Answered: the far side answered (a socket progressed, or packets
	// came back for packets that went out).
	Answered
	// Unanswered: traffic went out and nothing came back, or a socket is
	// retransmitting: the link may be dead; probe it now.
	Unanswered
)

func (v Verdict) String() string {
	switch v {
	case Answered:
		return "answered"
	case Unanswered:
		return "unanswered"
	}
	return "idle"
}

// StallAfter is how long a socket may wait for an acknowledgement of data
// it sent before its silence counts against the link: past any RTT a
// workable link has (THRESHOLDS.md: 1 s is red).
const StallAfter = time.Second

// Compare says what happened between two samples of the same link. A
// socket that progressed is an answer whatever else happened (one dead
// server is not a dead link); a socket left waiting, or packets out with
// none back, is no answer.
func Compare(prev, cur Sample) Verdict {
	stalled := false
	for cookie, s := range cur.Sockets {
		p, seen := prev.Sockets[cookie]
		switch {
		case !seen && s.Established:
			return Answered // a new connection: the far side took it
		case seen && (s.Acked > p.Acked || s.Received > p.Received || (s.Established && !p.Established)):
			return Answered
		}
		if s.Retransmits > 0 || (s.Unacked > 0 && s.SinceAck >= StallAfter) {
			stalled = true
		}
	}
	tx, rx := cur.TxPackets > prev.TxPackets, cur.RxPackets > prev.RxPackets
	switch {
	case stalled:
		return Unanswered
	case tx && !rx:
		return Unanswered
	case tx:
		return Answered
	}
	return Idle
}

// Link names what to sample for one link: its interfaces (the link's own,
// and a VPN's tunnel riding on it, whose answers come over the link too)
// and their addresses.
type Link struct {
	Interfaces []string
	Addresses  []netip.Addr
}
