// Package atmodem is a simulated 3GPP modem on a pseudo-terminal, for the
// real ModemManager to probe, enable, register and connect through its
// generic plugin (../shared/recipes/real-modemmanager.md). It answers the
// AT commands ModemManager 1.20 sends (identity, SIM and PIN, CFUN,
// CSQ/CESQ, CREG/CGREG/CEREG with LAC/TAC and cell id, COPS, CGDCONT,
// CMER/CIEV, dial) from a Network the test changes at will; changes are
// pushed as the unsolicited results a real modem sends (+CREG…, +CIEV).
package atmodem

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Registration is a 3GPP registration status (+CREG's stat).
type Registration int

// Registration states.
const (
	NotRegistered Registration = 0
	Home          Registration = 1
	Searching     Registration = 2
	Denied        Registration = 3
	Roaming       Registration = 5
)

// AcT is a 3GPP access technology (+COPS/+CREG's AcT).
type AcT int

// Access technologies.
const (
	GSM  AcT = 0
	UMTS AcT = 2
	EDGE AcT = 3
	HSPA AcT = 6
	LTE  AcT = 7
	NR   AcT = 11 // 5G NR (standalone)
)

// SIM is the SIM's state.
type SIM int

// SIM states.
const (
	SIMReady  SIM = iota
	SIMLocked     // PIN required
	SIMAbsent
)

// Network is what the modem reports: the test sets it with Set.
type Network struct {
	Reg      Registration
	Tech     AcT
	Operator string // long name
	PLMN     string // MCC+MNC ("23430")
	// Signal is +CIND's 0..5; CSQ and CESQ follow it unless RSRP/RSRQ
	// are set.
	Signal int
	// RSRP (dBm, -140..-44) and RSRQ (dB, -19.5..-3): reported by +CESQ.
	RSRP, RSRQ float64
	LAC, TAC   string // hex
	CellID     string // hex
	SIM        SIM
	PIN        string // the SIM's PIN while locked
	PINTries   int    // left before the PUK
}

// DefaultNetwork is a registered LTE modem on a home network.
func DefaultNetwork() Network {
	return Network{Reg: Home, Tech: LTE, Operator: "FieldLink Net", PLMN: "23499", Signal: 4, RSRP: -95, RSRQ: -9,
		LAC: "1A2B", TAC: "2C3D", CellID: "01C3D4E", SIM: SIMReady, PIN: "1234", PINTries: 3}
}

// Modem is the simulated modem: a pseudo-terminal whose far end
// ModemManager opens as the modem's AT port.
type Modem struct {
	master *os.File
	// slave stays open in the modem: a pty whose far end has no opener
	// reads as hung up (EIO) between ModemManager's probes.
	slave *os.File
	// Port is the terminal's device ("/dev/pts/5"), and PTS its number.
	Port string
	PTS  int

	mu    sync.Mutex
	net   Network
	st    state
	log   []string
	done  chan struct{}
	wmu   sync.Mutex
	close sync.Once
}

// state is what ModemManager set up.
type state struct {
	echo                  bool
	cfun                  int
	cregN, cgregN, ceregN int
	pdp                   map[int][2]string // PDP contexts by cid: type, APN (quoted)
	copsFmt               int
	cmer                  bool
	dialed                bool
}

// Start opens the pseudo-terminal and serves it until Close.
func Start(n Network) (*Modem, error) {
	// Non-blocking, so that the runtime poller serves it and Close ends a
	// read in progress (an unplugged modem).
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, err
	}
	num, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, err
	}
	m := &Modem{master: master, PTS: num, Port: "/dev/pts/" + strconv.Itoa(num), net: n, st: state{echo: true, cfun: 1},
		done: make(chan struct{})}
	// The far end in raw mode, as a USB serial port is.
	if err := m.raw(); err != nil {
		master.Close()
		return nil, err
	}
	go m.serve()
	return m, nil
}

func (m *Modem) raw() error {
	s, err := os.OpenFile(m.Port, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return err
	}
	m.slave = s
	t, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	return unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, t)
}

