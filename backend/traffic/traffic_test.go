package traffic

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

func TestCompare(t *testing.T) {
	sock := func(est bool, acked, recv uint64, unacked uint32, retrans uint8, sinceAck time.Duration) Socket {
		return Socket{Established: est, Acked: acked, Received: recv, Unacked: unacked, Retransmits: retrans, SinceAck: sinceAck}
	}
	base := Sample{TxPackets: 100, RxPackets: 90, Sockets: map[uint64]Socket{1: sock(true, 500, 800, 0, 0, 0)}}
	cases := []struct {
		name string
		cur  Sample
		want Verdict
	}{
		{"nothing moved", base, Idle},
		{"inbound chatter only", Sample{TxPackets: 100, RxPackets: 95, Sockets: base.Sockets}, Idle},
		{"packets out, none back", Sample{TxPackets: 103, RxPackets: 90, Sockets: base.Sockets}, Unanswered},
		{"packets both ways", Sample{TxPackets: 103, RxPackets: 93, Sockets: base.Sockets}, Answered},
		{"a socket's data acknowledged", Sample{TxPackets: 103, RxPackets: 90,
			Sockets: map[uint64]Socket{1: sock(true, 900, 800, 0, 0, 0)}}, Answered},
		{"a socket received", Sample{TxPackets: 100, RxPackets: 91,
			Sockets: map[uint64]Socket{1: sock(true, 500, 1800, 0, 0, 0)}}, Answered},
		{"a socket retransmitting, chatter in", Sample{TxPackets: 104, RxPackets: 99,
			Sockets: map[uint64]Socket{1: sock(true, 500, 800, 2, 1, 400*time.Millisecond)}}, Unanswered},
		{"a socket waiting past StallAfter", Sample{TxPackets: 101, RxPackets: 99,
			Sockets: map[uint64]Socket{1: sock(true, 500, 800, 1, 0, 1200*time.Millisecond)}}, Unanswered},
		{"one socket stalls, another progresses", Sample{TxPackets: 104, RxPackets: 99,
			Sockets: map[uint64]Socket{1: sock(true, 500, 800, 2, 1, 2*time.Second), 2: sock(true, 10, 10, 0, 0, 0)}}, Answered},
		{"a SYN retransmitted", Sample{TxPackets: 102, RxPackets: 90,
			Sockets: map[uint64]Socket{1: base.Sockets[1], 3: sock(false, 0, 0, 1, 1, 0)}}, Unanswered},
	}
	for _, c := range cases {
		if got := Compare(base, c.cur); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestKernelSample reads a real connection on the loopback: its socket is
// found by its address, and its tcp_info counts what was sent and read.
func TestKernelSample(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1000)
		io.ReadFull(c, buf)
		c.Write(make([]byte, 3000))
		io.Copy(io.Discard, c)
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	link := Link{Interfaces: []string{"lo"}, Addresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	before, err := Kernel{}.Sample(link, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 3000)); err != nil {
		t.Fatal(err)
	}
	after, err := Kernel{}.Sample(link, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	var mine *Socket
	for _, s := range after.Sockets {
		if s.Acked >= 1000 && s.Acked <= 1001 && s.Received == 3000 { // the SYN may count
			mine = &s
		}
	}
	if mine == nil || !mine.Established {
		t.Fatalf("no socket of %v with 1000 B acknowledged and 3000 B received: %+v", local, after.Sockets)
	}
	if after.TxPackets <= before.TxPackets || after.RxPackets <= before.RxPackets {
		t.Fatalf("lo counters did not move: %+v -> %+v", before, after)
	}
	if v := Compare(before, after); v != Answered {
		t.Fatalf("verdict %v", v)
	}
	// An address of no link finds no socket.
	other, err := Kernel{}.Sample(Link{Interfaces: []string{"lo"}, Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.7")}}, time.Now())
	if err != nil || len(other.Sockets) != 0 {
		t.Fatalf("sockets of 192.0.2.7: %v %+v", err, other.Sockets)
	}
}

// TestWaitOutgoing: the wait ends at the first packet out, and at once
// when its context ends; without CAP_NET_RAW it says it cannot wait.
func TestWaitOutgoing(t *testing.T) {
	if os.Geteuid() != 0 {
		if err := (Kernel{}).WaitOutgoing(context.Background(), []string{"lo"}); !errors.Is(err, ErrCannotWait) {
			t.Fatalf("without CAP_NET_RAW: %v, want ErrCannotWait", err)
		}
		integration.NeedRoot(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (Kernel{}).WaitOutgoing(ctx, []string{"lo"}) }()
	time.Sleep(100 * time.Millisecond) // the sockets are bound
	c, err := net.Dial("udp4", "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	c.Write([]byte("x"))
	c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("woken with %v", err)
		}
		t.Logf("woken %v after the packet", time.Since(sent))
	case <-time.After(2 * time.Second):
		t.Fatal("a packet went out and the wait did not end")
	}
	cancel()
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- (Kernel{}).WaitOutgoing(ctx2, []string{"no-such-if0"}) }()
	if err := <-done; err == nil {
		t.Fatal("an interface that does not exist: no error")
	}
	cancel2()
}
