// Package launch starts the clinical application: a terminal program in
// the foreground (the screen hands it the terminal and takes it back when
// it exits) or a graphical one detached. The command is a list, never a
// shell line, and its environment is exactly what the config names.
// Launches and exits are told as events (and so journaled), without the
// arguments when they are marked secret.
package launch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// Spec is the application as configured.
type Spec struct {
	Name       string
	Command    []string
	Terminal   bool
	Env        map[string]string
	PassEnv    []string
	SecretArgs bool
	Dir        string
	// Launch is "manual" or "on-vpn-up".
	Launch string
}

// Runner starts the application and follows it.
type Runner struct {
	spec    Spec
	environ func() []string
	now     func() time.Time
	event   func(netstate.Event)
	status  func(netstate.AppStatus)

	mu      sync.Mutex
	st      netstate.AppStatus
	started int       // launches so far
	lastVPN time.Time // the VPN uptime an automatic launch was made for
}

// Options wire a runner to the engine.
type Options struct {
	// Event and Status are told what happens (engine.AddEvents, SetApp).
	Event  func(netstate.Event)
	Status func(netstate.AppStatus)
	// Environ is fieldlink's own environment (default os.Environ), from
	// which PassEnv picks.
	Environ func() []string
	Now     func() time.Time
}

// New returns a runner; a Spec without a command runs nothing.
func New(spec Spec, opt Options) *Runner {
	if opt.Environ == nil {
		opt.Environ = os.Environ
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Event == nil {
		opt.Event = func(netstate.Event) {}
	}
	if opt.Status == nil {
		opt.Status = func(netstate.AppStatus) {}
	}
	if spec.Name == "" && len(spec.Command) > 0 {
		spec.Name = filepath.Base(spec.Command[0])
	}
	r := &Runner{spec: spec, environ: opt.Environ, now: opt.Now, event: opt.Event, status: opt.Status}
	r.st = netstate.AppStatus{Name: spec.Name, Phase: netstate.AppIdle, Launch: spec.Launch}
	if len(spec.Command) > 0 {
		r.status(r.st)
	}
	return r
}

// Configured reports whether there is an application to run.
func (r *Runner) Configured() bool { return r != nil && len(r.spec.Command) > 0 }

// Terminal reports whether it takes over the terminal.
func (r *Runner) Terminal() bool { return r.spec.Terminal }

// Status is where the application stands.
func (r *Runner) Status() netstate.AppStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// Running reports whether it runs now.
func (r *Runner) Running() bool { return r.Status().Phase == netstate.AppRunning }

// Due decides an automatic launch: with launch = "on-vpn-up" (or always,
// in kiosk mode), once each time the VPN comes up, or, with no VPN
// configured, once the path is first workable. A user who closes the
// application is not sent back into it until the VPN comes up anew.
func (r *Runner) Due(w netstate.Work, pathWorkable, kiosk bool) bool {
	if !r.Configured() || (r.spec.Launch != "on-vpn-up" && !kiosk) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.Phase == netstate.AppRunning {
		return false
	}
	if w.VPN.Profile == "" {
		return pathWorkable && r.started == 0
	}
	if w.VPN.Phase != netstate.VPNUp || w.VPN.Since.Equal(r.lastVPN) {
		return false
	}
	r.lastVPN = w.VPN.Since
	return true
}

// Describe is the application as events name it: its arguments only when
// they are not secret.
func (r *Runner) Describe() string {
	c := r.spec.Command
	if len(c) == 0 {
		return r.spec.Name
	}
	if r.spec.SecretArgs {
		if len(c) > 1 {
			return fmt.Sprintf("%s (%s, arguments withheld)", r.spec.Name, c[0])
		}
		return fmt.Sprintf("%s (%s)", r.spec.Name, c[0])
	}
	return fmt.Sprintf("%s (%s)", r.spec.Name, strings.Join(c, " "))
}

// env builds the environment: the pass-through names that are set, then
// the configured values. Nothing else reaches the application.
func (r *Runner) env() []string {
	have := map[string]string{}
	for _, kv := range r.environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			have[k] = v
		}
	}
	var out []string
	for _, k := range r.spec.PassEnv {
		if _, set := r.spec.Env[k]; set {
			continue
		}
		if v, ok := have[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	for k, v := range r.spec.Env {
		out = append(out, k+"="+v)
	}
	return out
}

// Command builds the process. The program is looked up in the PATH the
// application will get, not fieldlink's.
func (r *Runner) Command() (*exec.Cmd, error) {
	if !r.Configured() {
		return nil, errors.New("no application is configured ([app] command)")
	}
	env := r.env()
	prog := r.spec.Command[0]
	if !strings.Contains(prog, "/") {
		path := ""
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "PATH="); ok {
				path = v
			}
		}
		found := ""
		for _, dir := range filepath.SplitList(path) {
			p := filepath.Join(dir, prog)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				found = p
				break
			}
		}
		if found == "" {
			return nil, fmt.Errorf("%s: not found in the PATH given to it", prog)
		}
		prog = found
	}
	cmd := exec.Command(prog, r.spec.Command[1:]...)
	cmd.Env = env
	cmd.Dir = r.spec.Dir
	return cmd, nil
}

