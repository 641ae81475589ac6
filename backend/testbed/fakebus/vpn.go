package fakebus

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// More NetworkManager names, for VPNs and secret agents.
const (
	NMVPN              = nmIface + ".VPN.Connection"
	NMAgentManager     = nmIface + ".AgentManager"
	NMAgentManagerPath = dbus.ObjectPath("/org/freedesktop/NetworkManager/AgentManager")
	NMSecretAgent      = nmIface + ".SecretAgent"
	NMSecretAgentPath  = dbus.ObjectPath("/org/freedesktop/NetworkManager/SecretAgent")
)

// NMActiveConnectionStateReason values the fake uses.
const (
	ReasonUserDisconnected   = 2
	ReasonDeviceDisconnected = 3
	ReasonServiceStartFailed = 8
	ReasonNoSecrets          = 9
	ReasonLoginFailed        = 10
)

// VPNProfileSettings builds settings for a VPN profile whose password is
// owned by an agent (password-flags 2), so activating it asks one.
func VPNProfileSettings(id string) map[string]map[string]dbus.Variant {
	s := ProfileSettings(id, "vpn", "")
	s["connection"]["autoconnect"] = dbus.MakeVariant(false)
	s["vpn"] = map[string]dbus.Variant{
		"service-type": dbus.MakeVariant("org.freedesktop.NetworkManager.openvpn"),
		"data":         dbus.MakeVariant(map[string]string{"remote": "vpn.example.nhs.uk", "password-flags": "2", "username": "nurse.jones"}),
	}
	return s
}

// WiFiProfileSettings builds a WPA-PSK Wi-Fi profile whose key is owned by
// an agent, so activating it asks one for the key.
func WiFiProfileSettings(id, ssid string) map[string]map[string]dbus.Variant {
	s := ProfileSettings(id, "802-11-wireless", "")
	s["802-11-wireless"] = map[string]dbus.Variant{"ssid": dbus.MakeVariant([]byte(ssid))}
	s["802-11-wireless-security"] = map[string]dbus.Variant{"key-mgmt": dbus.MakeVariant("wpa-psk"), "psk-flags": dbus.MakeVariant(uint32(1))}
	return s
}

// needsSecrets says which setting of a profile an agent must fill, if any.
func needsSecrets(p *Profile) (setting string, hints []string) {
	switch p.str("connection", "type") {
	case "vpn":
		data, _ := p.Settings["vpn"]["data"].Value().(map[string]string)
		for k, v := range data {
			if strings.HasSuffix(k, "-flags") && (v == "1" || v == "2") {
				return "vpn", nil
			}
		}
	case "802-11-wireless":
		sec := p.Settings["802-11-wireless-security"]
		km, _ := sec["key-mgmt"].Value().(string)
		switch {
		case (km == "wpa-psk" || km == "sae") && sec["psk"].Value() == nil:
			return "802-11-wireless-security", []string{"psk"}
		case km == "wpa-eap" && p.Settings["802-1x"]["password"].Value() == nil:
			return "802-1x", []string{"password"}
		}
	}
	return "", nil
}

type agentReg struct {
	sender, id string
}

// SecretsGiven is what an agent answered for a profile's setting.
type SecretsGiven struct {
	Profile string
	Setting string
	Secrets map[string]map[string]dbus.Variant
}

