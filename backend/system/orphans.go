package system

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fieldlink/fieldlink/backend/bus"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/nm"
)

// NetworkManager's VPN plugins run one process per connection, on a bus
// name of their own ("org.freedesktop.NetworkManager.openvpn.Connection_3"),
// and outlive NetworkManager: a restarted NetworkManager does not take
// their tunnels back, and a new activation then runs beside the old one
// (two clients of one certificate, which the server drops in turn, and
// two tunnels with one address). What was left by the NetworkManager that
// went is ended, so that the VPN is made afresh under the one that came.

const (
	pluginPath  = "/org/freedesktop/NetworkManager/VPN/Plugin"
	pluginIface = "org.freedesktop.NetworkManager.VPN.Plugin"
)

// ReapOrphanVPNs watches NetworkManager come and go until ctx ends, and
// each time it comes back disconnects the VPN plugins its predecessor
// left running, saying so in an event. Only the one in charge runs it.
func (s *Source) ReapOrphanVPNs(ctx context.Context, event func(netstate.Event)) {
	sigs, stop := s.conn.Subscribe()
	defer stop()
	if err := s.conn.WatchName(ctx, nm.Name); err != nil {
		return
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.conn.UnwatchName(uctx, nm.Name)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-sigs:
			ch, ok := bus.ParseNameOwnerChanged(sig)
			if !ok || ch.Name != nm.Name || ch.New == "" {
				continue
			}
			// Every plugin instance on the bus the moment a new
			// NetworkManager appears was started by an earlier one.
			for _, name := range s.pluginInstances(ctx) {
				cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				err := s.conn.CallStore(cctx, name, pluginPath, pluginIface+".Disconnect", nil)
				cancel()
				text := fmt.Sprintf("Ended the VPN tunnel %s left by the NetworkManager that stopped: it is made again under the one running now", pluginLabel(name))
				if n := bus.ErrorName(err); strings.HasSuffix(n, "ServiceUnknown") || strings.HasSuffix(n, "NameHasNoOwner") || strings.HasSuffix(n, "NoReply") || strings.HasSuffix(n, "UnknownObject") {
					continue // it was already going
				}
				if err != nil {
					text = fmt.Sprintf("Could not end the VPN tunnel %s left by the NetworkManager that stopped: %s", pluginLabel(name), bus.OneLine(err.Error()))
				}
				event(netstate.Event{Time: time.Now(), Kind: netstate.EventDecision, Level: netstate.LevelAmber, Text: text})
			}
		}
	}
}

// pluginInstances lists the VPN plugin processes' bus names.
func (s *Source) pluginInstances(ctx context.Context) []string {
	var names []string
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.conn.CallStore(cctx, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames", nil, &names); err != nil {
		return nil
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, nm.Name+".") && strings.Contains(n, ".Connection_") {
			out = append(out, n)
		}
	}
	return out
}

// pluginLabel is "openvpn Connection_3" for a plugin instance's name.
func pluginLabel(name string) string {
	return strings.Replace(strings.TrimPrefix(name, nm.Name+"."), ".", " ", 1)
}
