package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/fleet/store"
	"github.com/fieldlink/fieldlink/backend/fleet/upload"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/report"
	"github.com/fieldlink/fieldlink/backend/testbed/fleetsample"
	"github.com/fieldlink/fieldlink/backend/testbed/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type rig struct {
	t      *testing.T
	store  *store.Store
	fs     *Server
	srv    *httptest.Server
	viewer string
	paths  []string
	tokens []string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	st.SetClock(fleetsample.Clock)
	r := &rig{t: t, store: st}
	r.fs = New(st, Options{VisitShare: 0.8, DeviceShare: 0.85})
	r.srv = httptest.NewServer(r.fs.Handler())
	t.Cleanup(r.srv.Close)
	if r.viewer, err = st.AddViewer(ctx, "it-manager"); err != nil {
		t.Fatal(err)
	}
	r.paths = fleetsample.Record(t, t.TempDir(), false)
	for i, h := range fleetsample.Hosts {
		group := "Community North"
		if i == 2 {
			group = "Community South"
		}
		tok, err := st.Enroll(ctx, h, group)
		if err != nil {
			t.Fatal(err)
		}
		r.tokens = append(r.tokens, tok)
	}
	return r
}

func (r *rig) sync(i int, o upload.Options) (upload.Result, error) {
	j, err := journal.Open(r.paths[i])
	if err != nil {
		r.t.Fatal(err)
	}
	defer j.Close()
	if o.Server == "" {
		o.Server = r.srv.URL
	}
	o.Token = r.tokens[i]
	return upload.Sync(context.Background(), j, o)
}

