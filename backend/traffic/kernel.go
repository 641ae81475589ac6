package traffic

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Kernel samples links from the running kernel: one netlink dump of the
// interfaces' counters and one sock_diag dump of TCP sockets per address
// family, a few system calls and no packet on any link.
type Kernel struct{}

// Sample looks at a link now.
func (Kernel) Sample(l Link, now time.Time) (Sample, error) {
	s := Sample{At: now}
	stats, err := linkStats()
	if err != nil {
		return s, err
	}
	for _, name := range l.Interfaces {
		if st, ok := stats[name]; ok {
			s.TxPackets += st.tx
			s.RxPackets += st.rx
		}
	}
	s.Sockets, err = tcpSockets(l.Addresses)
	return s, err
}

type ifStats struct{ tx, rx uint64 }

// linkStats reads every interface's packet counters (RTM_GETLINK with
// IFLA_STATS64), received multicast and broadcast left out.
func linkStats() (map[string]ifStats, error) {
	b, err := syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("netlink: interface counters: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil, fmt.Errorf("netlink: interface counters: %w", err)
	}
	out := map[string]ifStats{}
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != syscall.RTM_NEWLINK {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			continue
		}
		var name string
		var st ifStats
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.IFLA_IFNAME:
				name = strings.TrimRight(string(a.Value), "\x00")
			case iflaStats64:
				st = parseStats64(a.Value)
			}
		}
		if name != "" {
			out[name] = st
		}
	}
	return out, nil
}

const iflaStats64 = 23

// parseStats64 reads struct rtnl_link_stats64: rx_packets, tx_packets,
// then (eighth u64) multicast.
func parseStats64(v []byte) ifStats {
	if len(v) < 9*8 {
		return ifStats{}
	}
	u := func(i int) uint64 { return binary.NativeEndian.Uint64(v[i*8:]) }
	rx, multicast := u(0), u(8)
	if multicast <= rx {
		rx -= multicast
	}
	return ifStats{tx: u(1), rx: rx}
}

// sock_diag constants (linux/sock_diag.h, linux/inet_diag.h).
const (
	sockDiagByFamily = 20
	inetDiagInfo     = 2
	tcpEstablished   = 1
	// The states whose sockets say something about the path: connected,
	// connecting, and closing with data perhaps still unacknowledged.
	tcpStates = 1<<1 | 1<<2 | 1<<4 | 1<<5 | 1<<8 | 1<<9 // ESTABLISHED SYN_SENT FIN_WAIT1 FIN_WAIT2 CLOSE_WAIT LAST_ACK
)

// tcpSockets dumps the TCP sockets whose local address is one of addrs.
func tcpSockets(addrs []netip.Addr) (map[uint64]Socket, error) {
	out := map[uint64]Socket{}
	if len(addrs) == 0 {
		return out, nil
	}
	want := map[netip.Addr]bool{}
	v4 := false
	for _, a := range addrs {
		want[a.Unmap()] = true
		v4 = v4 || a.Unmap().Is4()
	}
	families := []uint8{syscall.AF_INET6}
	if v4 {
		families = append(families, syscall.AF_INET)
	}
	for _, fam := range families {
		if err := dumpTCP(fam, func(src netip.Addr, cookie uint64, s Socket) {
			if want[src.Unmap()] {
				out[cookie] = s
			}
		}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// dumpTCP asks sock_diag for one family's TCP sockets with their tcp_info.
func dumpTCP(family uint8, each func(src netip.Addr, cookie uint64, s Socket)) error {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, 4 /* NETLINK_SOCK_DIAG */)
	if err != nil {
		return fmt.Errorf("sock_diag: %w", err)
	}
	defer syscall.Close(fd)
	req := make([]byte, syscall.NLMSG_HDRLEN+56)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], sockDiagByFamily)
	binary.NativeEndian.PutUint16(req[6:], syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1)
	body := req[syscall.NLMSG_HDRLEN:]
	body[0], body[1], body[2] = family, syscall.IPPROTO_TCP, 1<<(inetDiagInfo-1)
	binary.NativeEndian.PutUint32(body[4:], tcpStates)
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return fmt.Errorf("sock_diag: %w", err)
	}
	buf := make([]byte, 64<<10)
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("sock_diag: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("sock_diag: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				return nil
			case syscall.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
						return fmt.Errorf("sock_diag: %w", syscall.Errno(-errno))
					}
				}
				return nil
			case sockDiagByFamily:
				if src, cookie, s, ok := parseDiag(family, m.Data); ok {
					each(src, cookie, s)
				}
			}
		}
	}
}

// inetDiagMsgLen is struct inet_diag_msg's size.
const inetDiagMsgLen = 72

// parseDiag reads one struct inet_diag_msg and its tcp_info.
func parseDiag(family uint8, d []byte) (netip.Addr, uint64, Socket, bool) {
	if len(d) < inetDiagMsgLen {
		return netip.Addr{}, 0, Socket{}, false
	}
	var src netip.Addr
	if family == syscall.AF_INET {
		src = netip.AddrFrom4([4]byte(d[8:12]))
	} else {
		src = netip.AddrFrom16([16]byte(d[8:24]))
	}
	cookie := uint64(binary.NativeEndian.Uint32(d[44:])) | uint64(binary.NativeEndian.Uint32(d[48:]))<<32
	s := Socket{Established: d[1] == tcpEstablished}
	for a := d[inetDiagMsgLen:]; len(a) >= 4; {
		l := int(binary.NativeEndian.Uint16(a[0:]))
		if l < 4 || l > len(a) {
			break
		}
		if binary.NativeEndian.Uint16(a[2:]) == inetDiagInfo {
			fillTCPInfo(&s, a[4:l])
		}
		a = a[min(len(a), (l+3)&^3):]
	}
	return src, cookie, s, true
}

// fillTCPInfo reads the fields of struct tcp_info (linux/tcp.h) it needs,
// by offset; an older kernel's shorter struct leaves the rest zero.
func fillTCPInfo(s *Socket, t []byte) {
	u32 := func(off int) uint32 {
		if len(t) < off+4 {
			return 0
		}
		return binary.NativeEndian.Uint32(t[off:])
	}
	u64 := func(off int) uint64 {
		if len(t) < off+8 {
			return 0
		}
		return binary.NativeEndian.Uint64(t[off:])
	}
	if len(t) > 2 {
		s.Retransmits = t[2]
	}
	s.Unacked = u32(24)
	s.SinceAck = time.Duration(u32(56)) * time.Millisecond // tcpi_last_ack_recv
	s.Acked, s.Received = u64(120), u64(128)
}
