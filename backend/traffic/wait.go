package traffic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// ErrCannotWait is WaitOutgoing's answer where packet sockets are not
// permitted (no CAP_NET_RAW): the traffic is then read by the clock.
var ErrCannotWait = errors.New("cannot wait for traffic without CAP_NET_RAW")

// WaitOutgoing returns when a packet leaves by one of ifaces, or ctx ends.
// It costs nothing meanwhile: a packet socket per interface, filtered in
// the kernel to outgoing packets (classic BPF on the packet type), parked
// in the runtime's poller. An idle link is then read only once it has
// traffic again, not each second while nothing happens.
func (Kernel) WaitOutgoing(ctx context.Context, ifaces []string) error {
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, name := range ifaces {
		f, err := outgoingSocket(name)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	got := make(chan error, len(files))
	for _, f := range files {
		go func() {
			_, err := f.Read(make([]byte, 64))
			got <- err
		}()
	}
	select {
	case err := <-got:
		for _, f := range files {
			f.SetReadDeadline(time.Now())
		}
		return err
	case <-ctx.Done():
		for _, f := range files {
			f.SetReadDeadline(time.Now())
		}
		return ctx.Err()
	}
}

// outgoingSocket opens a packet socket on iface that receives only the
// first bytes of outgoing packets.
func outgoingSocket(iface string) (*os.File, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	proto := uint16(syscall.ETH_P_ALL)<<8 | uint16(syscall.ETH_P_ALL)>>8
	// Protocol 0: the socket receives nothing until bound, after its filter.
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EAFNOSUPPORT) {
		return nil, ErrCannotWait
	}
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", iface, err)
	}
	// Outgoing packets only, one byte of each: the filter is on before the
	// socket is bound, so nothing else is ever queued on it.
	prog := []sockFilter{
		{code: 0x20, k: 0xfffff004},      // ld [SKF_AD_OFF+SKF_AD_PKTTYPE]
		{code: 0x15, jt: 0, jf: 1, k: 4}, // jeq #PACKET_OUTGOING
		{code: 0x06, k: 1},               // ret #1
		{code: 0x06, k: 0},               // ret #0
	}
	fp := sockFprog{len: uint16(len(prog)), filter: &prog[0]}
	if _, _, e := syscall.Syscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, syscall.SO_ATTACH_FILTER,
		uintptr(unsafe.Pointer(&fp)), unsafe.Sizeof(fp), 0); e != 0 {
		syscall.Close(fd)
		return nil, fmt.Errorf("filter on %s: %w", iface, e)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("packet socket on %s: %w", iface, err)
	}
	return os.NewFile(uintptr(fd), "packet:"+iface), nil
}

// sockFilter and sockFprog are struct sock_filter and sock_fprog.
type sockFilter struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

type sockFprog struct {
	len    uint16
	filter *sockFilter
}
