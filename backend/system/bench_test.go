package system

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/mm"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/nm"
	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
)

// BenchmarkSignalToSnapshot reports the time from a PropertiesChanged
// emitted by the fake NetworkManager to the engine publishing the snapshot
// that shows it (target p50 <= 5 ms). Changes are spaced past the
// engine's 100 ms throttle so each one is measured on its own.
func BenchmarkSignalToSnapshot(b *testing.B) {
	d := fakebus.StartDaemon(b)
	n, err := fakebus.NewNM(d.Address)
	if err != nil {
		b.Fatal(err)
	}
	dev := n.AddDevice(fakebus.DeviceSpec{Interface: "wlan0", Type: fakebus.DevWiFi})
	ap := n.AddAP(dev, fakebus.APSpec{SSID: "NHS-Community", Strength: 70, Frequency: 5180})
	n.Connect(n.AddProfile(fakebus.ProfileSettings("NHS-Community", "802-11-wireless", "")), dev)
	n.Set(dev, fakebus.NMWireless, map[string]any{"ActiveAccessPoint": ap})
	src, err := New(Options{Address: d.Address})
	if err != nil {
		b.Fatal(err)
	}
	eng := engine.New(src, engine.Options{Thresholds: netstate.DefaultThresholds()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	states, stop := eng.Subscribe()
	defer stop()
	strength := func(s engine.State) float64 {
		if l := s.Snapshot.Link("wlan0"); l != nil {
			return l.Signal.Strength.V
		}
		return -1
	}
	for st := range states {
		if strength(st) == 70 {
			break
		}
	}
	var lat []time.Duration
	for b.Loop() {
		for i := 0; i < 30; i++ {
			want := byte(60 + i%2*5) // 60 or 65: both green, routine changes
			time.Sleep(120 * time.Millisecond)
			start := time.Now()
			n.SetAPStrength(ap, want)
			for st := range states {
				if strength(st) == float64(want) {
					break
				}
			}
			lat = append(lat, time.Since(start))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "ms-p95")
}

// BenchmarkPropertiesChanged reports the work fieldlink does per
// PropertiesChanged once godbus has decoded it: folding it into the
// mirror, decoding NetworkManager and ModemManager, merging and
// classifying (allocs/op is the figure asked for).
func BenchmarkPropertiesChanged(b *testing.B) {
	nmObjs, mmObjs := baseline()
	nmMirror := bus.NewMirror(nil, nm.Name, nm.Root)
	nmMirror.Load(nmObjs)
	mmMirror := bus.NewMirror(nil, mm.Name, mm.Root)
	mmMirror.Load(mmObjs)
	ctx := context.Background()
	sig := &dbus.Signal{Path: "/ap/1", Name: "org.freedesktop.DBus.Properties.PropertiesChanged",
		Body: []any{"org.freedesktop.NetworkManager.AccessPoint", map[string]dbus.Variant{"Strength": dbus.MakeVariant(byte(64))}, []string{}}}
	th := netstate.DefaultThresholds()
	now := time.Unix(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		nmMirror.Apply(ctx, sig)
		var n nm.Objects
		var m mm.Objects
		nmMirror.Read(func(o bus.Objects) { n = nm.Decode(o) })
		mmMirror.Read(func(o bus.Objects) { m = mm.Decode(o) })
		snap := Build(Input{NM: n, NMRunning: true, MM: m, MMRunning: true}, now)
		netstate.Apply(&snap, th)
	}
}
