package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/testbed/integration"
)

// smallDisk mounts a tmpfs of the given size for the test (root only).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		integration.Skip(t, "needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		integration.Skip(t, "cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// statusLog collects the recorder's status reports.
type statusLog struct {
	mu  sync.Mutex
	all []Status
}

func (s *statusLog) add(st Status) { s.mu.Lock(); s.all = append(s.all, st); s.mu.Unlock() }

func (s *statusLog) last() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.all) == 0 {
		return Status{OK: true}
	}
	return s.all[len(s.all)-1]
}

// feeder observes a Wi-Fi link with a new figure every call.
type feeder struct {
	r *Recorder
	t time.Time
	i int
	// flat out: the caller flushes at least every 1,000 observations,
	// within the recorder's queue, so none is dropped for want of room.
	flat bool
}

func (f *feeder) feed(n int) {
	for k := 0; k < n; k++ {
		f.i++
		f.t = f.t.Add(10 * time.Millisecond)
		l := netstate.Link{ID: "wifi:wlan0", Kind: netstate.KindWiFi, Interface: "wlan0", State: netstate.StateConnected,
			WiFi: netstate.WiFi{SSID: "NHS-Community"}, Signal: netstate.Signal{Strength: netstate.Some(float64(f.i % 100))}, Level: netstate.LevelGreen}
		snap := netstate.Snapshot{Links: []netstate.Link{l}, Primary: l.ID}
		f.r.Observe(f.t, &snap, nil)
		if k%500 == 499 && !f.flat {
			time.Sleep(5 * time.Millisecond) // let the writer keep up
		}
	}
}

