// Package lock is fieldlink's single-instance lock: the first instance on a
// device holds it and is in charge (it acts and journals); later ones, such
// as a technician over SSH while the kiosk runs, become observers.
package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Lock is a held lock; the kernel releases it if the process dies.
type Lock struct {
	f    *os.File
	path string
}

// Holder describes the process that holds a lock.
type Holder struct {
	PID   int
	Since time.Time
	Mode  string
}

func (h Holder) String() string {
	s := fmt.Sprintf("fieldlink pid %d", h.PID)
	if h.Mode != "" {
		s += " (" + h.Mode + ")"
	}
	if !h.Since.IsZero() {
		s += " since " + h.Since.Local().Format("15:04")
	}
	return s
}

// ErrHeld is returned (wrapped) when another process holds the lock.
var ErrHeld = errors.New("held by another fieldlink")

// Acquire takes the lock file name in dir, creating dir (0700) and the file
// (0600) if needed. When another process holds it, Acquire returns that
// holder and an error wrapping ErrHeld.
func Acquire(dir, name, mode string) (*Lock, Holder, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, Holder{}, fmt.Errorf("state directory: %w", err)
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, Holder{}, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			h := readHolder(path)
			return nil, h, fmt.Errorf("%s: %w (%s)", path, ErrHeld, h)
		}
		return nil, Holder{}, fmt.Errorf("lock %s: %w", path, err)
	}
	h := Holder{PID: os.Getpid(), Since: time.Now(), Mode: mode}
	// The contents only tell observers who holds the lock; the kernel's
	// flock is the lock, so no fsync is needed.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%d\n%d\n%s\n", h.PID, h.Since.Unix(), mode)
	}
	return &Lock{f: f, path: path}, h, nil
}

// Probe reports who holds the lock without taking it or writing anything,
// for one-shot commands such as `fieldlink status`.
func Probe(dir, name string) (Holder, bool, error) {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Holder{}, false, nil
	}
	if err != nil {
		return Holder{}, false, fmt.Errorf("lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return readHolder(path), true, nil
		}
		return Holder{}, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return Holder{}, false, nil
}

func readHolder(path string) Holder {
	b, err := os.ReadFile(path)
	if err != nil {
		return Holder{}
	}
	lines := strings.Split(string(b), "\n")
	var h Holder
	if len(lines) > 0 {
		h.PID, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	}
	if len(lines) > 1 {
		if sec, err := strconv.ParseInt(strings.TrimSpace(lines[1]), 10, 64); err == nil {
			h.Since = time.Unix(sec, 0)
		}
	}
	if len(lines) > 2 {
		h.Mode = strings.TrimSpace(lines[2])
	}
	return h
}

// Release gives the lock up.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
