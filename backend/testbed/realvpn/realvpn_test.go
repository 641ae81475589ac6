package realvpn

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestHarnessServesEveryLogIn checks the harness itself with nmcli as the
// client (its --ask makes nmcli the secret agent): a certificate VPN comes
// up and carries a ping; a password VPN comes up with the right password;
// the refusing server refuses; and when the harness stops nothing it or
// NetworkManager started is left running.
func TestHarnessServesEveryLogIn(t *testing.T) {
	h := Start(t, Options{})
	if err := h.WaitConnected("veth0", 20*time.Second); err == nil {
		t.Log("veth0 connected")
	}
	if err := h.AddProfile("wired1", 0, 100); err != nil {
		t.Fatal(err)
	}
	if err := h.WaitConnected("veth0", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Import(Profile{Name: "cert", Kind: Cert}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Nmcli("connection", "up", "cert"); err != nil {
		t.Fatalf("%v\n%s", err, h.Log("plugin-nm-openvpn-service.log"))
	}
	if err := h.PingThrough(Cert); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Import(Profile{Name: "pass", Kind: Pass}); err != nil {
		t.Fatal(err)
	}
	if out, err := h.askUp("pass", Password); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := h.PingThrough(Pass); err != nil {
		t.Fatal(err)
	}
	if data, _ := h.VPNData("pass"); strings.Contains(data, Password) {
		t.Fatalf("NetworkManager kept the password in the profile: %s", data)
	}
	if _, err := h.Import(Profile{Name: "refuse", Kind: Refuse}); err != nil {
		t.Fatal(err)
	}
	if out, err := h.askUp("refuse", Password); err == nil {
		t.Fatalf("the refusing server let a password in: %s", out)
	}
	var verdicts []string
	for _, a := range h.Attempts() {
		verdicts = append(verdicts, string(a.Kind)+":"+a.Verdict)
	}
	if len(verdicts) < 2 || verdicts[0] != "pass:ok" || !strings.HasPrefix(verdicts[1], "refuse:refused") {
		t.Fatalf("server verdicts %v", verdicts)
	}
	dir := h.Dir
	h.Stop()
	if left := Orphans(dir); len(left) > 0 {
		t.Fatalf("left running after Stop:\n%s", strings.Join(left, "\n"))
	}
}

// askUp activates a profile with nmcli answering the password prompt.
func (h *Harness) askUp(name, password string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nmcli", "--ask", "connection", "up", name)
	cmd.Env = append(cmd.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+h.BusAddress)
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
