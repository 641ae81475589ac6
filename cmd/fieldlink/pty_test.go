package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The benchmarks here run the real binary on a pseudo-terminal, as a user
// would, so that start-up and idle cost include Bubble Tea's terminal setup.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds fieldlink once per test process.
func binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fieldlink-bin")
		if err != nil {
			buildErr = err
			return
		}
		// Other accounts' fieldlinks (the one-brain tests) run it too.
		os.Chmod(dir, 0o755)
		binPath = filepath.Join(dir, "fieldlink")
		// Built as the package builds it (packaging/build-deb): no cgo, a
		// static binary, so that what is measured is what ships.
		build := exec.Command("go", "build", "-o", binPath, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// openPTY returns a pseudo-terminal pair sized cols x rows.
func openPTY(cols, rows int) (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	ws := &unix.Winsize{Col: uint16(cols), Row: uint16(rows)}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, ws); err != nil {
		m.Close()
		s.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// ptyProc is fieldlink running on a pseudo-terminal.
type ptyProc struct {
	cmd    *exec.Cmd
	master *os.File
	slave  *os.File // kept open only when asked
	mu     sync.Mutex
	out    bytes.Buffer
	seen   chan struct{}
	want   string
	start  time.Time
	first  time.Duration
	done   chan struct{} // closed when the process has exited
}

func startOnPTY(tb testing.TB, want string, args ...string) *ptyProc {
	tb.Helper()
	return startOnPTYIn(tb, tb.TempDir(), want, args...)
}

// startOnPTYIn starts fieldlink with its state in state, so that two
// instances can share a lock.
func startOnPTYIn(tb testing.TB, state, want string, args ...string) *ptyProc {
	tb.Helper()
	return startOnPTYEnv(tb, state, want, []string{"TERM=xterm-256color", "LANG=C.UTF-8"}, args...)
}

// startOnPTYEnv starts fieldlink on a terminal of the given kind.
func startOnPTYEnv(tb testing.TB, state, want string, env []string, args ...string) *ptyProc {
	tb.Helper()
	return startOnPTYWith(tb, ptyOptions{state: state, want: want, env: env}, args...)
}

// ptyOptions shape a fieldlink started on a pseudo-terminal.
type ptyOptions struct {
	state, want string
	env         []string
	// as runs it as another account.
	as *syscall.Credential
	// keepSlave keeps the terminal's own side open in the test, to read its
	// mode after fieldlink has ended.
	keepSlave bool
	// netns runs it inside a network namespace (a harness's device).
	netns string
}

func startOnPTYWith(tb testing.TB, o ptyOptions, args ...string) *ptyProc {
	tb.Helper()
	master, slave, err := openPTY(80, 24)
	if err != nil {
		tb.Skipf("no pseudo-terminal here: %v", err)
	}
	// --state-dir rather than XDG_STATE_HOME alone: as root (CI) fieldlink
	// ignores XDG_* by design.
	cmd := exec.Command(binary(tb), append(args, "--state-dir", o.state)...)
	if o.netns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", o.netns, binary(tb)}, append(args, "--state-dir", o.state)...)...)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Env = append(append(os.Environ(), o.env...), "XDG_STATE_HOME="+o.state)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Credential: o.as}
	p := &ptyProc{cmd: cmd, master: master, seen: make(chan struct{}), want: o.want}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	if o.keepSlave {
		p.slave = slave
	} else {
		slave.Close()
	}
	p.done = make(chan struct{})
	go func() { cmd.Wait(); close(p.done) }()
	go p.read()
	tb.Cleanup(p.stop)
	return p
}

func (p *ptyProc) read() {
	buf := make([]byte, 4096)
	found := false
	for {
		n, err := p.master.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.out.Write(buf[:n])
			if !found && strings.Contains(p.out.String(), p.want) {
				found = true
				p.first = time.Since(p.start)
				close(p.seen)
			}
			p.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

func (p *ptyProc) waitFirstFrame(tb testing.TB) time.Duration {
	tb.Helper()
	select {
	case <-p.seen:
		return p.first
	case <-time.After(10 * time.Second):
		p.mu.Lock()
		defer p.mu.Unlock()
		tb.Fatalf("no %q on screen after 10 s; got %q", p.want, p.out.String())
		return 0
	}
}

// exited reports whether the process has ended.
func (p *ptyProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// screen returns everything written so far.
func (p *ptyProc) screen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until s has been written.
func (p *ptyProc) waitFor(tb testing.TB, s string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.screen(), s) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("%q never appeared; screen: %q", s, p.screen())
}

// send types on the terminal ("\r" is enter).
func (p *ptyProc) send(keys string) { p.master.Write([]byte(keys)) }

// since returns what was written after the first n bytes.
func (p *ptyProc) since(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.out.String()
	if n > len(s) {
		return ""
	}
	return s[n:]
}

// mark is how much has been written so far (for since).
func (p *ptyProc) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Len()
}

func (p *ptyProc) stop() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	p.master.Close()
	if p.slave != nil {
		p.slave.Close()
	}
}

// cpuTime sums the CPU time of a process's threads from schedstat, which
// counts nanoseconds (the tick-based /proc/PID/stat would round an idle
// process to zero).
func cpuTime(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no schedstat for pid %d: %v", pid, err)
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			total += ns
		}
	}
	return time.Duration(total), nil
}