// Close unplugs the modem: its port goes.
func (m *Modem) Close() {
	m.close.Do(func() {
		m.master.Close()
		if m.slave != nil {
			m.slave.Close()
		}
		<-m.done
	})
}

// Network is what the modem reports now.
func (m *Modem) Network() Network {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.net
}

// Set changes the network, and pushes what a modem pushes: registration
// and technology changes as +CREG/+CGREG/+CEREG (as ModemManager asked
// for them), signal changes as +CIEV once indications are on. A SIM
// pulled out leaves the network as a real modem does: deregistered.
func (m *Modem) Set(f func(n *Network)) {
	m.mu.Lock()
	old := m.net
	f(&m.net)
	if m.net.SIM == SIMAbsent && old.SIM != SIMAbsent {
		m.net.Reg = NotRegistered
	}
	n, st := m.net, m.st
	m.mu.Unlock()
	var urcs []string
	if n.Signal != old.Signal && st.cmer {
		urcs = append(urcs, fmt.Sprintf("+CIEV: 2,%d", n.Signal))
	}
	if n.Reg != old.Reg || n.Tech != old.Tech || n.LAC != old.LAC || n.TAC != old.TAC || n.CellID != old.CellID {
		for _, k := range []struct {
			name string
			mode int
		}{{"CREG", st.cregN}, {"CGREG", st.cgregN}, {"CEREG", st.ceregN}} {
			if u := regURC(k.name, k.mode, n); u != "" {
				urcs = append(urcs, u)
			}
		}
	}
	for _, u := range urcs {
		m.write("\r\n" + u + "\r\n")
		m.note("URC " + u)
	}
}

// Log is every command the modem was sent, with its answer, oldest first.
func (m *Modem) Log() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.log...)
}

// Dialed reports whether ModemManager dialed (a bearer's ATD).
func (m *Modem) Dialed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.dialed
}

func (m *Modem) note(s string) {
	m.mu.Lock()
	if len(m.log) < 5000 {
		m.log = append(m.log, time.Now().Format("15:04:05.000")+" "+s)
	}
	m.mu.Unlock()
}

func (m *Modem) write(s string) {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.master.Write([]byte(s))
}

// serve reads command lines and answers them.
func (m *Modem) serve() {
	defer close(m.done)
	r := bufio.NewReader(m.master)
	var line []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			return
		}
		if b != '\r' && b != '\n' {
			line = append(line, b)
			continue
		}
		cmd := strings.TrimSpace(string(line))
		line = line[:0]
		if cmd == "" {
			continue
		}
		m.mu.Lock()
		echo := m.st.echo
		m.mu.Unlock()
		if echo {
			m.write(cmd + "\r")
		}
		if len(cmd) < 2 || !strings.EqualFold(cmd[:2], "AT") {
			m.note("ignored " + strconv.Quote(cmd))
			continue
		}
		out, ok := m.run(cmd[2:])
		resp := ""
		for _, l := range out {
			resp += "\r\n" + l + "\r\n"
		}
		last := ""
		if len(out) > 0 {
			last = out[len(out)-1]
		}
		switch {
		case ok && (strings.HasPrefix(last, "CONNECT") || last == "NO CARRIER" || strings.HasPrefix(last, "+CME ERROR")):
			// A final result of its own: no OK after it.
		case ok:
			resp += "\r\nOK\r\n"
		default:
			resp += "\r\nERROR\r\n"
		}
		m.write(resp)
		m.note(fmt.Sprintf("%q -> %s ok=%v", cmd, strings.Join(out, " | "), ok))
	}
}

// run answers one command line (several commands joined with ';').
func (m *Modem) run(body string) ([]string, bool) {
	var out []string
	for _, part := range strings.Split(body, ";") {
		lines, ok := m.reply(strings.TrimSpace(part))
		out = append(out, lines...)
		if !ok {
			return out, false
		}
	}
	return out, true
}

var basic = regexp.MustCompile(`^(E[01]?|V[01]|Q0|X[0-4]|&C1|&D[0-2]|Z|&F|S0=0|L0|M0)+$`)

