package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/fleet/store"
	"github.com/fieldlink/fieldlink/backend/testbed/fleetsample"
	"github.com/fieldlink/fieldlink/backend/testbed/pgtest"
)

// floodBody is a gzipped upload of small event lines of about gzMB
// megabytes: the audit's 4.9 MB held 1.59 M of them.
func floodBody(dev string, gzMB float64) ([]byte, int) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	n := 0
	for float64(buf.Len()) < gzMB*1e6 {
		for i := 0; i < 10000; i++ {
			fmt.Fprintf(zw, `{"record":"event","device_id":%q,"seq":%d,"t_ms":%d,"kind":"x","link":"l","level":1,"text":"%d"}`+"\n", dev, n, 1796000000000+int64(n), n%97)
			n++
		}
		zw.Flush()
	}
	zw.Close()
	return buf.Bytes(), n
}

// rssMB reads this process's resident memory now and its peak since the
// last reset (VmRSS, VmHWM) in MB.
func rssMB() (now, peak float64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			now = kb / 1024
		case "VmHWM":
			peak = kb / 1024
		}
	}
	return now, peak
}

// BenchmarkUploadMemory is the server's peak memory (the whole process's
// resident high-water mark, reset before each upload) while it takes a
// 5 MB gzipped flood of small event lines (refused at the record cap) and
// an upload at the cap (taken), beside its resident memory just before:
// the yardstick. Target: peak ≤ 100 MB.
func BenchmarkUploadMemory(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.NewDB(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	st.SetClock(fleetsample.Clock)
	srv := httptest.NewServer(New(st, Options{}).Handler())
	defer srv.Close()
	for _, c := range []struct {
		name string
		gzMB float64
	}{{"flood-5MB-gzip", 5}, {"at-the-cap", 0}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dev := fmt.Sprintf("dev-%s-%d", c.name, i)
				var body []byte
				var n int
				if c.gzMB > 0 {
					body, n = floodBody(dev, c.gzMB)
				} else {
					body, n = gzipped(events(dev, 0, store.MaxRecords)), store.MaxRecords
				}
				tok, _ := st.Enroll(ctx, dev, "")
				runtimeGC()
				os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
				base, _ := rssMB()
				t0 := time.Now()
				code, answer := post(b, srv.URL, tok, body, true)
				took := time.Since(t0)
				_, peak := rssMB()
				b.Logf("%s: %d records, %.1f MB gzipped: %d %.80q in %v; resident before %.0f MB, peak %.0f MB",
					c.name, n, float64(len(body))/1e6, code, answer, took.Round(time.Millisecond), base, peak)
				b.ReportMetric(peak, "peak_MB")
				b.ReportMetric(base, "before_MB")
				b.ReportMetric(float64(n), "records")
				b.ReportMetric(took.Seconds(), "upload_s")
			}
		})
	}
}

func runtimeGC() { runtime.GC(); debug.FreeOSMemory() }