func (n *NM) agentHandlers() {
	n.Add(NMAgentManagerPath, map[string]map[string]any{NMAgentManager: {}})
	register := func(c Call) ([]any, error) {
		id, _ := arg[string](c, 0)
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, a := range n.agents {
			if a.id == id {
				// What NetworkManager says when a second agent of one
				// user takes an identifier already in use.
				return nil, dbus.NewError("org.freedesktop.NetworkManager.AgentManager.PermissionDenied",
					[]any{"An agent with this ID is already registered for this user."})
			}
		}
		n.agents = append(n.agents, agentReg{sender: c.Sender, id: id})
		return nil, nil
	}
	n.Handle(NMAgentManager+".Register", register)
	n.Handle(NMAgentManager+".RegisterWithCapabilities", register)
	n.Handle(NMAgentManager+".Unregister", func(c Call) ([]any, error) {
		n.mu.Lock()
		defer n.mu.Unlock()
		for i, a := range n.agents {
			if a.sender == c.Sender {
				n.agents = append(n.agents[:i:i], n.agents[i+1:]...)
				return nil, nil
			}
		}
		return nil, dbus.NewError("org.freedesktop.NetworkManager.AgentManager.NotRegistered", []any{"Caller is not registered as an Agent"})
	})
}

// Agents returns the registered secret agents' bus names.
func (n *NM) Agents() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, a := range n.agents {
		out = append(out, a.sender)
	}
	return out
}

// Given returns the secrets agents have handed over, in order.
func (n *NM) Given() []SecretsGiven {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]SecretsGiven(nil), n.given...)
}

// AskSecrets asks the registered agents for a profile's secrets as
// NetworkManager does: each in turn until one answers, stopping when the
// user cancels. It waits at most timeout.
func (n *NM) AskSecrets(p *Profile, setting string, hints []string, flags uint32, timeout time.Duration) (map[string]map[string]dbus.Variant, error) {
	n.mu.Lock()
	agents := append([]agentReg(nil), n.agents...)
	n.mu.Unlock()
	if len(agents) == 0 {
		return nil, fmt.Errorf("no secret agent registered")
	}
	var last error
	for _, a := range agents {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		var out map[string]map[string]dbus.Variant
		err := n.Conn().Object(a.sender, NMSecretAgentPath).CallWithContext(ctx, NMSecretAgent+".GetSecrets", 0,
			p.Settings, p.Path, setting, hints, flags).Store(&out)
		cancel()
		if err == nil {
			n.mu.Lock()
			n.given = append(n.given, SecretsGiven{Profile: p.ID(), Setting: setting, Secrets: out})
			n.mu.Unlock()
			return out, nil
		}
		last = err
		if e, ok := err.(dbus.Error); ok && e.Name == NMSecretAgent+".UserCanceled" {
			break
		}
	}
	return nil, last
}

// CancelSecrets tells the agents to drop a pending request, as
// NetworkManager does when the activation is abandoned.
func (n *NM) CancelSecrets(p *Profile, setting string) {
	n.mu.Lock()
	agents := append([]agentReg(nil), n.agents...)
	n.mu.Unlock()
	for _, a := range agents {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		n.Conn().Object(a.sender, NMSecretAgentPath).CallWithContext(ctx, NMSecretAgent+".CancelGetSecrets", 0, p.Path, setting)
		cancel()
	}
}

// primaryActive is the active connection with the default route.
func (n *NM) primaryActive() *fakeActive {
	n.mu.Lock()
	defer n.mu.Unlock()
	var cands []*fakeActive
	for _, a := range n.actives {
		if a.state == 2 && !a.vpn {
			cands = append(cands, a)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return n.metric(cands[i]) < n.metric(cands[j]) })
	if len(cands) == 0 {
		return nil
	}
	return cands[0]
}

func (n *NM) metric(a *fakeActive) int64 {
	if a.device.metric > 0 {
		return a.device.metric
	}
	return defaultMetric[a.device.spec.Type]
}

