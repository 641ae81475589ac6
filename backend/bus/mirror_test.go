package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
)

// TestMirrorTellsABatchEndingInAnUnhandledSignal: NetworkManager removes a
// device with PropertiesChanged (its Devices list) followed by
// DeviceRemoved, which the mirror does not fold in. When both arrive in
// one batch the change must still be told; it used to be lost until the
// next signal, and the removed device stayed on screen.
func TestMirrorTellsABatchEndingInAnUnhandledSignal(t *testing.T) {
	d := fakebus.StartDaemon(t)
	const name, root = "org.example.Fake", dbus.ObjectPath("/org/example")
	svc, err := fakebus.NewService(d.Address, name, root)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	svc.Add(root+"/obj", map[string]map[string]any{"org.example.Thing": {"N": uint32(1)}})

	conn, err := bus.Dial(d.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m := bus.NewMirror(conn, name, root)
	m.Extra = []bus.Match{{Interface: "org.example.Thing", Member: "Gone"}}
	changed := make(chan struct{}, 16)
	release := make(chan struct{})
	first := true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx, func() {
		if first {
			// Hold the mirror after its load until both signals are
			// queued, so that they arrive as one batch.
			first = false
			<-release
		}
		changed <- struct{}{}
	})
	time.Sleep(100 * time.Millisecond)
	svc.Set(root+"/obj", "org.example.Thing", map[string]any{"N": uint32(2)})
	svc.Emit(root, "org.example.Thing.Gone", root+"/obj")
	time.Sleep(100 * time.Millisecond)
	close(release)
	<-changed // the load
	select {
	case <-changed:
	case <-time.After(2 * time.Second):
		t.Fatal("the batch's change was never told")
	}
	var n uint32
	m.Read(func(objs bus.Objects) { n, _ = objs[root+"/obj"]["org.example.Thing"]["N"].Value().(uint32) })
	if n != 2 {
		t.Fatalf("copy has N=%d, want 2", n)
	}
}
