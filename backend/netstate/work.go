package netstate

import "time"

// Work is what rides on the network: the VPN and the clinical
// application. The instance in charge keeps it; observers are told.
type Work struct {
	VPN VPNStatus `json:"vpn,omitzero"`
	App AppStatus `json:"app,omitzero"`
	// Visit is the visit in progress, if any: every screen shows it.
	Visit VisitStatus `json:"visit,omitzero"`
	// Sync is how the journal stands with the fleet server, when one is
	// configured.
	Sync SyncStatus `json:"sync,omitzero"`
	// Ahead is what the fleet says of the area the device is in now
	// ("Kings Heath: Vodafone workable in 91% of 212 visits, EE 47% of
	// 190"), from the summary the last sync brought; "" when it has none.
	Ahead string `json:"ahead,omitempty"`
}

// SyncStatus is when the journal last reached the fleet server.
type SyncStatus struct {
	Server string    `json:"server,omitempty"`
	LastOK time.Time `json:"last_ok,omitzero"`
	// Error is the last try's failure, "" once one succeeds.
	Error string `json:"error,omitempty"`
	// Sent is what the last successful sync sent.
	Sent string `json:"sent,omitempty"`
}

// IsZero lets `omitzero` drop the section with no fleet server.
func (s SyncStatus) IsZero() bool { return s.Server == "" }

// VisitStatus is the visit in progress, as the instance in charge
// journals it.
type VisitStatus struct {
	Open  bool      `json:"open,omitempty"`
	Since time.Time `json:"since,omitzero"`
}

// IsZero lets `omitzero` drop "no visit".
func (v VisitStatus) IsZero() bool { return !v.Open }

// VPNPhase is where the VPN stands.
type VPNPhase string

// VPN phases.
const (
	// VPNWaiting: configured, waiting for a workable path (or, with auto
	// off, for the user).
	VPNWaiting VPNPhase = "waiting"
	// VPNConnecting: activation asked of NetworkManager.
	VPNConnecting VPNPhase = "connecting"
	VPNUp         VPNPhase = "up"
	// VPNRetrying: it failed and will be tried again at Retry.
	VPNRetrying VPNPhase = "retrying"
	// VPNHeld: it failed in a way retrying would not mend (refused
	// credentials, a prompt cancelled, no such profile): the user decides.
	VPNHeld VPNPhase = "held"
)

// VPNStatus is the VPN as the screen shows it.
type VPNStatus struct {
	Profile string   `json:"profile,omitempty"`
	Phase   VPNPhase `json:"phase,omitempty"`
	// Since is when the phase began (for "up", the uptime's start).
	Since time.Time `json:"since,omitzero"`
	// Via is the link the VPN runs over (or will).
	Via string `json:"via,omitempty"`
	// Reason says why it is waiting, failed or held, in words.
	Reason string    `json:"reason,omitempty"`
	Retry  time.Time `json:"retry,omitzero"`
	Auto   bool      `json:"auto,omitempty"`
}

// IsZero lets `omitzero` drop an unconfigured VPN.
func (v VPNStatus) IsZero() bool { return v.Profile == "" }

// AppPhase is where the clinical application stands.
type AppPhase string

// Application phases.
const (
	AppIdle    AppPhase = "idle"
	AppRunning AppPhase = "running"
	AppExited  AppPhase = "exited"
	AppFailed  AppPhase = "failed"
)

// AppStatus is the clinical application as the screen shows it.
type AppStatus struct {
	Name  string    `json:"name,omitempty"`
	Phase AppPhase  `json:"phase,omitempty"`
	Since time.Time `json:"since,omitzero"`
	PID   int       `json:"pid,omitempty"`
	// Launch is "manual" or "on-vpn-up".
	Launch string `json:"launch,omitempty"`
	// Reason is how it last ended or why it could not start.
	Reason string `json:"reason,omitempty"`
}

// IsZero lets `omitzero` drop an unconfigured application.
func (a AppStatus) IsZero() bool { return a.Name == "" }
