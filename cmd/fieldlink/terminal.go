package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/charmbracelet/x/term"
)

// screenGuard holds the terminal and the signals for the TUI's whole life:
// from before the kiosk waits for the bus (so that no key press can end
// or suspend it while it waits) until the screen is handed back. SIGTERM,
// SIGHUP and SIGQUIT end fieldlink cleanly, with the terminal restored,
// whatever it is doing; the kiosk ignores SIGINT and SIGTSTP.
type screenGuard struct {
	fd    uintptr
	saved *term.State
	out   io.Writer

	mu   sync.Mutex
	quit func() // what a terminating signal does now
	sigs chan os.Signal
	done chan struct{}
}

// guardScreen starts guarding. In the kiosk the terminal is put in raw
// mode at once and stays so until fieldlink ends (Bubble Tea finds it raw
// and leaves it so): ctrl+c, ctrl+z and ctrl+\ are keys, never signals,
// at every instant.
func guardScreen(in *os.File, out io.Writer, kiosk bool, quit func()) *screenGuard {
	g := &screenGuard{fd: in.Fd(), out: out, quit: quit, sigs: make(chan os.Signal, 4), done: make(chan struct{})}
	if kiosk {
		signal.Ignore(syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
		if term.IsTerminal(g.fd) {
			if st, err := term.MakeRaw(g.fd); err == nil {
				g.saved = st
			}
		}
	}
	signal.Notify(g.sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGINT)
	go func() {
		for {
			select {
			case <-g.done:
				return
			case s := <-g.sigs:
				if kiosk && s == syscall.SIGINT {
					continue // only the admin keys end the kiosk
				}
				g.mu.Lock()
				q := g.quit
				g.mu.Unlock()
				if q != nil {
					q()
				}
			}
		}
	}()
	return g
}

// say writes a line while the terminal is held (raw mode needs \r\n).
func (g *screenGuard) say(line string) {
	if g.saved != nil {
		fmt.Fprint(g.out, line+"\r\n")
		return
	}
	fmt.Fprintln(g.out, line)
}

// onSignal sets what a terminating signal does from now on.
func (g *screenGuard) onSignal(quit func()) {
	g.mu.Lock()
	g.quit = quit
	g.mu.Unlock()
}

// release stops guarding and restores the terminal.
func (g *screenGuard) release() {
	signal.Stop(g.sigs)
	close(g.done)
	signal.Reset(syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
	if g.saved != nil {
		term.Restore(g.fd, g.saved)
		g.saved = nil
	}
}
