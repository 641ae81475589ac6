package launch

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

type rec struct {
	mu  sync.Mutex
	evs []netstate.Event
	st  []netstate.AppStatus
}

func (r *rec) opts(environ []string) Options {
	return Options{
		Event:   func(e netstate.Event) { r.mu.Lock(); r.evs = append(r.evs, e); r.mu.Unlock() },
		Status:  func(s netstate.AppStatus) { r.mu.Lock(); r.st = append(r.st, s); r.mu.Unlock() },
		Environ: func() []string { return environ },
	}
}

func (r *rec) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.evs {
		b.WriteString(string(e.Kind) + " " + e.Text + "\n")
	}
	return b.String()
}

// script writes an executable shell script into a directory of its own.
func script(t *testing.T, name, body string) string {
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEnvironmentIsExplicit(t *testing.T) {
	dir := script(t, "clinical", "exit 0\n")
	r := New(Spec{Command: []string{"clinical", "--server", "emis.example"}, PassEnv: []string{"PATH", "HOME", "LANG"},
		Env: map[string]string{"CLINICAL_MODE": "kiosk", "HOME": "/srv/clinical"}}, (&rec{}).opts([]string{
		"PATH=" + dir + ":/usr/bin", "HOME=/home/nurse", "AWS_SECRET_ACCESS_KEY=leak", "SSH_AUTH_SOCK=/tmp/agent"}))
	cmd, err := r.Command()
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Path != filepath.Join(dir, "clinical") || strings.Join(cmd.Args[1:], " ") != "--server emis.example" {
		t.Fatalf("command %s %v", cmd.Path, cmd.Args)
	}
	env := strings.Join(cmd.Env, "\n")
	for _, want := range []string{"PATH=" + dir + ":/usr/bin", "HOME=/srv/clinical", "CLINICAL_MODE=kiosk"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
	for _, not := range []string{"AWS_SECRET", "SSH_AUTH_SOCK", "/home/nurse", "LANG="} {
		if strings.Contains(env, not) {
			t.Errorf("env has %s:\n%s", not, env)
		}
	}
	// The program is looked up in the PATH it is given, not fieldlink's.
	r2 := New(Spec{Command: []string{"clinical"}, PassEnv: []string{"PATH"}}, (&rec{}).opts([]string{"PATH=/nonexistent"}))
	if _, err := r2.Command(); err == nil || !strings.Contains(err.Error(), "clinical: not found in the PATH given to it") {
		t.Fatalf("lookup: %v", err)
	}
}

func TestDetachedLaunchAndExitAreTold(t *testing.T) {
	dir := script(t, "records", "sleep 0.2\nexit 3\n")
	var rc rec
	r := New(Spec{Name: "Clinical records", Command: []string{filepath.Join(dir, "records"), "--token", "s3cr3t-token"},
		SecretArgs: true, PassEnv: []string{"PATH"}}, rc.opts(os.Environ()))
	if err := r.StartDetached(); err != nil {
		t.Fatal(err)
	}
	if st := r.Status(); st.Phase != netstate.AppRunning || st.PID == 0 {
		t.Fatalf("status %+v", st)
	}
	if err := r.StartDetached(); err == nil {
		t.Fatal("started twice")
	}
	for i := 0; i < 300 && r.Running(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	st := r.Status()
	if st.Phase != netstate.AppFailed || st.Reason != "exited with status 3" {
		t.Fatalf("after exit %+v", st)
	}
	text := rc.text()
	if !strings.Contains(text, "app Started Clinical records ("+filepath.Join(dir, "records")+", arguments withheld)") ||
		!strings.Contains(text, "app Clinical records exited with status 3 after") {
		t.Fatalf("events:\n%s", text)
	}
	if strings.Contains(text, "s3cr3t-token") {
		t.Fatalf("secret argument told:\n%s", text)
	}
}

func TestDue(t *testing.T) {
	up := func(since time.Time) netstate.Work {
		return netstate.Work{VPN: netstate.VPNStatus{Profile: "NHS-VPN", Phase: netstate.VPNUp, Since: since}}
	}
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	r := New(Spec{Command: []string{"/bin/true"}, Launch: "on-vpn-up"}, (&rec{}).opts(nil))
	if r.Due(netstate.Work{VPN: netstate.VPNStatus{Profile: "NHS-VPN", Phase: netstate.VPNConnecting}}, true, false) {
		t.Fatal("due before the VPN is up")
	}
	if !r.Due(up(t0), true, false) || r.Due(up(t0), true, false) {
		t.Fatal("want exactly one launch per VPN-up")
	}
	if !r.Due(up(t0.Add(time.Hour)), true, false) {
		t.Fatal("not due after the VPN came up again")
	}
	manual := New(Spec{Command: []string{"/bin/true"}, Launch: "manual"}, (&rec{}).opts(nil))
	if manual.Due(up(t0), true, false) {
		t.Fatal("a manual app launched itself")
	}
	if !manual.Due(up(t0), true, true) {
		t.Fatal("kiosk mode did not launch the app")
	}
	noVPN := New(Spec{Command: []string{"/bin/true"}, Launch: "on-vpn-up"}, (&rec{}).opts(nil))
	if noVPN.Due(netstate.Work{}, false, false) || !noVPN.Due(netstate.Work{}, true, false) {
		t.Fatal("without a VPN: due once the path is workable")
	}
}
