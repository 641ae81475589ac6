// Package fakebus runs a private dbus-daemon and Go fakes of
// NetworkManager and ModemManager on it, following the interface XML in
// ../shared/dbus-api. Tests drive the fakes (a carrier drops, a modem
// roams, a daemon restarts) and assert what fieldlink makes of it.
package fakebus

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	fieldlink "github.com/fieldlink/fieldlink"
	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

// Daemon is a private bus.
type Daemon struct {
	Address string
	cmd     *exec.Cmd
}

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
  <limit name="max_match_rules_per_connection">4096</limit>
  %s
</busconfig>
`

// StartDaemon starts a private dbus-daemon for the test; it is stopped at
// cleanup. Without dbus-daemon the test skips loudly (fails in CI).
func StartDaemon(tb testing.TB) *Daemon {
	tb.Helper()
	integration.NeedCommands(tb, "dbus-daemon")
	d, err := Start(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(d.Stop)
	return d
}

// Start starts a private dbus-daemon with its socket in dir. It applies
// fieldlink's packaged bus policy, as a device does: only root may own the
// name that puts a fieldlink in charge.
func Start(dir string) (*Daemon, error) {
	sock := filepath.Join(dir, "system_bus_socket")
	conf := filepath.Join(dir, "bus.conf")
	policy := filepath.Join(dir, "fieldlink-policy.conf")
	if err := os.WriteFile(policy, fieldlink.BusPolicy, 0o644); err != nil {
		return nil, err
	}
	include := fmt.Sprintf(`<include ignore_missing="no">%s</include>`, policy)
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(busConfig, sock, include)), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = nil // it complains it cannot raise its fd limit when not root
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dbus-daemon: %w", err)
	}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if a == "" {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("dbus-daemon printed no address")
		}
		return &Daemon{Address: a, cmd: cmd}, nil
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("dbus-daemon did not start within 10 s")
	}
}

// Stop stops the daemon.
func (d *Daemon) Stop() {
	if d.cmd != nil && d.cmd.Process != nil {
		d.cmd.Process.Kill()
		d.cmd.Wait()
		d.cmd = nil
	}
}

// MatchRules asks the daemon how many match rules a connection holds
// (org.freedesktop.DBus.Debug.Stats), to catch leaks.
func (d *Daemon) MatchRules(uniqueName string) (int, error) {
	c, err := dbus.Connect(d.Address)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var stats map[string]dbus.Variant
	err = c.Object("org.freedesktop.DBus", "/org/freedesktop/DBus").
		CallWithContext(ctx, "org.freedesktop.DBus.Debug.Stats.GetConnectionStats", 0, uniqueName).Store(&stats)
	if err != nil {
		return 0, err
	}
	n, ok := stats["MatchRules"].Value().(uint32)
	if !ok {
		return 0, fmt.Errorf("no MatchRules in stats %v", stats)
	}
	return int(n), nil
}