// Started records a launch (the terminal case: the screen ran it).
func (r *Runner) Started(pid int) {
	now := r.now()
	r.mu.Lock()
	r.started++
	r.st = netstate.AppStatus{Name: r.spec.Name, Phase: netstate.AppRunning, Since: now, PID: pid, Launch: r.spec.Launch}
	st := r.st
	r.mu.Unlock()
	r.status(st)
	r.event(netstate.Event{Time: now, Kind: netstate.EventApp, Level: netstate.LevelGreen, Text: "Started " + r.Describe()})
}

// Exited records how it ended and returns that in words.
func (r *Runner) Exited(err error) string {
	now := r.now()
	r.mu.Lock()
	ran := now.Sub(r.st.Since).Round(time.Second)
	phase, level := netstate.AppExited, netstate.LevelGreen
	how := "closed"
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		how = fmt.Sprintf("exited with status %d", ee.ExitCode())
		phase, level = netstate.AppFailed, netstate.LevelAmber
	case errors.As(err, &ee):
		how = "was stopped: " + ee.ProcessState.String()
		phase, level = netstate.AppFailed, netstate.LevelAmber
	default:
		how = "could not run: " + err.Error()
		phase, level = netstate.AppFailed, netstate.LevelRed
	}
	r.st = netstate.AppStatus{Name: r.spec.Name, Phase: phase, Since: now, Launch: r.spec.Launch, Reason: how}
	st := r.st
	r.mu.Unlock()
	r.status(st)
	text := fmt.Sprintf("%s %s after %s", r.spec.Name, how, ran)
	r.event(netstate.Event{Time: now, Kind: netstate.EventApp, Level: level, Text: text})
	return text
}

// Failed records a launch that could not happen.
func (r *Runner) Failed(err error) string {
	now := r.now()
	r.mu.Lock()
	r.st = netstate.AppStatus{Name: r.spec.Name, Phase: netstate.AppFailed, Since: now, Launch: r.spec.Launch, Reason: err.Error()}
	st := r.st
	r.mu.Unlock()
	r.status(st)
	text := fmt.Sprintf("Could not start %s: %v", r.spec.Name, err)
	r.event(netstate.Event{Time: now, Kind: netstate.EventApp, Level: netstate.LevelRed, Text: text})
	return text
}

// StartDetached starts a graphical application in its own session, with
// no terminal, and follows it until it exits.
func (r *Runner) StartDetached() error {
	if r.Running() {
		return fmt.Errorf("%s is already running", r.spec.Name)
	}
	cmd, err := r.Command()
	if err != nil {
		r.Failed(err)
		return err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	// Its own session: no signal meant for the kiosk's terminal reaches it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		r.Failed(err)
		return err
	}
	r.Started(cmd.Process.Pid)
	go func() { r.Exited(cmd.Wait()) }()
	return nil
}
