package probe

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// What a probe costs on the link, headers included, is counted at the
// socket: a TCP connection's bytes and segments as the kernel counted
// them (TCP_INFO: retransmissions and the handshake included), a UDP
// exchange's datagrams, and a connection attempt that never completed as
// the SYNs it sent. Link-layer framing is left out: it differs between
// Ethernet, Wi-Fi and a modem's IP link.
const (
	tcpHeader = 20 + 32 // IPv4 and TCP with timestamps
	udpHeader = 20 + 8
	synBytes  = 20 + 40 // a SYN carries its options
)

// dialFunc dials one connection of a probe.
type dialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// wire adds up the bytes of a probe's connections.
type wire struct {
	bytes atomic.Int64
	open  sync.WaitGroup
}

// total is the probe's bytes, once its connections have closed (an HTTP
// transport closes its own a moment after the body; a connection still
// open after that is counted so far).
func (w *wire) total() int64 {
	done := make(chan struct{})
	go func() { w.open.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(200 * time.Millisecond):
	}
	return w.bytes.Load()
}

// counting is a dialer bound to iface whose connections count into w.
func (d Dialer) counting(iface string, bound *bool, w *wire) dialFunc {
	nd := d.netDialer(iface, bound)
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := nd.DialContext(ctx, network, address)
		if err != nil {
			if !errors.Is(err, errNotPermitted) && !errors.Is(err, syscall.ECONNREFUSED) {
				w.bytes.Add(synBytes) // the SYN that went unanswered
			} else if errors.Is(err, syscall.ECONNREFUSED) {
				w.bytes.Add(synBytes + tcpHeader) // and the reset
			}
			return nil, err
		}
		w.open.Add(1)
		return &counted{Conn: c, w: w}, nil
	}
}

// counted is a connection that adds its bytes to a wire when it closes.
type counted struct {
	net.Conn
	w       *wire
	dgrams  int64 // UDP: datagrams both ways
	payload int64 // UDP: bytes both ways
	once    sync.Once
}

func (c *counted) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if _, udp := c.Conn.(*net.UDPConn); udp && n > 0 {
		c.dgrams++
		c.payload += int64(n)
	}
	return n, err
}

func (c *counted) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if _, udp := c.Conn.(*net.UDPConn); udp && n > 0 {
		c.dgrams++
		c.payload += int64(n)
	}
	return n, err
}

// Close counts the connection's bytes and closes it.
func (c *counted) Close() error {
	c.once.Do(func() {
		c.w.bytes.Add(c.bytes())
		c.w.open.Done()
	})
	return c.Conn.Close()
}

// bytes is what the connection carried, headers included.
func (c *counted) bytes() int64 {
	tc, ok := c.Conn.(*net.TCPConn)
	if !ok {
		return c.payload + c.dgrams*udpHeader
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return 0
	}
	var info *unix.TCPInfo
	raw.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if err != nil || info == nil {
		return 0
	}
	// Segments include the handshake's and the ACKs; the FIN exchange
	// that Close starts is one segment each way more.
	segs := int64(info.Segs_out) + int64(info.Segs_in) + 2
	sent := int64(info.Bytes_sent) // retransmissions included (Linux 4.19)
	if sent == 0 {
		sent = int64(info.Bytes_acked)
	}
	return sent + int64(info.Bytes_received) + segs*tcpHeader
}
