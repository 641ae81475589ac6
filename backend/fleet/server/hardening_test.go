package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/fleet/store"
	"github.com/fieldlink/fieldlink/backend/testbed/fleetsample"
	"github.com/fieldlink/fieldlink/backend/testbed/pgtest"
)

// events is an upload of n small event records of one device.
func events(dev string, from, n int) []byte {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, `{"record":"event","device_id":%q,"seq":%d,"t_ms":%d,"kind":"failover","link":"wwan0","level":2,"text":"now on cellular"}`+"\n", dev, i, 1796000000000+int64(i))
	}
	return []byte(b.String())
}

func dayDevice(dev, day string) []byte {
	return []byte(fmt.Sprintf(`{"record":"day_device","device_id":%q,"day":%q,"failovers":1,"visits":1,"h_visit":"95:1"}`+"\n", dev, day))
}

func count(t *testing.T, st *store.Store, q string) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUploadCaps: an upload over the record cap is refused with how to
// split it and stores nothing; a device over its day's records is told to
// wait for tomorrow; the uploads before stay.
func TestUploadCaps(t *testing.T) {
	r := newRig(t)
	r.store.SetLimits(store.Limits{Batch: 50, Records: 300, PerDay: 1000})
	tok, _ := r.store.Enroll(context.Background(), "tb-flood", "")
	if code, body := post(t, r.srv.URL, tok, gzipped(events("dev-flood", 0, 301)), true); code != 413 || !strings.Contains(body, "send it in parts") {
		t.Fatalf("301 records over a cap of 300: %d %q", code, body)
	}
	if n := count(t, r.store, `SELECT COUNT(*) FROM event`); n != 0 {
		t.Fatalf("a refused upload stored %d events", n)
	}
	for i := 0; i < 3; i++ {
		if code, body := post(t, r.srv.URL, tok, gzipped(events("dev-flood", i*300, 300)), true); code != 200 {
			t.Fatalf("upload %d: %d %q", i, code, body)
		}
	}
	if code, body := post(t, r.srv.URL, tok, gzipped(events("dev-flood", 900, 300)), true); code != 429 || !strings.Contains(body, "tomorrow") {
		t.Fatalf("over the day's records: %d %q", code, body)
	}
	if n := count(t, r.store, `SELECT COUNT(*) FROM event`); n != 900 {
		t.Fatalf("events stored %d, want the 900 accepted", n)
	}
}

// TestUploadDaysInTheDevicesWindow: days from years 1000–1099, or beyond
// tomorrow, are skipped with a line each naming the upload and line (the
// rest of the upload is taken); no partition is made for them; a day a
// year before the enrolment is taken.
func TestUploadDaysInTheDevicesWindow(t *testing.T) {
	r := newRig(t)
	tok, _ := r.store.Enroll(context.Background(), "tb-clock", "")
	parts := func() int {
		return count(t, r.store, `SELECT COUNT(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'day\_%'`)
	}
	before := parts()
	var old strings.Builder
	for y := 1000; y < 1100; y++ {
		old.Write(dayDevice("dev-clock", fmt.Sprintf("%d-06-01", y)))
	}
	for _, c := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"years 1000-1099", old.String() + string(dayDevice("dev-clock", "2026-12-01")), 200, "tb-clock:1: skipped: day 1000-06-01 is outside this device's days (2025-10-29 to 2026-12-05)"},
		{"beyond tomorrow", string(dayDevice("dev-clock", "2026-12-06")), 200, "tb-clock:1: skipped: day 2026-12-06 is outside"},
		{"a year before enrolment", string(dayDevice("dev-clock", "2025-11-01")), 200, ""},
		{"a journal begun before its enrolment", `{"record":"device","device_id":"dev-clock","hostname":"tb","created_ms":1717200000000,"demo":0}` + "\n" +
			string(dayDevice("dev-clock", "2024-06-15")), 200, `"day_device":1`},
	} {
		code, body := post(t, r.srv.URL, tok, gzipped([]byte(c.body)), true)
		if code != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %q, want %d %q", c.name, code, body, c.status, c.want)
		}
	}
	if after := parts(); after != before+3 {
		t.Errorf("day partitions %d → %d: want three more (day_device of 2024-06, 2025-11 and 2026-12)", before, after)
	}
	if n := count(t, r.store, `SELECT COUNT(*) FROM day_device WHERE device_id = 'dev-clock'`); n != 3 {
		t.Errorf("day_device rows %d, want 3 (2026-12-01, 2025-11-01, 2024-06-15)", n)
	}
}

// TestEmptyDeviceIDBindsNothing: a first upload whose records name no
// device is refused and leaves the token unbound.
func TestEmptyDeviceIDBindsNothing(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tok, _ := r.store.Enroll(ctx, "tb-blank", "")
	if code, body := post(t, r.srv.URL, tok, gzipped(events("", 0, 1)), true); code != 400 || !strings.Contains(body, "without a device_id") {
		t.Fatalf("empty device_id: %d %q", code, body)
	}
	if e, err := r.store.Device(ctx, tok); err != nil || e.Device != "" {
		t.Fatalf("the token bound to %q (%v)", e.Device, err)
	}
	if code, _ := post(t, r.srv.URL, tok, gzipped(events("dev-blank", 0, 1)), true); code != 200 {
		t.Fatalf("the device's own first upload after: %d", code)
	}
}