func countSamples(t *testing.T, j *Journal) int64 {
	var n int64
	if err := j.db.QueryRow(`SELECT COUNT(*) FROM sample`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// faultRun records into a journal on dir, lets break() make the disk
// unwritable, checks the warning, lets mend() fix it and checks that
// writing resumes and nothing committed was lost.
func faultRun(t *testing.T, dir string, wantWords string, breakIt, mend func()) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j, err := Open(filepath.Join(dir, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var log statusLog
	r := NewRecorder(j, Options{SampleEvery: time.Millisecond, Heartbeat: time.Millisecond, FlushEvery: 20 * time.Millisecond,
		RetryEvery: 50 * time.Millisecond, Backlog: 3000, OnStatus: log.add})
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	f := &feeder{r: r, t: time.Now().Add(-time.Hour)}
	f.feed(1000)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := countSamples(t, j)
	if before < 990 {
		t.Fatalf("only %d samples before the fault", before)
	}

	breakIt()
	// Far more than the backlog holds: the oldest samples give way.
	for k := 0; k < 10 && log.last().OK; k++ {
		f.feed(500)
		r.Flush(ctx)
	}
	f.feed(5000)
	r.Flush(ctx)
	st := log.last()
	if st.OK || !strings.Contains(st.Problem, wantWords) {
		t.Fatalf("status %+v: want a warning saying %q", st, wantWords)
	}
	if rs := r.Status(); rs.Backlog > 3000 || rs.Dropped == 0 {
		t.Fatalf("backlog %d (bound 3000), dropped %d", rs.Backlog, rs.Dropped)
	}
	t.Logf("while broken: %q, backlog %d, dropped %d", st.Problem, r.Status().Backlog, r.Status().Dropped)
	// Committed rows are still there, readable by another handle.
	if ro, err := OpenReadOnly(j.Path()); err == nil {
		if n := countSamples(t, ro); n < before {
			t.Fatalf("%d samples readable while broken, %d were committed", n, before)
		}
		ro.Close()
	}

	mend()
	waitFor(t, "the journal to be written again", func() bool {
		r.Flush(ctx)
		return r.Status().OK
	})
	if !log.last().OK {
		t.Fatalf("recovery not reported: %+v", log.last())
	}
	after := countSamples(t, j)
	if after < before+3000-10 {
		t.Fatalf("after recovery %d samples: want the %d committed plus the ~3000 kept in the backlog", after, before)
	}
	res, _, err := j.Check(ctx)
	if err != nil || res != "ok" {
		t.Fatalf("integrity %q %v", res, err)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	t.Logf("samples: %d before the fault, %d after recovery", before, after)
}

func TestDiskFull(t *testing.T) {
	dir := smallDisk(t, "4m")
	filler := filepath.Join(dir, "filler")
	faultRun(t, dir, "the disk is full", func() {
		fh, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64<<10)
		for {
			if _, err := fh.Write(buf); err != nil {
				break
			}
		}
		fh.Close()
	}, func() {
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReadOnlyFileSystem starts fieldlink on a journal whose file system is
// read-only (a state partition mounted ro after a fault): it records into
// the backlog, says so, and writes everything once the file system is
// writable again. A mounted file system with files open for writing
// cannot be made read-only from user space, so the fault is in place
// before the writer starts, as it is after a reboot onto a damaged disk.
func TestReadOnlyFileSystem(t *testing.T) {
	dir := smallDisk(t, "16m")
	path := filepath.Join(dir, "journal.db")
	remount := func(flags uintptr) {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|flags, "size=16m,mode=0700"); err != nil {
			t.Fatal(fmt.Errorf("remount: %w", err))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A first run commits 1000 samples and stops.
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRecorder(j, Options{SampleEvery: time.Millisecond, Heartbeat: time.Millisecond})
	c1, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(c1) }()
	f := &feeder{r: r, t: time.Now().Add(-time.Hour)}
	f.feed(1000)
	r.Flush(ctx)
	stop()
	<-done
	before := countSamples(t, j)
	j.Close()

	remount(syscall.MS_RDONLY)
	var log statusLog
	r = NewRecorderOpening(func() (*Journal, error) { return Open(path) }, Options{SampleEvery: time.Millisecond, Heartbeat: time.Millisecond,
		FlushEvery: 20 * time.Millisecond, RetryEvery: 50 * time.Millisecond, Backlog: 3000, OnStatus: log.add})
	go func() { done <- r.Run(ctx) }()
	f.r = r
	f.t = f.t.Add(time.Minute)
	f.feed(6000)
	r.Flush(ctx)
	st := log.last()
	if st.OK || !strings.Contains(st.Problem, "read-only") {
		t.Fatalf("status %+v: want a warning that the journal is on a read-only file system", st)
	}
	if rs := r.Status(); rs.Backlog > 3000 || rs.Dropped == 0 {
		t.Fatalf("backlog %d (bound 3000), dropped %d", rs.Backlog, rs.Dropped)
	}
	t.Logf("while read-only: %q, backlog %d, dropped %d", st.Problem, r.Status().Backlog, r.Status().Dropped)
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("reports must still read the journal on a read-only file system: %v", err)
	}
	if n := countSamples(t, ro); n != before {
		t.Fatalf("%d samples readable on the read-only disk, %d were committed", n, before)
	}
	ro.Close()

	remount(0)
	waitFor(t, "the journal to be written again", func() bool {
		r.Flush(ctx)
		return r.Status().OK
	})
	cancel()
	<-done
	defer r.Close()
	j = r.j
	after := countSamples(t, j)
	if after < before+3000-10 {
		t.Fatalf("after recovery %d samples: want the %d committed plus the ~3000 kept in the backlog", after, before)
	}
	var orphans int
	j.db.QueryRow(`SELECT COUNT(*) FROM session WHERE device_id = '' OR device_id NOT IN (SELECT id FROM device)`).Scan(&orphans)
	if orphans != 0 {
		t.Fatalf("%d sessions queued before the journal opened have no device", orphans)
	}
	if res, _, err := j.Check(context.Background()); err != nil || res != "ok" {
		t.Fatalf("integrity %q %v", res, err)
	}
	t.Logf("samples: %d before, %d after the file system came back", before, after)
}
