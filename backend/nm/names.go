package nm

import (
	"fmt"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// LinkState folds NetworkManager's device states into fieldlink's.
func LinkState(s uint32) netstate.State {
	switch {
	case s == 10:
		return netstate.StateUnmanaged
	case s == 20:
		return netstate.StateUnavailable
	case s == 30:
		return netstate.StateDisconnected
	case s >= 40 && s <= 90:
		return netstate.StateConnecting
	case s == 100:
		return netstate.StateConnected
	case s == 110:
		return netstate.StateDisconnecting
	case s == 120:
		return netstate.StateFailed
	}
	return netstate.StateUnknown
}

// Connectivity maps NMConnectivityState.
func Connectivity(c uint32) netstate.Connectivity {
	if c <= 4 {
		return netstate.Connectivity(c)
	}
	return netstate.ConnUnknown
}

// Metered maps NMMetered (yes and guess-yes are metered).
func Metered(m uint32) netstate.Tristate {
	switch m {
	case 1, 3:
		return netstate.Yes
	case 2, 4:
		return netstate.No
	}
	return netstate.Unknown
}

// reasons are NMDeviceStateReason values, worded for a technician.
var reasons = map[uint32]string{
	1: "unknown error", 2: "now managed", 3: "no longer managed", 4: "configuration failed",
	5: "IP configuration unavailable", 6: "IP configuration expired", 7: "secrets were required but not provided",
	8: "Wi-Fi supplicant disconnected", 9: "Wi-Fi supplicant configuration failed", 10: "Wi-Fi supplicant failed",
	11: "Wi-Fi supplicant timed out", 12: "PPP failed to start", 13: "PPP disconnected", 14: "PPP failed",
	15: "DHCP failed to start", 16: "DHCP error", 17: "DHCP failed", 18: "shared connection failed to start",
	19: "shared connection failed", 20: "link-local addressing failed to start", 21: "link-local addressing error",
	22: "link-local addressing failed", 23: "modem busy", 24: "modem: no dial tone", 25: "modem: no carrier",
	26: "modem dial timed out", 27: "modem dial failed", 28: "modem initialisation failed",
	29: "APN rejected", 30: "not searching for networks", 31: "network registration denied",
	32: "network registration timed out", 33: "network registration failed", 34: "SIM PIN check failed",
	35: "firmware missing", 36: "device removed", 37: "system sleeping", 38: "profile removed",
	39: "disconnected by user or fieldlink", 40: "carrier changed", 41: "existing connection assumed",
	42: "Wi-Fi supplicant available", 43: "modem not found", 44: "Bluetooth failed", 45: "no SIM inserted",
	46: "SIM PIN required", 47: "SIM PUK required", 48: "wrong SIM", 49: "InfiniBand mode unsupported",
	50: "a dependency failed", 51: "BR2684 failed", 52: "ModemManager unavailable", 53: "Wi-Fi network not found",
	54: "secondary connection failed", 55: "DCB/FCoE failed", 56: "teamd control failed", 57: "modem failed",
	58: "modem available", 59: "SIM PIN incorrect", 60: "new activation", 61: "parent device changed",
	62: "parent device management changed", 63: "Open vSwitch database failed", 64: "duplicate IP address",
	65: "IP method unsupported", 66: "SR-IOV configuration failed", 67: "Wi-Fi P2P peer not found",
}

// ReasonText words a device state reason; 0 (none) is "".
func ReasonText(r uint32) string {
	if r == 0 {
		return ""
	}
	if s, ok := reasons[r]; ok {
		return s
	}
	return fmt.Sprintf("reason %d", r)
}

// Kind maps a device type to a link kind; ok is false for devices
// fieldlink does not show (loopback, bridges, ...).
func Kind(t uint32) (netstate.Kind, bool) {
	switch t {
	case TypeEthernet, TypeVeth:
		return netstate.KindEthernet, true
	case TypeWiFi:
		return netstate.KindWiFi, true
	case TypeModem:
		return netstate.KindCellular, true
	case TypeWireGuard:
		return netstate.KindVPN, true
	}
	return netstate.KindOther, false
}

// activeReasons are NMActiveConnectionStateReason values (VPN connections
// share the first twelve with NMVpnConnectionStateReason), worded for the
// person at the screen.
var activeReasons = map[uint32]string{
	0: "unknown reason", 1: "no reason given", 2: "disconnected by the user",
	3: "the link it ran over disconnected", 4: "the VPN service stopped",
	5: "the VPN server gave an invalid IP configuration", 6: "the VPN server did not answer in time",
	7: "the VPN service did not start in time", 8: "the VPN service failed to start",
	9: "no secrets: the password or code was not given", 10: "login failed: the VPN server refused the credentials",
	11: "the profile was deleted", 12: "a connection it depends on failed",
	13: "the device could not be created", 14: "the device it ran over was removed",
}

// ActiveReason words why an active connection (a VPN) ended.
func ActiveReason(r uint32) string {
	if s, ok := activeReasons[r]; ok {
		return s
	}
	return fmt.Sprintf("reason %d", r)
}

// VPNStage words a VPN connection's stage on its way up
// (NMVpnConnectionState, VPN.Connection.VpnState), for the screen.
func VPNStage(s uint32) string {
	switch s {
	case 1:
		return "preparing"
	case 2:
		return "waiting for the log-in"
	case 3:
		return "connecting to the VPN server"
	case 4:
		return "getting the tunnel's address"
	}
	return ""
}