func (r *rig) get(path string) (int, string) {
	r.t.Helper()
	req, _ := http.NewRequest("GET", r.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+r.viewer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// merged is the report of the same journals imported into one SQLite.
func (r *rig) merged(q report.Query) *report.Report {
	r.t.Helper()
	ctx := context.Background()
	fleetDB, err := journal.Open(filepath.Join(r.t.TempDir(), "fleet.db"))
	if err != nil {
		r.t.Fatal(err)
	}
	defer fleetDB.Close()
	for _, p := range r.paths {
		j, _ := journal.Open(p)
		var buf bytes.Buffer
		j.Export(ctx, &buf, journal.ExportOptions{Records: upload.Records()})
		j.Close()
		if _, _, err := fleetDB.Import(ctx, &buf, p, journal.ImportOptions{}); err != nil {
			r.t.Fatal(err)
		}
	}
	rep, err := report.Build(ctx, fleetDB.DB(), q)
	if err != nil {
		r.t.Fatal(err)
	}
	return rep
}

func sameJSON(t *testing.T, what string, a, b *report.Report) {
	t.Helper()
	a.Generated, b.Generated = time.Time{}, time.Time{}
	// Trends are the server's own addition (months of the whole fleet);
	// TestTrendsFollowTheMonths checks them.
	a.Trends, b.Trends = nil, nil
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("%s: the reports differ:\n%s\n%s", what, ja, jb)
	}
}

// TestDevicesSyncAndTheFleetReportMatches is the fleet issue's "done
// when": devices sync to a fieldlink serve on a real PostgreSQL, and the
// fleet report equals the merged SQLite report; a second sync sends only
// what is recent and changes nothing.
func TestDevicesSyncAndTheFleetReportMatches(t *testing.T) {
	r := newRig(t)
	for i := range r.paths {
		res, err := r.sync(i, upload.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent["visit"] == 0 || res.Sent["sample"] != 0 || res.Stored["day_visit"] != res.Sent["day_visit"] {
			t.Fatalf("device %d: %s (stored %v)", i, res, res.Stored)
		}
	}
	if _, err := r.store.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, body := r.get("/report.json")
	var got report.Report
	if code != 200 || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("report.json: %d %.200s", code, body)
	}
	sameJSON(t, "fleet vs merged SQLite", &got, r.merged(report.Query{VisitShare: 0.8, DeviceShare: 0.85}))

	// Syncing again resends what is within the margin; nothing doubles.
	j, _ := journal.Open(r.paths[0])
	st, _ := j.Sync(context.Background(), r.srv.URL)
	j.Close()
	if st.Acked.IsZero() || st.LastError != "" || !strings.Contains(st.LastSent, "visit") {
		t.Fatalf("sync state %+v", st)
	}
	if _, err := r.sync(0, upload.Options{}); err != nil {
		t.Fatal(err)
	}
	r.store.Refresh(context.Background())
	code, body = r.get("/report.json")
	var again report.Report
	json.Unmarshal([]byte(body), &again)
	sameJSON(t, "after a second sync", &again, r.merged(report.Query{VisitShare: 0.8, DeviceShare: 0.85}))

	// A group: tb-nurse-3 alone is Community South.
	code, body = r.get("/report.json?group=Community+South")
	var south report.Report
	if code != 200 || json.Unmarshal([]byte(body), &south) != nil || south.Headline.Devices != 1 || south.Headline.Visits != 2 {
		t.Fatalf("group: %d %+v", code, south.Headline)
	}
	// An operator: only its column.
	code, body = r.get("/report.json?network=" + "EE+%28234-30%29")
	var ee report.Report
	if json.Unmarshal([]byte(body), &ee); code != 200 || len(ee.Matrix.Networks) != 1 || ee.Matrix.Networks[0] != "EE (234-30)" {
		t.Fatalf("network filter: %d %v", code, ee.Matrix.Networks)
	}
	if code, body := r.get("/report.csv"); code != 200 || !strings.HasPrefix(body, "section,area,network") || !strings.Contains(body, "Northfield") {
		t.Fatalf("csv: %d %.200s", code, body)
	}
	// Bad filters are errors, not empty reports.
	for path, want := range map[string]string{"/report?since=yesterday": "want a date", "/report?device=tb-nobody": "no device",
		"/report?since=2026-12-01&until=2026-11-01": "ends before it starts", "/report?group=Nobody": "no devices"} {
		if code, body := r.get(path); code != 400 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
}

func post(t testing.TB, url, token string, body []byte, gz bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/api/v1/upload", bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestBadUploadsGetAClearRefusal: truncated gzip, a bad line, another
// device's record, a huge body, no or an unknown token: a 4xx that says
// why (and where), and nothing stored.
func TestBadUploadsGetAClearRefusal(t *testing.T) {
	r := newRig(t)
	exp := func(i int) []byte {
		j, _ := journal.Open(r.paths[i])
		defer j.Close()
		var buf bytes.Buffer
		j.Export(context.Background(), &buf, journal.ExportOptions{Records: upload.Records()})
		return buf.Bytes()
	}
	a, b := exp(0), exp(1)
	z := gzipped(a)
	huge := bytes.Repeat([]byte(`{"record":"from_the_future","pad":"`+strings.Repeat("x", 1000)+`"}`+"\n"), 300_000)
	for _, c := range []struct {
		name   string
		token  string
		body   []byte
		gz     bool
		status int
		want   string
	}{
		{"no token", "", z, true, 401, "no token"},
		{"unknown token", "flk_nope", z, true, 401, "unknown token"},
		{"truncated gzip", r.tokens[0], z[:len(z)/2], true, 400, ""},
		{"not gzip", r.tokens[0], a, true, 400, "not gzip"},
		{"a bad line", r.tokens[0], append(append([]byte{}, a...), []byte("{\"record\":\"visit\",\"device_id\":\"000000a1-1b0e-4c7a-9d5e-000000000000\"}\n")...), false, 400, `field "visit_uuid" is missing`},
		{"another device's record", r.tokens[0], append(append([]byte{}, a...), b[:bytes.IndexByte(b, '\n')+1]...), false, 403, "device 000000a2"},
		{"huge", r.tokens[0], gzipped(huge), true, 413, "larger than"},
	} {
		code, body := post(t, r.srv.URL, c.token, c.body, c.gz)
		if code != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %.200q (want %d, %q)", c.name, code, body, c.status, c.want)
		}
		if c.status == 400 && c.want != "" && c.want != "not gzip" && !strings.Contains(body, "tb-nurse-1:") {
			t.Errorf("%s: the refusal does not name the upload and line: %q", c.name, body)
		}
	}
	var n int64
	r.store.Pool().QueryRow(context.Background(), `SELECT (SELECT COUNT(*) FROM session) + (SELECT COUNT(*) FROM visit) + (SELECT COUNT(*) FROM day_net)`).Scan(&n)
	if n != 0 {
		t.Fatalf("refused uploads stored %d rows", n)
	}
}

// TestCutOffSyncsLoseNothing: a sync cut off (the device giving up mid
// upload; the server going away mid-upload) leaves the watermark where it
// was; the next sync sends it all again, and nothing is lost or doubled.
func TestCutOffSyncsLoseNothing(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	// A server that hangs on the first upload, then closes.
	var calls atomic.Int32
	release := make(chan struct{})
	h := New(r.store, Options{}).Handler()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if calls.Add(1) == 1 {
			io.ReadAll(req.Body)
			<-release
			return
		}
		h.ServeHTTP(w, req)
	}))
	// The device gives up after 300 ms (SIGKILL is the same to the
	// server: the connection drops with nothing committed).
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	j, _ := journal.Open(r.paths[0])
	_, err := upload.Sync(cctx, j, upload.Options{Server: slow.URL, Token: r.tokens[0]})
	cancel()
	st, _ := j.Sync(ctx, slow.URL)
	j.Close()
	if err == nil || !st.Acked.IsZero() || st.LastError == "" {
		t.Fatalf("a cut-off sync: err %v, state %+v", err, st)
	}
	// The server goes away mid-upload.
	go func() { time.Sleep(200 * time.Millisecond); slow.CloseClientConnections(); close(release) }()
	calls.Store(0)
	if _, err := r.sync(0, upload.Options{Server: slow.URL}); err == nil {
		t.Fatal("a sync to a server that went away mid-upload succeeded")
	}
	slow.Close()
	// A fresh server on the same database: all of it, once.
	if _, err := r.sync(0, upload.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.sync(0, upload.Options{}); err != nil {
		t.Fatal(err)
	}
	var sessions, visits int64
	r.store.Pool().QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM session), (SELECT COUNT(*) FROM visit)`).Scan(&sessions, &visits)
	jj, _ := journal.Open(r.paths[0])
	var ws, wv int64
	jj.DB().QueryRow(`SELECT (SELECT COUNT(*) FROM session), (SELECT COUNT(*) FROM visit)`).Scan(&ws, &wv)
	jj.Close()
	if sessions != ws || visits != wv || visits == 0 {
		t.Fatalf("server holds %d sessions, %d visits; the device %d, %d", sessions, visits, ws, wv)
	}
}
