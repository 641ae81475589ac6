// Package server is `fieldlink serve`'s web service: devices upload
// their journals (gzipped NDJSON exports, each device with its own
// token), and IT reads the fleet report in a browser, as CSV or as JSON.
// A refresher keeps the store's pre-aggregates current.
package server

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/fleet/store"
	"github.com/fieldlink/fieldlink/backend/report"
)

// Limits bound an upload: a device-year is a few megabytes gzipped.
const (
	MaxUpload   = 32 << 20
	MaxExpanded = 256 << 20
)

// Options configure a server.
type Options struct {
	// VisitShare and DeviceShare are the report's defaults.
	VisitShare, DeviceShare float64
	Areas                   *areas.Map
	// Secure marks the session cookie Secure (served over TLS).
	Secure bool
	Log    *log.Logger
}

// Server serves uploads and the fleet report.
type Server struct {
	store *store.Store
	opt   Options
}

// New makes a server over a store.
func New(st *store.Store, opt Options) *Server {
	if opt.Log == nil {
		opt.Log = log.New(io.Discard, "", 0)
	}
	return &Server{store: st, opt: opt}
}

// Handler routes the service.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/upload", s.upload)
	mux.HandleFunc("GET /login", s.login)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/report", http.StatusSeeOther) })
	mux.HandleFunc("GET /report", s.viewer(s.reportPage))
	mux.HandleFunc("GET /report.csv", s.viewer(s.reportData("csv")))
	mux.HandleFunc("GET /report.json", s.viewer(s.reportData("json")))
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'")
		h.ServeHTTP(w, r)
	})
}

// UploadResult is the answer to an upload.
type UploadResult struct {
	Device   string           `json:"device"`
	Stored   map[string]int64 `json:"stored"`
	Warnings []string         `json:"warnings,omitempty"`
}

func bearer(r *http.Request) string {
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		return strings.TrimSpace(strings.TrimPrefix(a, "Bearer "))
	}
	return ""
}

func fail(w http.ResponseWriter, status int, format string, a ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, format+"\n", a...)
}

// upload stores one gzipped (or plain) NDJSON export. The answer comes
// after the commit: a device moves its watermark only on a 200.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	tok := bearer(r)
	if tok == "" {
		fail(w, http.StatusUnauthorized, "no token: send Authorization: Bearer <the device's token>")
		return
	}
	e, err := s.store.Device(r.Context(), tok)
	if errors.Is(err, store.ErrUnknownToken) {
		fail(w, http.StatusUnauthorized, "unknown token: enroll the device with 'fieldlink serve enroll'")
		return
	}
	if err != nil {
		s.opt.Log.Printf("upload: %v", err)
		fail(w, http.StatusServiceUnavailable, "the fleet database is not answering; try again later")
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, MaxUpload)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			fail(w, http.StatusBadRequest, "upload: not gzip: %v", err)
			return
		}
		body = zr
	}
	lim := &limited{r: body, n: MaxExpanded}
	name := "upload"
	if e.Name != "" {
		name = e.Name
	}
	stats, warnings, err := s.store.Ingest(r.Context(), e, lim, name)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || lim.over:
		fail(w, http.StatusRequestEntityTooLarge, "upload larger than %d MiB (%d MiB unpacked): send it in parts (fieldlink journal sync does)", MaxUpload>>20, MaxExpanded>>20)
		return
	case err != nil:
		var ie *store.IngestError
		if errors.As(err, &ie) {
			fail(w, ie.Status, "%v", err)
			return
		}
		if r.Context().Err() != nil {
			return // the device went away: nothing was committed
		}
		if strings.Contains(err.Error(), "gzip") || strings.Contains(err.Error(), "unexpected EOF") {
			fail(w, http.StatusBadRequest, "upload cut short or not gzip: %v", err)
			return
		}
		s.opt.Log.Printf("upload from %s: %v", e.Name, err)
		fail(w, http.StatusServiceUnavailable, "could not store the upload: %v", err)
		return
	}
	dev := e.Device
	if dev == "" {
		if en, err := s.store.Device(r.Context(), tok); err == nil {
			dev = en.Device
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(UploadResult{Device: dev, Stored: stats, Warnings: warnings})
}

// limited is io.LimitReader that says when the limit was hit.
type limited struct {
	r    io.Reader
	n    int64
	over bool
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		l.over = true
		return 0, errors.New("upload too large")
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

const cookie = "fieldlink_viewer"

// login trades a viewer's token (from 'fieldlink serve viewer NAME') for
// a session cookie, so the token leaves the address bar at once.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if _, err := s.store.Viewer(r.Context(), tok); err != nil {
		fail(w, http.StatusUnauthorized, "unknown or withdrawn viewer token: ask IT for a new link ('fieldlink serve viewer NAME')")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookie, Value: tok, Path: "/", HttpOnly: true, Secure: s.opt.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: 12 * 3600})
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/report"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// viewer lets through requests with a viewer's token (cookie or bearer).
func (s *Server) viewer(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if c, err := r.Cookie(cookie); tok == "" && err == nil {
			tok = c.Value
		}
		if _, err := s.store.Viewer(r.Context(), tok); err != nil {
			fail(w, http.StatusUnauthorized, "sign in with the link IT gave you (/login?token=…)")
			return
		}
		h(w, r)
	}
}

