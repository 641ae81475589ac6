package main

import (
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

func TestSecondInstanceSaysObserver(t *testing.T) {
	state := t.TempDir()
	first := startOnPTYIn(t, state, "DEMO", "--demo")
	first.waitFirstFrame(t)
	second := startOnPTYIn(t, state, "OBSERVER", "--demo")
	second.waitFirstFrame(t)
	second.waitFor(t, "in charge: fieldlink pid")
}
