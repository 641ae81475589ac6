package join

import (
	"context"
	"fmt"
	"strings"
)

// Who may join networks, as IT sets it in [wifi] join.
const (
	Everyone    = "everyone"    // any account that may act (the fieldlink group, root)
	Technicians = "technicians" // root and TechnicianGroup, never from the kiosk's keyboard
	Nobody      = "nobody"      // networks are IT's to set up; the screen only lists them
)

// TechnicianGroup is the account group whose members count as technicians
// for [wifi] join = "technicians", besides root. A fixed name, not a
// setting: a config file that could name the group could widen it.
const TechnicianGroup = "fieldlink-tech"

// Policy is IT's rule for joining networks.
type Policy struct {
	// Who is Everyone, Technicians or Nobody ("" is Everyone).
	Who string
	// SSIDs, when not empty, are the only networks that may be joined
	// (exact names; a trailing * matches any name that starts so).
	SSIDs []string
}

// Actor is who asks to join.
type Actor struct {
	// MayAct: the account may act through the instance in charge at all.
	MayAct bool
	// Technician: root or a member of TechnicianGroup.
	Technician bool
	// Kiosk: the request comes from the kiosk's screen, whose keyboard
	// is the clinician's whatever account runs it.
	Kiosk bool
}

// May says why a may not join any network, or nil.
func (p Policy) May(a Actor) error {
	switch {
	case p.Who == Nobody:
		return refusal("IT set up this device's networks: joining another is turned off ([wifi] join = \"nobody\")")
	case !a.MayAct:
		return refusal("this account may watch but not join networks: IT adds clinicians to the \"fieldlink\" group")
	case p.Who == Technicians && a.Kiosk:
		return refusal("only a technician may join a network, and not from the kiosk ([wifi] join = \"technicians\")")
	case p.Who == Technicians && !a.Technician:
		return refusal(fmt.Sprintf("only a technician may join a network (root or the %q group)", TechnicianGroup))
	}
	return nil
}

// Allows reports whether IT's list lets ssid be joined.
func (p Policy) Allows(ssid string) bool {
	if len(p.SSIDs) == 0 {
		return true
	}
	for _, s := range p.SSIDs {
		if pre, ok := strings.CutSuffix(s, "*"); ok && strings.HasPrefix(ssid, pre) {
			return true
		}
		if s == ssid {
			return true
		}
	}
	return false
}

// Check says why a may not join ssid, or nil.
func (p Policy) Check(a Actor, ssid string) error {
	if err := p.May(a); err != nil {
		return err
	}
	if !p.Allows(ssid) {
		return refusal(fmt.Sprintf("%q is not on IT's list of networks for this device", ssid))
	}
	return nil
}

// Refused is a policy's no: the screen shows it as it is.
type Refused struct{ Why string }

func (r *Refused) Error() string { return r.Why }

func refusal(why string) error { return &Refused{Why: why} }

// ValidWho reports whether s is a [wifi] join value.
func ValidWho(s string) bool { return s == "" || s == Everyone || s == Technicians || s == Nobody }

// Joiner is what joins networks: NetworkManager on a real device, the
// scenario in a demo.
type Joiner interface {
	// Scan asks the radios to look for networks now.
	Scan(ctx context.Context) error
	// Join joins a network, waiting until ctx ends for the outcome, and
	// says what came of it.
	Join(ctx context.Context, r Request) (string, error)
}