// TestTokensReplacedAndRevoked: a replaced token stops at once and the
// new one writes the same device; a revoked one is refused.
func TestTokensReplacedAndRevoked(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	old, _ := r.store.Enroll(ctx, "tb-lost", "")
	if code, _ := post(t, r.srv.URL, old, gzipped(events("dev-lost", 0, 1)), true); code != 200 {
		t.Fatal("first upload refused")
	}
	fresh, err := r.store.Replace(ctx, "tb-lost")
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := post(t, r.srv.URL, old, gzipped(events("dev-lost", 1, 1)), true); code != 401 {
		t.Errorf("the replaced token: %d, want 401", code)
	}
	if code, body := post(t, r.srv.URL, fresh, gzipped(events("dev-lost", 1, 1)), true); code != 200 || !strings.Contains(body, "dev-lost") {
		t.Errorf("the new token: %d %q", code, body)
	}
	if err := r.store.Revoke(ctx, "tb-lost"); err != nil {
		t.Fatal(err)
	}
	if code, _ := post(t, r.srv.URL, fresh, gzipped(events("dev-lost", 2, 1)), true); code != 401 {
		t.Errorf("the revoked token: %d, want 401", code)
	}
	if err := r.store.Revoke(ctx, "tb-never"); err == nil || !strings.Contains(err.Error(), "no device enrolled") {
		t.Errorf("revoking an unknown name: %v", err)
	}
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestSafeNext: after sign-in only this site's own paths.
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/report?since=2026-11-01": "/report?since=2026-11-01", "/report/../report": "/report", "": "/report",
		"/%5Chost": "/report", `/\host`: "/report", "/%09/host": "/report", "/\t/host": "/report", "//host": "/report",
		"https://evil.example/": "/report", "///host": "/report", "/%2F/host": "/report", "javascript:alert(1)": "/report",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSignInSessions: the sign-in link sets a session of its own, not the
// token; a link arriving by another site's request asks for a click; a
// post from another origin is refused; a session ends after 12 hours.
func TestSignInSessions(t *testing.T) {
	r := newRig(t)
	c := noRedirect()
	link := r.srv.URL + "/login?" + url.Values{"token": {r.viewer}, "next": {"/%5Cevil.example"}}.Encode()
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		session = ck
	}
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/report" || session == nil || session.Value == r.viewer || !session.HttpOnly {
		t.Fatalf("sign-in: %d to %q, cookie %+v", resp.StatusCode, resp.Header.Get("Location"), session)
	}
	get := func(ck *http.Cookie) int {
		req, _ := http.NewRequest("GET", r.srv.URL+"/report.json", nil)
		req.AddCookie(ck)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(session); code != 200 {
		t.Fatalf("the session: %d", code)
	}
	if code := get(&http.Cookie{Name: session.Name, Value: r.viewer}); code != 401 {
		t.Errorf("the viewer token as a cookie: %d, want 401 (a token signs in only)", code)
	}

	req, _ := http.NewRequest("GET", link, nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page strings.Builder
	fmt.Fprint(&page, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(resp.Cookies()) != 0 {
		t.Errorf("a cross-site sign-in link: %d, cookies %v: want a page with a button and no cookie", resp.StatusCode, resp.Cookies())
	}

	form := url.Values{"token": {r.viewer}, "next": {"/report"}}
	for origin, want := range map[string]int{"http://evil.example": 403, r.srv.URL: 303} {
		req, _ := http.NewRequest("POST", r.srv.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || (want == 403) != (len(resp.Cookies()) == 0) {
			t.Errorf("a sign-in posted from %s: %d, cookies %d; want %d", origin, resp.StatusCode, len(resp.Cookies()), want)
		}
	}

	r.store.SetClock(func() time.Time { return fleetsample.Today.Add(13 * time.Hour) })
	if code := get(session); code != 401 {
		t.Errorf("a session after 13 hours: %d, want 401", code)
	}
}

// TestHSTSWhenServingTLS: HSTS and a Secure cookie over TLS or behind a
// TLS proxy the config names; neither on plain HTTP for a test.
func TestHSTSWhenServingTLS(t *testing.T) {
	r := newRig(t)
	for _, c := range []struct {
		opt  Options
		want bool
	}{{Options{}, false}, {Options{Secure: true}, true}, {Options{BehindTLSProxy: true}, true}} {
		srv := httptest.NewServer(New(r.store, c.opt).Handler())
		resp, err := noRedirect().Get(srv.URL + "/login?token=" + url.QueryEscape(r.viewer))
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		hsts := resp.Header.Get("Strict-Transport-Security") != ""
		secure := len(resp.Cookies()) == 1 && resp.Cookies()[0].Secure
		if hsts != c.want || secure != c.want {
			t.Errorf("%+v: HSTS %v, Secure cookie %v; want %v", c.opt, hsts, secure, c.want)
		}
	}
}

// TestDatabaseDownSaysSo: with the database gone a viewer is told it is
// not answering (503), not to sign in again; uploads the same; nothing of
// the database's own words reaches the client.
func TestDatabaseDownSaysSo(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	viewer, _ := st.AddViewer(ctx, "it")
	device, _ := st.Enroll(ctx, "tb", "")
	srv := httptest.NewServer(New(st, Options{}).Handler())
	defer srv.Close()
	st.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/report.json", nil)
	req.Header.Set("Authorization", "Bearer "+viewer)
	for name, req := range map[string]*http.Request{"report": req} {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprint(&b, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Errorf("%s: %d, want 503", name, resp.StatusCode)
		}
	}
	code, body := post(t, srv.URL, device, gzipped(events("dev", 0, 1)), true)
	if code != 503 || !strings.Contains(body, "not answering") || strings.Contains(body, "pool") || strings.Contains(body, "closed") {
		t.Errorf("upload with the database gone: %d %q", code, body)
	}
}
