// Package tap counts what crosses a cable, frame by frame, at its far
// end: a packet socket on the peer's interface, as tcpdump would open,
// classing each frame by its TCP or UDP port. It tells fieldlink's own
// probes apart from the traffic a test makes as the clinician's work, to
// the byte, headers and all.
package tap

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Tap counts the frames of one interface.
type Tap struct {
	fd     int
	mu     sync.Mutex
	byPort map[int]int64
	total  int64
	closed atomic.Bool
	done   chan struct{}
}

// Open starts counting on iface; open it inside the interface's network
// namespace (the socket stays there). Needs CAP_NET_RAW.
func Open(iface string) (*Tap, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	proto := htons(syscall.ETH_P_ALL)
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("bind to %s: %w", iface, err)
	}
	// A read returns within 200 ms, so that Close is prompt.
	tv := syscall.NsecToTimeval(int64(200 * time.Millisecond))
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	t := &Tap{fd: fd, byPort: map[int]int64{}, done: make(chan struct{})}
	go t.read()
	return t, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (t *Tap) read() {
	defer close(t.done)
	buf := make([]byte, 65536)
	for {
		n, _, err := syscall.Recvfrom(t.fd, buf, syscall.MSG_TRUNC)
		if t.closed.Load() {
			return
		}
		if err == syscall.EAGAIN || err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		t.count(buf[:min(n, len(buf))], n)
	}
}

// count classes one frame (n bytes on the wire, Ethernet header included)
// by its IPv4 TCP or UDP ports.
func (t *Tap) count(f []byte, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += int64(n)
	if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
		return
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) * 4
	if p := ip[9]; (p != 6 && p != 17) || len(ip) < ihl+4 {
		return
	}
	src, dst := int(binary.BigEndian.Uint16(ip[ihl:])), int(binary.BigEndian.Uint16(ip[ihl+2:]))
	t.byPort[src] += int64(n)
	if dst != src {
		t.byPort[dst] += int64(n)
	}
}

// Port is the bytes of frames to or from port so far.
func (t *Tap) Port(port int) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byPort[port]
}

// Total is every frame's bytes so far.
func (t *Tap) Total() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// Close stops counting (within the read timeout).
func (t *Tap) Close() error {
	t.closed.Store(true)
	<-t.done
	return syscall.Close(t.fd)
}