// reply answers one command (without AT).
func (m *Modem) reply(cmd string) ([]string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := strings.ToUpper(cmd)
	n := &m.net
	switch {
	case c == "":
		return nil, true
	case basic.MatchString(c):
		if strings.Contains(c, "E0") {
			m.st.echo = false
		} else if strings.Contains(c, "E1") {
			m.st.echo = true
		}
		return nil, true
	}
	if lines, ok, handled := m.identity(c); handled {
		return lines, ok
	}
	if lines, ok, handled := m.sim(cmd, c); handled {
		return lines, ok
	}
	if n.SIM != SIMReady && needsSIM(c) {
		return []string{simError(n.SIM)}, true
	}
	if lines, ok, handled := m.radio(c); handled {
		return lines, ok
	}
	if lines, ok, handled := m.registration(c); handled {
		return lines, ok
	}
	if lines, ok, handled := m.data(c); handled {
		return lines, ok
	}
	if strings.HasSuffix(c, "?") {
		return nil, false // a query the modem does not know
	}
	return nil, true
}

// identity answers who the modem is.
func (m *Modem) identity(c string) ([]string, bool, bool) {
	switch c {
	case "I", "+GMI", "+CGMI":
		return []string{"FieldLink Sim Inc."}, true, true
	case "+GMM", "+CGMM":
		return []string{"SIM-LTE-1"}, true, true
	case "+GMR", "+CGMR":
		return []string{"SIM_1.0.0"}, true, true
	case "+GSN", "+CGSN":
		return []string{"356938035643809"}, true, true
	case "+GCAP":
		return []string{"+GCAP: +CGSM,+DS,+ES"}, true, true
	case "+CSCS=?":
		return []string{`+CSCS: ("IRA","GSM","UCS2")`}, true, true
	case "+CSCS?":
		return []string{`+CSCS: "IRA"`}, true, true
	}
	if strings.HasPrefix(c, "+CSCS=") || strings.HasPrefix(c, "+CMEE=") {
		return nil, true, true
	}
	return nil, false, false
}

// sim answers the SIM's state, its PIN and its identity.
func (m *Modem) sim(cmd, c string) ([]string, bool, bool) {
	n := &m.net
	switch {
	case c == "+CPIN?":
		switch n.SIM {
		case SIMLocked:
			return []string{"+CPIN: SIM PIN"}, true, true
		case SIMAbsent:
			return []string{"+CME ERROR: 10"}, true, true
		}
		return []string{"+CPIN: READY"}, true, true
	case strings.HasPrefix(c, "+CPIN="):
		pin := strings.Trim(strings.SplitN(cmd[6:], ",", 2)[0], `"`)
		if n.SIM != SIMLocked {
			return nil, true, true
		}
		if n.PINTries <= 0 {
			return []string{"+CME ERROR: 12"}, true, true // PUK required
		}
		if pin != n.PIN {
			n.PINTries--
			return []string{"+CME ERROR: 16"}, true, true // incorrect password
		}
		n.SIM, n.PINTries = SIMReady, 3
		return nil, true, true
	case c == "+CPINR" || strings.HasPrefix(c, "+CPINR="):
		return []string{fmt.Sprintf("+CPINR: SIM PIN,%d,3", n.PINTries), "+CPINR: SIM PUK,10,10"}, true, true
	case strings.HasPrefix(c, "+CSIM="):
		// VERIFY PIN with no data: "63Cx", x tries left.
		return []string{fmt.Sprintf(`+CSIM: 4,"63C%d"`, n.PINTries)}, true, true
	case c == "+CIMI":
		if n.SIM != SIMReady {
			return []string{simError(n.SIM)}, true, true
		}
		return []string{n.PLMN + "1234567890"[:15-len(n.PLMN)]}, true, true
	case strings.HasPrefix(c, "+CRSM=176,12258"):
		return []string{`+CRSM: 144,0,"98942900000000001234"`}, true, true // ICCID
	case c == "+CNUM":
		return []string{`+CNUM: ,"+447700900123",145`}, true, true
	}
	return nil, false, false
}

