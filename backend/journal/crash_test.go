package journal

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/netstate"
)

// crashChild is the writer the crash test kills: it records a Wi-Fi link
// whose strength and network keep changing, and after each flush prints
// the time of the last sample committed.
func crashChild(path string, start time.Time) {
	j, err := Open(path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	r := NewRecorder(j, Options{SampleEvery: time.Millisecond, Heartbeat: time.Millisecond, FlushEvery: 5 * time.Millisecond})
	ctx := context.Background()
	go r.Run(ctx)
	fmt.Println("ready")
	for i := 0; ; i++ {
		now := start.Add(time.Duration(i) * 10 * time.Millisecond)
		l := netstate.Link{ID: "wifi:wlan0", Kind: netstate.KindWiFi, Interface: "wlan0", State: netstate.StateConnected,
			WiFi: netstate.WiFi{SSID: fmt.Sprintf("NHS-Community-%d", i/200)}, Signal: netstate.Signal{Strength: netstate.Some(float64(20 + i%80))}}
		l.Level = netstate.LevelAmber
		if i%80 > 50 {
			l.Level = netstate.LevelGreen
		}
		snap := netstate.Snapshot{Links: []netstate.Link{l}, Primary: l.ID}
		var evs []netstate.Event
		if i%50 == 0 {
			evs = append(evs, netstate.Event{Time: now, Kind: netstate.EventFailover, Text: "crash test"})
		}
		r.Observe(now, &snap, evs)
		if i%300 == 150 {
			r.in <- input{now: now, visit: make(chan VisitResult, 1)}
		}
		if i%20 == 19 {
			if err := r.Flush(ctx); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			fmt.Println("committed", now.UnixMilli())
		}
	}
}

func TestMain(m *testing.M) {
	if p := os.Getenv("FIELDLINK_JOURNAL_CRASH_CHILD"); p != "" {
		ms, _ := strconv.ParseInt(os.Getenv("FIELDLINK_JOURNAL_CRASH_START"), 10, 64)
		crashChild(p, time.UnixMilli(ms))
		return
	}
	os.Exit(m.Run())
}

// TestCrashSafety kills a writing child with SIGKILL at random points. After
// every kill the file must pass integrity_check and hold every sample the
// child was told was committed; the next writer must close what the dead
// one left open.
func TestCrashSafety(t *testing.T) {
	kills := 100
	if testing.Short() {
		kills = 20
	}
	path := filepath.Join(t.TempDir(), "journal.db")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	start := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	ctx := context.Background()
	var total int
	for k := 0; k < kills; k++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "FIELDLINK_JOURNAL_CRASH_CHILD="+path,
			"FIELDLINK_JOURNAL_CRASH_START="+strconv.FormatInt(start.Add(time.Duration(k)*time.Hour).UnixMilli(), 10))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		if l := <-lines; l != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: child said %q", k, l)
		}
		// Kill at a random point: mid-transaction, mid-checkpoint, between.
		time.Sleep(time.Duration(rng.IntN(60_000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		var last int64 = -1
		for l := range lines {
			if strings.HasPrefix(l, "error") {
				t.Fatalf("kill %d: child: %s", k, l)
			}
			if ms, ok := strings.CutPrefix(l, "committed "); ok {
				last, _ = strconv.ParseInt(ms, 10, 64)
			}
		}
		cmd.Wait()

		j, err := OpenReadOnly(path)
		if err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
		res, counts, err := j.Check(ctx)
		if err != nil || res != "ok" {
			t.Fatalf("kill %d: integrity %q %v", k, res, err)
		}
		if last >= 0 {
			var n int
			j.db.QueryRow(`SELECT COUNT(*) FROM sample WHERE t_ms = ?`, last).Scan(&n)
			if n != 1 {
				t.Fatalf("kill %d: the sample at %d was reported committed but is not in the journal (counts %v)", k, last, counts)
			}
			total++
		}
		var open int
		j.db.QueryRow(`SELECT COUNT(*) FROM session WHERE end_ms IS NULL`).Scan(&open)
		j.Close()
		if k == kills-1 {
			t.Logf("%d kills, %d after a reported commit; journal holds %v; %d sessions left open by the last kill", kills, total, counts, open)
		}
	}
	// The next writer closes what the last one left open.
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	r := NewRecorder(j, Options{})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- r.Run(cctx) }()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	var open, visits int
	j.db.QueryRow(`SELECT COUNT(*) FROM session WHERE end_ms IS NULL`).Scan(&open)
	j.db.QueryRow(`SELECT COUNT(*) FROM visit WHERE end_ms IS NULL`).Scan(&visits)
	// A visit the crash interrupted goes on (fieldlink is back at once);
	// every other is closed.
	if open != 0 || visits > 1 || visits == 1 && !r.VisitOpen() {
		t.Fatalf("after recovery: %d sessions and %d visits still open (the recorder has one open: %v)", open, visits, r.VisitOpen())
	}
	if total < kills/2 {
		t.Fatalf("only %d of %d kills came after a commit: the kills are too early to test anything", total, kills)
	}
}