// activateVPN starts a VPN over the primary connection, asking an agent
// for its password first when the profile says so.
func (n *NM) activateVPN(p *Profile) (dbus.ObjectPath, error) {
	base := n.primaryActive()
	if base == nil {
		return "", dbus.NewError("org.freedesktop.NetworkManager.UnknownDevice", []any{"Could not find source connection."})
	}
	n.mu.Lock()
	a := &fakeActive{path: dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/NetworkManager/ActiveConnection/%d", n.next())),
		profile: p, device: base.device, state: 1, vpn: true, base: base.path}
	n.actives = append(n.actives, a)
	delay, fail, want, timeout := n.ActivationDelay, n.VPNFail, n.VPNPassword, n.SecretTimeout
	n.mu.Unlock()
	n.Add(a.path, map[string]map[string]any{
		NMActive: {
			"Connection": p.Path, "SpecificObject": base.path, "Id": p.ID(), "Uuid": p.str("connection", "uuid"),
			"Type": p.str("connection", "type"), "Devices": []dbus.ObjectPath{base.device.path}, "State": uint32(1), "StateFlags": uint32(0),
			"Default": false, "Ip4Config": dbus.ObjectPath("/"), "Dhcp4Config": dbus.ObjectPath("/"), "Default6": false,
			"Ip6Config": dbus.ObjectPath("/"), "Dhcp6Config": dbus.ObjectPath("/"), "Vpn": true,
			"Controller": dbus.ObjectPath("/"), "Master": dbus.ObjectPath("/"),
		},
		NMVPN: {"VpnState": uint32(1), "Banner": ""},
	})
	n.Emit(a.path, NMActive+".StateChanged", uint32(1), uint32(0))
	n.Set(NMPath, nmIface, map[string]any{"ActiveConnections": n.activePaths()})
	go func() {
		if p.poisoned {
			// What NetworkManager does with a profile an agent gave an
			// unknown key: every activation fails at once.
			n.endVPN(a, ReasonServiceStartFailed)
			return
		}
		if setting, _ := needsSecrets(p); setting != "" {
			n.Set(a.path, NMVPN, map[string]any{"VpnState": uint32(2)}) // NEED_AUTH
			if reason := n.vpnLogIn(p, want, timeout); reason != 0 {
				n.endVPN(a, reason)
				return
			}
		}
		time.Sleep(delay)
		if fail != 0 {
			n.endVPN(a, fail)
			return
		}
		ip, ok := n.activated(a)
		if !ok {
			return
		}
		n.Add(ip, map[string]map[string]any{NMIP4: {
			"AddressData": []map[string]dbus.Variant{{"address": dbus.MakeVariant("10.200.0.7"), "prefix": dbus.MakeVariant(uint32(32))}},
			"Gateway":     "",
			// What the VPN server pushes: the trust's network and its DNS.
			"RouteData": []map[string]dbus.Variant{{"dest": dbus.MakeVariant("10.8.0.0"), "prefix": dbus.MakeVariant(uint32(16)),
				"next-hop": dbus.MakeVariant("10.200.0.1"), "metric": dbus.MakeVariant(uint32(50))}},
			"NameserverData": []map[string]dbus.Variant{{"address": dbus.MakeVariant("10.8.0.53")}},
		}})
		n.Set(a.path, NMVPN, map[string]any{"VpnState": uint32(5)})
		n.Set(a.path, NMActive, map[string]any{"State": uint32(2), "Ip4Config": ip})
		n.Emit(a.path, NMActive+".StateChanged", uint32(2), uint32(0))
	}()
	return a.path, nil
}

// vpnLogIn asks the agents for a VPN's secrets as NetworkManager 1.42 and
// network-manager-openvpn 1.10 do (observed on the real pair): first
// without interaction (hints none, flags 0x4), then with it (0x5); the
// server's challenge as a second request with its words
// ("x-vpn-message:…"); after a refusal, "A password is required." again
// and again, about once a second, until an agent gives up or the time
// runs out. It returns the reason the activation fails with, or 0.
func (n *NM) vpnLogIn(p *Profile, want string, timeout time.Duration) uint32 {
	deadline := time.Now().Add(timeout)
	got, err := n.AskSecrets(p, "vpn", nil, 0x4, timeout)
	if err != nil {
		got, err = n.AskSecrets(p, "vpn", nil, 0x5, timeout)
	}
	for err == nil {
		sec, _ := got["vpn"]["secrets"].Value().(map[string]string)
		n.checkKeys(p, sec)
		ok := n.vpnAccepts(sec, want)
		if ok && n.VPNChallenge != "" {
			got, err = n.AskSecrets(p, "vpn", []string{"password", "x-vpn-message:" + n.VPNChallenge}, 0x5, timeout)
			if err != nil {
				break
			}
			code, _ := got["vpn"]["secrets"].Value().(map[string]string)
			n.checkKeys(p, code)
			ok = code["password"] == n.VPNCode
		}
		if ok {
			return 0
		}
		if time.Now().After(deadline) {
			return ReasonLoginFailed
		}
		time.Sleep(100 * time.Millisecond)
		got, err = n.AskSecrets(p, "vpn", []string{"password", "x-vpn-message:A password is required."}, 0x5, timeout)
	}
	return ReasonNoSecrets
}