func needsSIM(c string) bool {
	for _, p := range []string{"+COPS", "+CREG", "+CGREG", "+CEREG", "+CGDCONT", "+CGATT", "+CGACT", "D"} {
		if strings.HasPrefix(c, p) && !strings.HasSuffix(c, "=?") {
			return true
		}
	}
	return false
}

func simError(s SIM) string {
	if s == SIMAbsent {
		return "+CME ERROR: 10" // SIM not inserted
	}
	return "+CME ERROR: 11" // SIM PIN required
}

// radio answers the power state and the signal.
func (m *Modem) radio(c string) ([]string, bool, bool) {
	n := &m.net
	switch {
	case c == "+CFUN?":
		return []string{fmt.Sprintf("+CFUN: %d", m.st.cfun)}, true, true
	case strings.HasPrefix(c, "+CFUN="):
		v, _ := strconv.Atoi(strings.SplitN(c[6:], ",", 2)[0])
		m.st.cfun = v
		return nil, true, true
	case c == "+CSQ":
		if n.Signal == 0 || !registered(n.Reg) {
			return []string{"+CSQ: 99,99"}, true, true
		}
		return []string{fmt.Sprintf("+CSQ: %d,99", 6*n.Signal)}, true, true
	case c == "+CESQ=?":
		return []string{"+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)"}, true, true
	case c == "+CESQ":
		return []string{m.cesq()}, true, true
	case c == "+CIND=?":
		return []string{`+CIND: ("battchg",(0-5)),("signal",(0-5)),("service",(0-1)),("roam",(0-1))`}, true, true
	case c == "+CIND?":
		return []string{fmt.Sprintf("+CIND: 5,%d,%d,%d", n.Signal, b2i(registered(n.Reg)), b2i(n.Reg == Roaming))}, true, true
	case c == "+CMER=?":
		return []string{"+CMER: (0-3),(0),(0),(0-2),(0-1)"}, true, true
	case strings.HasPrefix(c, "+CMER="):
		f := strings.Split(c[6:], ",")
		m.st.cmer = len(f) >= 4 && f[0] != "0" && f[3] != "0"
		return nil, true, true
	case c == "+WS46=?":
		return []string{"+WS46: (12,22,25,28,29,30,31)"}, true, true
	case c == "+WS46?":
		return []string{"+WS46: 12"}, true, true
	}
	return nil, false, false
}

// cesq reports RSRQ and RSRP as 27.007's indices (LTE only).
func (m *Modem) cesq() string {
	n := &m.net
	if !registered(n.Reg) || n.Tech != LTE && n.Tech != NR {
		return "+CESQ: 99,99,255,255,255,255"
	}
	rsrq := clamp(int((n.RSRQ+20)*2), 0, 34)
	rsrp := clamp(int(n.RSRP+141), 0, 97)
	return fmt.Sprintf("+CESQ: 99,99,255,255,%d,%d", rsrq, rsrp)
}

// registration answers CREG/CGREG/CEREG and COPS.
func (m *Modem) registration(c string) ([]string, bool, bool) {
	n := &m.net
	for _, k := range []struct {
		name string
		mode *int
	}{{"CREG", &m.st.cregN}, {"CGREG", &m.st.cgregN}, {"CEREG", &m.st.ceregN}} {
		switch {
		case c == "+"+k.name+"=?":
			return []string{"+" + k.name + ": (0-2)"}, true, true
		case strings.HasPrefix(c, "+"+k.name+"="):
			*k.mode, _ = strconv.Atoi(c[len(k.name)+2:])
			return nil, true, true
		case c == "+"+k.name+"?":
			return []string{regQuery(k.name, *k.mode, *n)}, true, true
		}
	}
	switch {
	case strings.HasPrefix(c, "+COPS=3,"):
		m.st.copsFmt, _ = strconv.Atoi(c[8:])
		return nil, true, true
	case c == "+COPS?":
		if !registered(n.Reg) {
			return []string{"+COPS: 0"}, true, true
		}
		name := n.Operator
		if m.st.copsFmt == 2 {
			name = n.PLMN
		}
		return []string{fmt.Sprintf(`+COPS: 0,%d,"%s",%d`, m.st.copsFmt, name, n.Tech)}, true, true
	case c == "+COPS=?":
		return []string{fmt.Sprintf(`+COPS: (2,"%s","%s","%s",%d),,(0-4),(0-2)`, n.Operator, n.Operator, n.PLMN, n.Tech)}, true, true
	case strings.HasPrefix(c, "+COPS"):
		return nil, true, true
	}
	return nil, false, false
}

