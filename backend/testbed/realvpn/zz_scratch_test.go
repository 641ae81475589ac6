package realvpn

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestZZRestart(t *testing.T) {
	h := Start(t, Options{})
	h.AddProfile("wired1", 0, 100)
	h.WaitConnected("veth0", 20*time.Second)
	h.Import(Profile{Name: "cert", Kind: Cert})
	out, err := h.Nmcli("connection", "up", "cert")
	t.Logf("up: %v %s", err, out)
	h.StopNM(syscall.SIGTERM)
	ps, _ := exec.Command("sh", "-c", "ps -eo pid,ppid,args | grep -E 'openvpn' | grep -v grep").Output()
	t.Logf("after stop:\n%s", ps)
	h.StartNM()
	time.Sleep(2 * time.Second)
	o, _ := h.Nmcli("-t", "connection", "show", "--active")
	t.Logf("active after restart: %s", o)
	t0 := time.Now()
	out, err = h.Nmcli("connection", "up", "cert")
	t.Logf("up again after %v: %v %s", time.Since(t0), err, out)
	l := h.Log("plugin-nm-openvpn-service.log")
	i := strings.LastIndex(l, "detected openvpn")
	if i > 0 {
		t.Log(l[max(0, i-3000):])
	}
	ps, _ = exec.Command("sh", "-c", "ps -eo pid,ppid,args | grep -E 'openvpn' | grep -v grep").Output()
	t.Logf("end:\n%s", ps)
}