// vpnAccepts says whether the secrets given are those the server takes.
func (n *NM) vpnAccepts(sec map[string]string, want string) bool {
	accept := n.VPNAccept
	if accept == nil && want != "" {
		accept = map[string]string{"password": want}
	}
	for k, v := range accept {
		if sec[k] != v {
			return false
		}
	}
	return true
}

// checkKeys marks a profile poisoned when an agent returned a key the
// profile has no secret of: NetworkManager saves it into the profile.
func (n *NM) checkKeys(p *Profile, sec map[string]string) {
	data, _ := p.Settings["vpn"]["data"].Value().(map[string]string)
	for k := range sec {
		if _, known := data[k+"-flags"]; !known {
			n.mu.Lock()
			p.poisoned = true
			n.mu.Unlock()
		}
	}
}

// Poisoned reports whether an agent gave a profile an unknown secret.
func (n *NM) Poisoned(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.profiles {
		if p.ID() == id {
			return p.poisoned
		}
	}
	return false
}

// endVPN takes a VPN down with a reason, as NetworkManager does when it
// fails or its base goes away.
func (n *NM) endVPN(a *fakeActive, reason uint32) {
	n.mu.Lock()
	found := false
	for i, x := range n.actives {
		if x == a {
			n.actives = append(n.actives[:i:i], n.actives[i+1:]...)
			found = true
			break
		}
	}
	a.state = 4
	n.mu.Unlock()
	if !found {
		return
	}
	// NetworkManager emits StateChanged at once and batches property
	// changes on an idle callback, so the reason arrives first.
	n.Emit(a.path, NMActive+".StateChanged", uint32(4), reason)
	n.Emit(a.path, NMVPN+".VpnStateChanged", uint32(7), reason)
	n.Set(a.path, NMVPN, map[string]any{"VpnState": uint32(7)})
	n.Set(a.path, NMActive, map[string]any{"State": uint32(4)})
	n.Remove(a.path)
	n.Set(NMPath, nmIface, map[string]any{"ActiveConnections": n.activePaths()})
}

// vpnsOver returns the VPNs started over an active connection.
func (n *NM) vpnsOver(base dbus.ObjectPath) []*fakeActive {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*fakeActive
	for _, a := range n.actives {
		if a.vpn && a.base == base {
			out = append(out, a)
		}
	}
	return out
}

// VPNActive returns the active VPN of a profile, or "".
func (n *NM) VPNActive(id string) (dbus.ObjectPath, uint32) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range n.actives {
		if a.vpn && a.profile.ID() == id {
			return a.path, a.state
		}
	}
	return "", 0
}

// VPNBase returns the device a profile's active VPN runs over, or "".
func (n *NM) VPNBase(id string) dbus.ObjectPath {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range n.actives {
		if a.vpn && a.profile.ID() == id {
			return a.device.path
		}
	}
	return ""
}

// ProfileByPath returns a saved profile's ID.
func (n *NM) ProfileByPath(p dbus.ObjectPath) (string, bool) {
	if pr := n.profile(p); pr != nil {
		return pr.ID(), true
	}
	return "", false
}
