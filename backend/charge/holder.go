package charge

import (
	"bytes"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Holder describes a fieldlink process in charge.
type Holder struct {
	PID  int    `json:"pid"`
	UID  int    `json:"uid"`
	User string `json:"user,omitempty"`
	// Since is when the process started.
	Since time.Time `json:"since,omitzero"`
	// Mode is what it runs as: daemon, tui, kiosk, demo.
	Mode string `json:"mode,omitempty"`
}

// String is how screens and logs name the holder:
// "fieldlink pid 812 (daemon, root) since 08:02".
func (h Holder) String() string {
	if h.PID == 0 {
		return "no fieldlink"
	}
	s := fmt.Sprintf("fieldlink pid %d", h.PID)
	var what []string
	if h.Mode != "" {
		what = append(what, h.Mode)
	}
	if h.User != "" {
		what = append(what, h.User)
	}
	if len(what) > 0 {
		s += " (" + strings.Join(what, ", ") + ")"
	}
	if !h.Since.IsZero() {
		s += " since " + h.Since.Local().Format("15:04")
	}
	return s
}

// Refusal is what a second daemon says before it exits.
func (h Holder) Refusal() string {
	who := h.User
	if who == "" {
		who = strconv.Itoa(h.UID)
	}
	return fmt.Sprintf("another fieldlink (pid %d, user %s) is in charge of this device", h.PID, who)
}

// Self describes this process.
func Self(mode string) Holder {
	h := Describe(os.Getpid(), os.Getuid())
	h.Mode = mode
	return h
}

// Describe fills in what the system knows of a process: its account, when
// it started and what it runs as. uid < 0 takes it from /proc.
func Describe(pid, uid int) Holder {
	h := Holder{PID: pid, UID: uid}
	if uid < 0 {
		h.UID = -1
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+strconv.Itoa(pid), &st) == nil {
			h.UID = int(st.Uid)
		}
	}
	if h.UID >= 0 {
		if u, err := user.LookupId(strconv.Itoa(h.UID)); err == nil {
			h.User = u.Username
		}
	}
	h.Since = processStart(pid)
	h.Mode = processMode(pid)
	return h
}

// processMode reads what a fieldlink process was started as from its
// command line.
func processMode(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if len(args) < 1 {
		return ""
	}
	for _, a := range args[1:] {
		switch a {
		case "daemon":
			return "daemon"
		case "--kiosk", "-kiosk":
			return "kiosk"
		case "--demo", "-demo", "--scenario", "-scenario":
			return "demo"
		}
	}
	return "tui"
}

// processStart is when a process started, from /proc/PID/stat (clock
// ticks after boot) and the boot time in /proc/stat.
func processStart(pid int) time.Time {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return time.Time{}
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return time.Time{}
	}
	f := strings.Fields(string(b[i+1:]))
	// Field 22 of stat is the start time; f[0] is field 3.
	if len(f) < 20 {
		return time.Time{}
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return time.Time{}
	}
	boot := bootTime()
	if boot.IsZero() {
		return time.Time{}
	}
	const hz = 100 // USER_HZ, fixed at 100 on Linux for /proc
	return boot.Add(time.Duration(ticks) * time.Second / hz)
}

func bootTime() time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(s, 0)
			}
		}
	}
	return time.Time{}
}

// Group is the account group whose members may act through the instance
// in charge: connect the VPN, mark visits, read the journal's report.
const Group = "fieldlink"

// MayAct reports whether an account may ask the instance in charge to act:
// root, the holder's own account, or a member of Group.
func MayAct(uid, holderUID int) bool {
	if uid == 0 || uid == holderUID {
		return true
	}
	return InGroup(uid, Group)
}

// PeerMayAct is MayAct for the process at the other end of a socket: its
// own supplementary groups, as the kernel holds them (/proc/PID/status,
// set at log-in by the system's own NSS, so accounts from a directory such
// as SSSD or LDAP count), are believed when that process still runs as
// uid; else the local group database decides.
func PeerMayAct(pid, uid, holderUID int) bool {
	if uid == 0 || uid == holderUID {
		return true
	}
	if g, err := user.LookupGroup(Group); err == nil {
		if gid, err := strconv.Atoi(g.Gid); err == nil && ProcessInGroup(pid, uid, gid) {
			return true
		}
	}
	return InGroup(uid, Group)
}

// ProcessInGroup reports whether process pid runs as uid (real and
// effective) with gid among its groups. Anything unreadable or not
// matching is no: it fails closed (the pid may be gone or reused).
func ProcessInGroup(pid, uid, gid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil || pid <= 0 {
		return false
	}
	var uidOK, in bool
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		switch k {
		case "Uid":
			uidOK = len(f) >= 2 && f[0] == strconv.Itoa(uid) && f[1] == strconv.Itoa(uid)
		case "Gid":
			in = in || (len(f) >= 2 && f[1] == strconv.Itoa(gid))
		case "Groups":
			for _, g := range f {
				in = in || g == strconv.Itoa(gid)
			}
		}
	}
	return uidOK && in
}

// InGroup reports whether an account is a member of a group, primary or
// supplementary, as the system's group database says.
func InGroup(uid int, group string) bool {
	g, err := user.LookupGroup(group)
	if err != nil {
		return false
	}
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return false
	}
	if u.Gid == g.Gid {
		return true
	}
	ids, err := u.GroupIds()
	if err != nil {
		return false
	}
	for _, id := range ids {
		if id == g.Gid {
			return true
		}
	}
	return false
}