// regQuery is +CREG? and its kin, as the mode ModemManager chose says.
func regQuery(name string, mode int, n Network) string {
	if mode == 2 {
		return fmt.Sprintf("+%s: 2,%d,%s", name, n.Reg, location(name, n))
	}
	return fmt.Sprintf("+%s: %d,%d", name, mode, n.Reg)
}

// regURC is the unsolicited form of a registration change, or "" when the
// mode asked for none.
func regURC(name string, mode int, n Network) string {
	switch mode {
	case 1:
		return fmt.Sprintf("+%s: %d", name, n.Reg)
	case 2:
		return fmt.Sprintf("+%s: %d,%s", name, n.Reg, location(name, n))
	}
	return ""
}

// location is a registration line's area and cell: the LAC for CREG and
// CGREG, the TAC for CEREG.
func location(name string, n Network) string {
	area := n.LAC
	if name == "CEREG" {
		area = n.TAC
	}
	return fmt.Sprintf(`"%s","%s",%d`, area, n.CellID, n.Tech)
}

// data answers the PDP contexts and the dial.
func (m *Modem) data(c string) ([]string, bool, bool) {
	switch {
	case c == "+CGDCONT=?":
		return []string{`+CGDCONT: (1-8),"IP",,,(0-2),(0-4)`, `+CGDCONT: (1-8),"IPV6",,,(0-2),(0-4)`,
			`+CGDCONT: (1-8),"IPV4V6",,,(0-2),(0-4)`}, true, true
	case c == "+CGDCONT?":
		return m.contexts(), true, true
	case strings.HasPrefix(c, "+CGDCONT="):
		return nil, m.storeContext(strings.TrimPrefix(c, "+CGDCONT=")), true
	case c == "+CGACT?":
		var out []string
		for _, cid := range m.cids() {
			out = append(out, fmt.Sprintf("+CGACT: %d,0", cid))
		}
		return out, true, true
	case c == "+CGATT?":
		return []string{fmt.Sprintf("+CGATT: %d", b2i(registered(m.net.Reg)))}, true, true
	case strings.HasPrefix(c, "D"):
		if !registered(m.net.Reg) {
			return []string{"NO CARRIER"}, true, true
		}
		m.st.dialed = true
		return []string{"CONNECT 115200"}, true, true
	}
	return nil, false, false
}

// contexts lists the PDP contexts (+CGDCONT?): the SIM's own "internet"
// and those ModemManager stored.
func (m *Modem) contexts() []string {
	var out []string
	for _, cid := range m.cids() {
		c := m.st.pdp[cid]
		out = append(out, fmt.Sprintf(`+CGDCONT: %d,%s,%s,"0.0.0.0",0,0`, cid, c[0], c[1]))
	}
	return out
}

func (m *Modem) cids() []int {
	if m.st.pdp == nil {
		m.st.pdp = map[int][2]string{1: {`"IP"`, `"internet"`}}
	}
	var cids []int
	for cid := range m.st.pdp {
		cids = append(cids, cid)
	}
	sort.Ints(cids)
	return cids
}

// storeContext keeps +CGDCONT=<cid>,"<type>","<apn>" (a cid alone
// deletes it) and reports whether the command was well formed.
func (m *Modem) storeContext(args string) bool {
	f := strings.Split(args, ",")
	cid, err := strconv.Atoi(f[0])
	if err != nil || cid < 1 || cid > 8 {
		return false
	}
	m.cids()
	if len(f) < 3 {
		delete(m.st.pdp, cid)
		return true
	}
	m.st.pdp[cid] = [2]string{f[1], f[2]}
	return true
}

func registered(r Registration) bool { return r == Home || r == Roaming }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }
