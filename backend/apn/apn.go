// Package apn finds the APN for a SIM in Debian's mobile-broadband-provider-info
// database (serviceproviders.xml) and builds the NetworkManager mobile
// broadband profile fieldlink offers to create when a SIM has none.
package apn

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/godbus/dbus/v5"
	"github.com/google/uuid"
)

// DefaultPath is where Debian installs the database.
const DefaultPath = "/usr/share/mobile-broadband-provider-info/serviceproviders.xml"

// APN is one access point name a provider offers.
type APN struct {
	Provider string
	Country  string
	Value    string // the APN itself, "everywhere"
	Name     string // "EE Internet"
	Usage    string // internet, mms, ...
	// Username and Password are the provider's published defaults (often
	// blank); they go into the profile only, never to the screen or a log.
	Username string
	Password string
}

// DB is a parsed provider database, indexed by MCC-MNC.
type DB struct {
	byPLMN map[string][]APN
	// Providers is the number of providers read.
	Providers int
}

// Load reads a provider database. A missing or malformed file is an error
// that names the file (and the line, for XML errors).
func Load(path string) (*DB, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: not found (install Debian's mobile-broadband-provider-info, or set [cellular] apn in the config)", path)
		}
		return nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

type xmlDoc struct {
	Countries []struct {
		Code      string `xml:"code,attr"`
		Providers []struct {
			Names []string `xml:"name"`
			GSM   *struct {
				Networks []struct {
					MCC string `xml:"mcc,attr"`
					MNC string `xml:"mnc,attr"`
				} `xml:"network-id"`
				APNs []struct {
					Value string `xml:"value,attr"`
					Usage []struct {
						Type string `xml:"type,attr"`
					} `xml:"usage"`
					Name     string `xml:"name"`
					Username string `xml:"username"`
					Password string `xml:"password"`
				} `xml:"apn"`
			} `xml:"gsm"`
		} `xml:"provider"`
	} `xml:"country"`
}

// Parse reads a provider database from r; name is used in errors.
func Parse(name string, r io.Reader) (*DB, error) {
	b, err := io.ReadAll(io.LimitReader(r, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var doc xmlDoc
	dec := xml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s:%d: malformed provider database: %s", name, se.Line, se.Msg)
		}
		line := 1 + bytes.Count(b[:min(int(dec.InputOffset()), len(b))], []byte("\n"))
		return nil, fmt.Errorf("%s:%d: malformed provider database: %v", name, line, err)
	}
	db := &DB{byPLMN: map[string][]APN{}}
	for _, c := range doc.Countries {
		for _, p := range c.Providers {
			if p.GSM == nil {
				continue
			}
			db.Providers++
			provider := ""
			if len(p.Names) > 0 {
				provider = strings.TrimSpace(p.Names[0])
			}
			for _, a := range p.GSM.APNs {
				usage := "internet"
				if len(a.Usage) > 0 && a.Usage[0].Type != "" {
					usage = a.Usage[0].Type
				}
				apn := APN{Provider: provider, Country: c.Code, Value: strings.TrimSpace(a.Value), Name: strings.TrimSpace(a.Name),
					Usage: usage, Username: strings.TrimSpace(a.Username), Password: strings.TrimSpace(a.Password)}
				if apn.Value == "" {
					continue
				}
				for _, n := range p.GSM.Networks {
					key := n.MCC + "-" + n.MNC
					db.byPLMN[key] = append(db.byPLMN[key], apn)
				}
			}
		}
	}
	if db.Providers == 0 {
		return nil, fmt.Errorf("%s: no providers found; is this serviceproviders.xml?", name)
	}
	return db, nil
}

// Lookup returns the internet APNs for a SIM's MCC and MNC, the most
// likely first. MNCs are matched with and without a leading zero, as
// databases and SIMs disagree on two- and three-digit MNCs.
func (db *DB) Lookup(mcc, mnc string) []APN {
	var out []APN
	seen := map[string]bool{}
	for _, m := range []string{mnc, strings.TrimLeft(mnc, "0"), "0" + mnc} {
		if m == "" {
			m = "0"
		}
		for _, a := range db.byPLMN[mcc+"-"+m] {
			if a.Usage != "internet" || seen[a.Provider+"/"+a.Value] {
				continue
			}
			seen[a.Provider+"/"+a.Value] = true
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Provider < out[j].Provider })
	return out
}

// Settings builds NetworkManager settings for a mobile broadband profile.
// It does not autoconnect: fieldlink's failover brings cellular up when it
// is needed (cold standby), which saves data and battery.
func Settings(id string, a APN) map[string]map[string]dbus.Variant {
	gsm := map[string]dbus.Variant{"apn": dbus.MakeVariant(a.Value)}
	if a.Username != "" {
		gsm["username"] = dbus.MakeVariant(a.Username)
	}
	if a.Password != "" {
		gsm["password"] = dbus.MakeVariant(a.Password)
	}
	return map[string]map[string]dbus.Variant{
		"connection": {
			"id":          dbus.MakeVariant(id),
			"uuid":        dbus.MakeVariant(uuid.NewString()),
			"type":        dbus.MakeVariant("gsm"),
			"autoconnect": dbus.MakeVariant(false),
		},
		"gsm":  gsm,
		"ipv4": {"method": dbus.MakeVariant("auto")},
		"ipv6": {"method": dbus.MakeVariant("auto")},
	}
}
