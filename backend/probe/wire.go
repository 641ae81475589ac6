package probe

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

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
	mu    sync.Mutex
	conns []*counted
}

// total is the probe's bytes now. A connection its HTTP transport has not
// closed yet (it closes its own a moment after the body) is read as it
// stands, with its FIN exchange estimated: the probe's result must not
// wait for it (a round's timing is the failover's).
func (w *wire) total() int64 {
	w.mu.Lock()
	conns := append([]*counted(nil), w.conns...)
	w.mu.Unlock()
	for _, c := range conns {
		c.count()
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
		cc := &counted{Conn: c, w: w}
		w.mu.Lock()
		w.conns = append(w.conns, cc)
		w.mu.Unlock()
		return cc, nil
	}
}

// counted is a connection that adds its bytes to a wire when it closes.
type counted struct {
	net.Conn
	w       *wire
	dgrams  atomic.Int64 // UDP: datagrams both ways
	payload atomic.Int64 // UDP: bytes both ways
	once    sync.Once
}

func (c *counted) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if _, udp := c.Conn.(*net.UDPConn); udp && n > 0 {
		c.dgrams.Add(1)
		c.payload.Add(int64(n))
	}
	return n, err
}

func (c *counted) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if _, udp := c.Conn.(*net.UDPConn); udp && n > 0 {
		c.dgrams.Add(1)
		c.payload.Add(int64(n))
	}
	return n, err
}

// count adds the connection's bytes to its wire, once: at Close, or
// when the probe's total is asked for first.
func (c *counted) count() { c.once.Do(func() { c.w.bytes.Add(c.bytes()) }) }

// Close counts the connection's bytes and closes it.
func (c *counted) Close() error {
	c.count()
	return c.Conn.Close()
}

// bytes is what the connection carried, headers included.
func (c *counted) bytes() int64 {
	tc, ok := c.Conn.(*net.TCPConn)
	if !ok {
		return c.payload.Load() + c.dgrams.Load()*udpHeader
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