// query reads the report's filters from a request.
type query struct {
	q                      report.Query
	since, until           string
	group, network, area   string
	device                 string
	groups, networks, devs []string
}

func (s *Server) parse(r *http.Request) (query, error) {
	v := r.URL.Query()
	x := query{since: v.Get("since"), until: v.Get("until"), group: v.Get("group"), network: v.Get("network"),
		area: v.Get("area"), device: v.Get("device")}
	x.q = report.Query{VisitShare: s.opt.VisitShare, DeviceShare: s.opt.DeviceShare, Areas: s.opt.Areas, Device: x.device}
	if x.since != "" {
		t, err := time.Parse(time.DateOnly, x.since)
		if err != nil {
			return x, fmt.Errorf("since %q: want a date such as 2026-09-01", x.since)
		}
		x.q.Since = t
	}
	if x.until != "" {
		t, err := time.Parse(time.DateOnly, x.until)
		if err != nil {
			return x, fmt.Errorf("until %q: want a date such as 2026-11-30", x.until)
		}
		x.q.Until = t.AddDate(0, 0, 1) // the day named is included
	}
	for key, dst := range map[string]*float64{"visit_share": &x.q.VisitShare, "device_share": &x.q.DeviceShare} {
		if raw := v.Get(key); raw != "" {
			f, err := strconv.ParseFloat(raw, 64)
			if err != nil || !(f > 0 && f <= 1) {
				return x, fmt.Errorf("%s %q: want a share between 0 and 1", key, raw)
			}
			*dst = f
		}
	}
	if x.group != "" && x.device == "" {
		ids, err := s.store.GroupDevices(r.Context(), x.group)
		if err != nil {
			return x, err
		}
		if len(ids) == 0 {
			return x, fmt.Errorf("group %q has no devices that have uploaded", x.group)
		}
		x.q.Devices = ids
	}
	return x, nil
}

func (s *Server) build(r *http.Request) (*report.Report, query, int, error) {
	x, err := s.parse(r)
	if err != nil {
		return nil, x, http.StatusBadRequest, err
	}
	rep, _, err := report.From(r.Context(), s.store.Fetcher(), x.q)
	var de *report.DeviceError
	switch {
	case errors.As(err, &de), errors.Is(err, report.ErrPeriod):
		return nil, x, http.StatusBadRequest, err
	case err != nil:
		s.opt.Log.Printf("report: %v", err)
		return nil, x, http.StatusServiceUnavailable, errors.New("the fleet database is not answering; try again later")
	}
	x.networks = rep.Matrix.Networks
	rep.Only(x.network, x.area)
	return rep, x, 0, nil
}

