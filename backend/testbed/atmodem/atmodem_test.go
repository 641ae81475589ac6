package atmodem

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// port is ModemManager's end of the modem, for the test.
type port struct {
	f *os.File
	r *bufio.Reader
}

func open(t *testing.T, m *Modem) *port {
	f, err := os.OpenFile(m.Port, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &port{f: f, r: bufio.NewReader(f)}
}

// at sends a command and returns the lines up to the final result.
func (p *port) at(t *testing.T, cmd string) []string {
	t.Helper()
	p.f.Write([]byte(cmd + "\r"))
	var out []string
	deadline := time.Now().Add(2 * time.Second)
	p.f.SetReadDeadline(deadline)
	for {
		l, err := p.r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v (got %q)", cmd, err, out)
		}
		l = strings.TrimSpace(l)
		if l == "" || l == cmd {
			continue
		}
		out = append(out, l)
		if l == "OK" || l == "ERROR" || l == "NO CARRIER" || strings.HasPrefix(l, "CONNECT") || strings.HasPrefix(l, "+CME ERROR") {
			return out
		}
	}
}

func TestAnswersWhatModemManagerAsks(t *testing.T) {
	m, err := Start(DefaultNetwork())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p := open(t, m)
	p.at(t, "ATE0")
	for cmd, want := range map[string]string{
		"AT+CGMI": "FieldLink Sim Inc.", "AT+CPIN?": "+CPIN: READY", "AT+CSQ": "+CSQ: 24,99",
		"AT+CESQ": "+CESQ: 99,99,255,255,22,46", "AT+COPS?": `+COPS: 0,0,"FieldLink Net",7`,
		"AT+CEREG?": "+CEREG: 0,1", "ATD*99#": "CONNECT 115200",
	} {
		if got := p.at(t, cmd); got[0] != want {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}
	p.at(t, "AT+CEREG=2")
	p.at(t, "AT+COPS=3,2")
	if got := p.at(t, "AT+CEREG?;+COPS?"); got[0] != `+CEREG: 2,1,"2C3D","01C3D4E",7` || got[1] != `+COPS: 0,2,"23499",7` {
		t.Errorf("location and PLMN: %q", got)
	}
	if got := p.at(t, "AT+FOO?"); got[len(got)-1] != "ERROR" {
		t.Errorf("unknown query: %q", got)
	}
	// A change is pushed as ModemManager asked.
	p.at(t, "AT+CMER=3,0,0,1")
	m.Set(func(n *Network) { n.Reg, n.Signal = Searching, 1 })
	p.f.SetReadDeadline(time.Now().Add(2 * time.Second))
	var urcs []string
	for len(urcs) < 2 {
		l, err := p.r.ReadString('\n')
		if err != nil {
			t.Fatalf("URCs %q: %v", urcs, err)
		}
		if l = strings.TrimSpace(l); l != "" {
			urcs = append(urcs, l)
		}
	}
	if urcs[0] != "+CIEV: 2,1" || urcs[1] != `+CEREG: 2,"2C3D","01C3D4E",7` {
		t.Errorf("URCs %q", urcs)
	}
}

func TestTheSIMsPIN(t *testing.T) {
	n := DefaultNetwork()
	n.SIM = SIMLocked
	m, err := Start(n)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p := open(t, m)
	p.at(t, "ATE0")
	if got := p.at(t, "AT+CPIN?"); got[0] != "+CPIN: SIM PIN" {
		t.Fatalf("%q", got)
	}
	if got := p.at(t, "AT+COPS?"); got[0] != "+CME ERROR: 11" {
		t.Fatalf("a locked SIM registered: %q", got)
	}
	if got := p.at(t, `AT+CPIN="0000"`); got[0] != "+CME ERROR: 16" || m.Network().PINTries != 2 {
		t.Fatalf("wrong PIN: %q tries %d", got, m.Network().PINTries)
	}
	if got := p.at(t, `AT+CSIM=10,"0020000100"`); got[0] != `+CSIM: 4,"63C2"` {
		t.Fatalf("retries: %q", got)
	}
	if got := p.at(t, `AT+CPIN="1234"`); got[0] != "OK" || m.Network().SIM != SIMReady {
		t.Fatalf("right PIN: %q", got)
	}
}
