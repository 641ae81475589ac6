package join

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"
)

func TestSettingsPerSecurity(t *testing.T) {
	for _, c := range []struct {
		sec, keyMgmt string
		secret       string // the secret's flags key
	}{
		{WPA2, "wpa-psk", "psk-flags"}, {WPA, "wpa-psk", "psk-flags"}, {WPA3, "sae", "psk-flags"}, {OWE, "owe", ""}, {Open, "", ""},
	} {
		s, err := Settings(Request{SSID: "Home"}, c.sec)
		if err != nil {
			t.Fatalf("%s: %v", c.sec, err)
		}
		if string(s["802-11-wireless"]["ssid"].Value().([]byte)) != "Home" || s["connection"]["type"].Value() != "802-11-wireless" {
			t.Fatalf("%s: %v", c.sec, s)
		}
		sec, has := s["802-11-wireless-security"]
		if has != (c.keyMgmt != "") || (has && sec["key-mgmt"].Value() != c.keyMgmt) {
			t.Fatalf("%s: security %v, want key-mgmt %q", c.sec, sec, c.keyMgmt)
		}
		if c.secret != "" && (sec[c.secret].Value() != uint32(0) || sec["psk"].Value() != nil) {
			t.Fatalf("%s: %v: want no key and NetworkManager keeping it", c.sec, sec)
		}
	}
	if _, err := Settings(Request{SSID: "Old"}, WEP); err == nil {
		t.Fatal("WEP joined")
	}
	if _, err := Settings(Request{SSID: "x"}, "wpa4-future"); err == nil {
		t.Fatal("an unknown security joined")
	}
}

func TestSettings8021X(t *testing.T) {
	if _, err := Settings(Request{SSID: "eduroam"}, Enterprise); err == nil {
		t.Fatal("802.1X without a user name")
	}
	s, err := Settings(Request{SSID: "eduroam", Identity: "n@trust.nhs.uk"}, Enterprise)
	if err != nil {
		t.Fatal(err)
	}
	x := s["802-1x"]
	if x["eap"].Value().([]string)[0] != "peap" || x["phase2-auth"].Value() != "mschapv2" || x["password"].Value() != nil {
		t.Fatalf("default 802.1X %v", x)
	}
	if _, ok := x["domain-suffix-match"]; ok {
		t.Fatal("a domain nobody gave")
	}
	s, _ = Settings(Request{SSID: "GovWifi", Identity: "abc", EAP: TTLS, Domain: "wifi.service.gov.uk"}, Enterprise)
	x = s["802-1x"]
	if x["eap"].Value().([]string)[0] != "ttls" || x["phase2-auth"].Value() != "pap" || x["domain-suffix-match"].Value() != "wifi.service.gov.uk" || x["system-ca-certs"].Value() != true {
		t.Fatalf("TTLS %v", x)
	}
}

func TestValidateRefusesWhatCannotBeANetwork(t *testing.T) {
	for _, r := range []Request{
		{}, {SSID: strings.Repeat("x", 33)}, {SSID: "a\x1b[2Jb"}, {SSID: "ok", Identity: "n\nurse"},
		{SSID: "ok", EAP: "md5"}, {SSID: "ok", Interface: "wlan0wlan0wlan0wlan0"}, {SSID: "\xff\xfe"},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
	if err := (Request{SSID: "NHS Community 5G", Identity: "nurse", EAP: PEAP}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestPolicy(t *testing.T) {
	clinician := Actor{MayAct: true}
	tech := Actor{MayAct: true, Technician: true}
	kioskRoot := Actor{MayAct: true, Technician: true, Kiosk: true}
	watcher := Actor{}
	for _, c := range []struct {
		who  string
		a    Actor
		want bool
	}{
		{Everyone, clinician, true}, {Everyone, kioskRoot, true}, {Everyone, watcher, false}, {"", clinician, true},
		{Technicians, clinician, false}, {Technicians, tech, true}, {Technicians, kioskRoot, false}, {Technicians, watcher, false},
		{Nobody, tech, false}, {Nobody, kioskRoot, false}, {Nobody, clinician, false},
	} {
		err := Policy{Who: c.who}.May(c.a)
		if (err == nil) != c.want {
			t.Errorf("%q %+v: %v, want allowed %v", c.who, c.a, err, c.want)
		}
		var r *Refused
		if err != nil && (!errors.As(err, &r) || r.Why == "") {
			t.Errorf("%q %+v: refusal %v is not worded", c.who, c.a, err)
		}
	}
	p := Policy{SSIDs: []string{"eduroam", "NHS-*"}}
	for ssid, want := range map[string]bool{"eduroam": true, "NHS-Community": true, "NHS-": true, "eduroam2": false, "BT-Hub": false, "nhs-x": false} {
		if p.Allows(ssid) != want {
			t.Errorf("list %v: %q allowed %v", p.SSIDs, ssid, !want)
		}
	}
	if err := p.Check(clinician, "BT-Hub"); err == nil || !strings.Contains(err.Error(), "IT's list") {
		t.Fatalf("off-list network: %v", err)
	}
}

// FuzzRequest: whatever arrives on the socket as a join request, checking
// it never panics, and a request it accepts makes settings with no
// control character in any string (a name that reaches the screen and
// NetworkManager's profile files).
func FuzzRequest(f *testing.F) {
	f.Add([]byte(`{"ssid":"eduroam","eap":"ttls","identity":"n@x","domain":"r.x"}`), "802.1x")
	f.Add([]byte(`{"ssid":"Home"}`), "wpa2-psk")
	f.Add([]byte(`{"ssid":"\u001b[31m"}`), "open")
	f.Fuzz(func(t *testing.T, b []byte, sec string) {
		var r Request
		if json.Unmarshal(b, &r) != nil {
			return
		}
		s, err := Settings(r, sec)
		if err != nil {
			return
		}
		for _, m := range s {
			for k, v := range m {
				if str, ok := v.Value().(string); ok && strings.IndexFunc(str, unicode.IsControl) >= 0 {
					t.Fatalf("%s holds a control character: %q", k, str)
				}
			}
		}
	})
}