func (s *Server) reportData(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep, _, status, err := s.build(r)
		if err != nil {
			fail(w, status, "%v", err)
			return
		}
		if format == "csv" {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="fieldlink-fleet.csv"`)
			rep.WriteCSV(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		rep.WriteJSON(w)
	}
}

var formTmpl = template.Must(template.New("form").Parse(`<form class="filters" method="get" action="/report">
<label>From <input type="date" name="since" value="{{.Since}}"></label>
<label>To <input type="date" name="until" value="{{.Until}}"></label>
<label>Group <select name="group"><option value="">All devices</option>{{range .Groups}}<option{{if eq . $.Group}} selected{{end}}>{{.}}</option>{{end}}</select></label>
<label>Network <select name="network"><option value="">All networks</option>{{range .Networks}}<option{{if eq . $.Network}} selected{{end}}>{{.}}</option>{{end}}</select></label>
{{if .Device}}<input type="hidden" name="device" value="{{.Device}}">{{end}}{{if .Area}}<input type="hidden" name="area" value="{{.Area}}">{{end}}
<button type="submit">Show</button>
{{if or .Device .Area}}<a href="/report?{{.Back}}">Whole fleet</a>{{end}}
<a href="/report.csv?{{.Raw}}">CSV</a> <a href="/report.json?{{.Raw}}">JSON</a>
</form>`))

func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) {
	rep, x, status, err := s.build(r)
	if err != nil {
		fail(w, status, "%v", err)
		return
	}
	groups, _ := s.store.Groups(r.Context())
	keep := url.Values{}
	for k, v := range map[string]string{"since": x.since, "until": x.until, "group": x.group, "network": x.network} {
		if v != "" {
			keep.Set(k, v)
		}
	}
	var form strings.Builder
	formTmpl.Execute(&form, map[string]any{"Since": x.since, "Until": x.until, "Group": x.group, "Groups": groups,
		"Network": x.network, "Networks": x.networks, "Device": x.device, "Area": x.area, "Back": keep.Encode(),
		"Raw": r.URL.RawQuery})
	link := func(k, v string) string {
		u := url.Values{}
		for key, vals := range keep {
			u[key] = vals
		}
		u.Set(k, v)
		return "/report?" + u.Encode()
	}
	fresh := s.store.Fresh(r.Context())
	note := ""
	if !fresh.Days.IsZero() && fresh.Days.Year() > 1970 {
		note = "Figures as of " + fresh.Days.UTC().Format("15:04 MST") + "."
		if fresh.StaleMon > 0 && fresh.Areas.Year() > 1970 {
			note += " Areas as of " + fresh.Areas.UTC().Format("2 Jan 15:04 MST") + "."
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rep.WriteHTMLPage(w, report.Page{Form: template.HTML(form.String()), Note: note,
		AreaHref: func(a string) string { return link("area", a) }, DeviceHref: func(id string) string { return link("device", id) }})
}

// Refresher rebuilds the store's pre-aggregates: changed days every tick,
// areas every areaEvery; it returns when ctx ends.
func Refresher(ctx context.Context, st *store.Store, tick, areaEvery time.Duration, logf func(string, ...any)) {
	t := time.NewTicker(tick)
	defer t.Stop()
	var lastAreas time.Time
	for {
		areas := time.Since(lastAreas) >= areaEvery
		stats, err := st.Refresh(ctx, store.RefreshOptions{Areas: areas})
		switch {
		case err != nil && ctx.Err() == nil:
			logf("refresh: %v", err)
		case err == nil && areas:
			lastAreas = time.Now()
		}
		if err == nil && stats.Days+stats.DeviceMonths+stats.Months > 0 {
			logf("refreshed %d days, %d device-months, %d area-months in %s", stats.Days, stats.DeviceMonths, stats.Months, stats.Took.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
