package system

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/fieldlink/fieldlink/backend/join"
	"github.com/fieldlink/fieldlink/backend/nm"
)

// Scan asks every Wi-Fi radio to look for networks now. NetworkManager
// refuses a scan while one runs or right after one; that is no failure,
// the list is as fresh as it gets.
func (s *Source) Scan(ctx context.Context) error {
	o := s.nm.Objects()
	var errs []error
	n := 0
	for _, d := range o.Devices {
		if d.Type != nm.TypeWiFi {
			continue
		}
		n++
		if err := s.nm.RequestScan(ctx, d.Interface); err != nil && !errors.Is(err, nm.ErrPermission) {
			errs = append(errs, err)
		}
	}
	if n == 0 {
		return errors.New("this device has no Wi-Fi radio NetworkManager can use")
	}
	return errors.Join(errs...)
}

// joinPoll is how often a join in progress looks at NetworkManager's
// picture; only while a join runs.
const joinPoll = 200 * time.Millisecond

// Join joins a Wi-Fi network and waits, until ctx ends, for what comes of
// it: a saved profile for the network is activated as it is; otherwise a
// new one is made (see join.Settings) and, if the network is not joined
// (a wrong key, no key given, out of range), deleted again, so that a
// failed try leaves no broken profile behind to be retried by itself.
// It returns what the screen says.
func (s *Source) Join(ctx context.Context, r join.Request) (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	dev, ap, err := s.findNetwork(r)
	if err != nil {
		return "", err
	}
	var profile, active dbus.ObjectPath
	made := false
	if pr, ok := s.nm.WiFiProfile(r.SSID); ok {
		profile = pr.Path
		active, err = s.nm.ActivateOn(ctx, pr.Path, dev.Path, ap.Path)
	} else {
		var settings map[string]map[string]dbus.Variant
		if settings, err = join.Settings(r, ap.Security()); err != nil {
			return "", err
		}
		made = true
		profile, active, err = s.nm.AddAndActivateOn(ctx, settings, dev.Path, ap.Path)
	}
	if err != nil {
		return "", err
	}
	s.poke()
	why, ok := s.awaitJoin(ctx, dev.Path, active)
	if ok {
		return fmt.Sprintf("Joined %s.", r.SSID), nil
	}
	if made && profile != "" {
		// A fresh context: the join's may be the one that ended.
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.nm.DeleteProfile(dctx, profile)
		cancel()
	}
	return "", fmt.Errorf("%s was not joined: %s", r.SSID, why)
}

// findNetwork is the Wi-Fi device and its strongest access point for the
// request's network.
func (s *Source) findNetwork(r join.Request) (nm.Device, nm.AP, error) {
	o := s.nm.Objects()
	radios := 0
	for _, d := range o.Devices {
		if d.Type != nm.TypeWiFi || (r.Interface != "" && d.Interface != r.Interface) {
			continue
		}
		radios++
		var best nm.AP
		found := false
		for _, p := range d.APs {
			if ap, ok := o.APs[p]; ok && ap.SSID == r.SSID && (!found || ap.Strength > best.Strength) {
				best, found = ap, true
			}
		}
		if found {
			return d, best, nil
		}
	}
	if radios == 0 {
		return nm.Device{}, nm.AP{}, errors.New("this device has no Wi-Fi radio NetworkManager can use")
	}
	return nm.Device{}, nm.AP{}, fmt.Errorf("%s is not in range now (s scans again)", r.SSID)
}

// awaitJoin follows an activation to its end: activated, or why not. It
// asks NetworkManager itself each time, since its picture may lag: a
// failed activation is removed at once, and the device's reason then is
// the failure's (read from the mirror, a reason left from an earlier
// failure would be taken for this one).
func (s *Source) awaitJoin(ctx context.Context, dev, active dbus.ObjectPath) (string, bool) {
	t := time.NewTicker(joinPoll)
	defer t.Stop()
	for {
		state, exists, err := s.nm.ActiveState(ctx, active)
		switch {
		case err == nil && exists && state == 2:
			return "", true
		case err == nil && (!exists || state >= 3):
			if r := s.nm.DeviceReason(ctx, dev); r != 0 && r != 39 {
				return joinReason(r), false
			}
			return "NetworkManager gave up", false
		}
		select {
		case <-ctx.Done():
			return "no answer in time", false
		case <-t.C:
		}
	}
}

// joinReason words a device's failure for the person who just typed a key.
func joinReason(r uint32) string {
	switch r {
	case 7:
		return "no key was given"
	case 8, 9, 10:
		return "the key or log-in was refused"
	case 11:
		return "the network did not answer in time (move closer, or try again)"
	case 53:
		return "the network is not in range"
	}
	if t := nm.ReasonText(r); t != "" {
		return t
	}
	return fmt.Sprintf("NetworkManager's reason %d", r)
}
