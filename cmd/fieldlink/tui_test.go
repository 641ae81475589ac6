package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTUIStartsAndQuitsOnQ(t *testing.T) {
	p := startOnPTY(t, "DEMO", "--demo")
	p.waitFirstFrame(t)
	p.waitFor(t, "GO")
	if _, err := p.master.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if !p.cmd.ProcessState.Success() {
			t.Fatalf("exit: %v", p.cmd.ProcessState)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("q did not quit")
	}
}

// TestTwoDemosRunApart: two demos on one account each play their own
// scenario, in charge of their own run: the second never says OBSERVER
// nor shows the first's world (finding: it stayed DO NOT PROCEED with the
// first demo's events). Each leaves nothing of its own behind.
func TestTwoDemosRunApart(t *testing.T) {
	state := t.TempDir()
	first := startOnPTYIn(t, state, "DEMO", "--scenario", "captive-portal", "--speed", "10")
	first.waitFirstFrame(t)
	second := startOnPTYIn(t, state, "DEMO", "--scenario", "home-visit", "--speed", "10")
	second.waitFirstFrame(t)
	second.waitFor(t, "Home visit")
	first.waitFor(t, "Guest Wi-Fi behind a sign-in page")
	time.Sleep(time.Second)
	if s := second.screen(); strings.Contains(s, "OBSERVER") || strings.Contains(s, "in charge: fieldlink pid") || strings.Contains(s, "Surgery-Guest") {
		t.Fatalf("the second demo watches the first:\n%s", s)
	}
	second.stop()
	first.stop()
	leftovers, _ := filepath.Glob(filepath.Join(state, "demo-[0-9]*"))
	if len(leftovers) > 0 {
		t.Errorf("a demo apart left %v", leftovers)
	}
}
