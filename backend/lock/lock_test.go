package lock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecondAcquireSeesHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	l, h, err := Acquire(dir, "lock", "kiosk")
	if err != nil {
		t.Fatal(err)
	}
	if h.PID != os.Getpid() {
		t.Fatalf("holder pid %d", h.PID)
	}
	st, err := os.Stat(filepath.Join(dir, "lock"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("lock file mode %v, %v", st.Mode(), err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Fatalf("state dir mode %v", st.Mode())
	}
	// flock locks belong to the open file description, so a second open in
	// this process conflicts just as another process would.
	_, holder, err := Acquire(dir, "lock", "tui")
	if !errors.Is(err, ErrHeld) {
		t.Fatalf("second acquire: %v", err)
	}
	if holder.PID != os.Getpid() || holder.Mode != "kiosk" || !strings.Contains(holder.String(), "kiosk") {
		t.Fatalf("holder %+v", holder)
	}
	if h, held, err := Probe(dir, "lock"); err != nil || !held || h.Mode != "kiosk" {
		t.Fatalf("probe while held: %+v %v %v", h, held, err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, held, err := Probe(dir, "lock"); err != nil || held {
		t.Fatalf("probe after release: %v %v", held, err)
	}
	if _, held, err := Probe(t.TempDir(), "lock"); err != nil || held {
		t.Fatalf("probe without a lock file: %v %v", held, err)
	}
	l2, _, err := Acquire(dir, "lock", "tui")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}

func TestLockFreedWhenHolderDies(t *testing.T) {
	if os.Getenv("FIELDLINK_LOCK_CHILD") != "" {
		if _, _, err := Acquire(os.Getenv("FIELDLINK_LOCK_CHILD"), "lock", "child"); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		select {}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=TestLockFreedWhenHolderDies")
	cmd.Env = append(os.Environ(), "FIELDLINK_LOCK_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("child: %q %v", buf, err)
	}
	if _, h, err := Acquire(dir, "lock", "me"); !errors.Is(err, ErrHeld) || h.PID != cmd.Process.Pid {
		t.Fatalf("while child holds it: %v %+v", err, h)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, _, err := Acquire(dir, "lock", "me")
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	l.Release()
}
