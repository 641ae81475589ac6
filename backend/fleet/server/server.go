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
	"path"
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
	// Secure marks the session cookie Secure and sends HSTS (served over
	// TLS).
	Secure bool
	// BehindTLSProxy does the same for plain HTTP behind a proxy that
	// speaks TLS to the browsers (server.behind_tls_proxy).
	BehindTLSProxy bool
	Log            *log.Logger
}

// Server serves uploads and the fleet report.
type Server struct {
	store   *store.Store
	opt     Options
	fleet   timed[*report.Report]
	monthly timed[[]report.MonthFigures]
	// uploaded wakes the refresher when an upload has committed.
	uploaded chan struct{}
}

// New makes a server over a store.
func New(st *store.Store, opt Options) *Server {
	if opt.Log == nil {
		opt.Log = log.New(io.Discard, "", 0)
	}
	return &Server{store: st, opt: opt, uploaded: make(chan struct{}, 1)}
}

// Handler routes the service.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/upload", s.upload)
	mux.HandleFunc("GET /api/v1/ahead", s.ahead)
	mux.HandleFunc("GET /login", s.login)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/report", http.StatusSeeOther) })
	mux.HandleFunc("GET /report", s.viewer(s.reportPage))
	mux.HandleFunc("GET /report.csv", s.viewer(s.reportData("csv")))
	mux.HandleFunc("GET /report.json", s.viewer(s.reportData("json")))
	return s.securityHeaders(mux)
}

func (s *Server) securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.secure(r) {
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
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
// device finds the enrolled device a request's upload token names, or
// answers the request itself (401, or 503 with the cause in the log) and
// reports false.
func (s *Server) device(w http.ResponseWriter, r *http.Request, what string) (store.Enrollment, bool) {
	tok := bearer(r)
	if tok == "" {
		fail(w, http.StatusUnauthorized, "no token: send Authorization: Bearer <the device's token>")
		return store.Enrollment{}, false
	}
	e, err := s.store.Device(r.Context(), tok)
	if errors.Is(err, store.ErrUnknownToken) {
		fail(w, http.StatusUnauthorized, "unknown token: enroll the device with 'fieldlink serve enroll'")
		return e, false
	}
	if err != nil {
		s.opt.Log.Printf("%s: %v", what, err)
		fail(w, http.StatusServiceUnavailable, "the fleet database is not answering; try again later")
		return e, false
	}
	return e, true
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	e, ok := s.device(w, r, "upload")
	if !ok {
		return
	}
	tok := bearer(r)
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
		var many *store.ErrTooMany
		if errors.As(err, &many) {
			fail(w, many.Status, "%s", many.Msg)
			return
		}
		if errors.As(err, &ie) {
			if ie.Cause != nil {
				s.opt.Log.Printf("upload from %s: %v: %v", e.Name, err, ie.Cause)
			}
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
		fail(w, http.StatusServiceUnavailable, "could not store the upload: the fleet database is not answering; try again later")
		return
	}
	dev := e.Device
	if dev == "" {
		if en, err := s.store.Device(r.Context(), tok); err == nil {
			dev = en.Device
		}
	}
	select {
	case s.uploaded <- struct{}{}: // the refresher sums it in
	default:
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

const cookie = "fieldlink_session"

// login trades a viewer's token (from 'fieldlink serve viewer NAME') for
// a session of its own, so the token leaves the address bar at once and
// never sits in a cookie. A link opened from the address bar, a bookmark
// or a mail client signs in at once; one that arrives by another site's
// request (Sec-Fetch-Site cross-site or same-site) shows a button first,
// so no page elsewhere can sign a browser in as someone (login CSRF).
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var tok, next string
	if r.Method == http.MethodPost {
		if !sameOrigin(r) {
			fail(w, http.StatusForbidden, "sign in from the fleet server's own page")
			return
		}
		r.ParseForm()
		tok, next = r.PostForm.Get("token"), r.PostForm.Get("next")
	} else {
		tok, next = r.URL.Query().Get("token"), r.URL.Query().Get("next")
	}
	viewer, err := s.store.Viewer(r.Context(), tok)
	switch {
	case errors.Is(err, store.ErrUnknownToken):
		fail(w, http.StatusUnauthorized, "unknown or withdrawn viewer token: ask IT for a new link ('fieldlink serve viewer NAME')")
		return
	case err != nil:
		s.dbDown(w, "login", err)
		return
	}
	if r.Method == http.MethodGet && !fromUser(r) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		confirmTmpl.Execute(w, map[string]string{"Viewer": viewer, "Token": tok, "Next": safeNext(next)})
		return
	}
	secret, err := s.store.StartSession(r.Context(), viewer)
	if err != nil {
		s.dbDown(w, "login", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookie, Value: secret, Path: "/", HttpOnly: true, Secure: s.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: int(store.SessionLife / time.Second)})
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

var confirmTmpl = template.Must(template.New("confirm").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in: fieldlink fleet report</title></head>
<body><main><h1>fieldlink fleet report</h1><p>Sign in as {{.Viewer}}?</p>
<form method="post" action="/login"><input type="hidden" name="token" value="{{.Token}}"><input type="hidden" name="next" value="{{.Next}}">
<button type="submit">Sign in</button></form></main></body></html>
`))

// fromUser: the request was the user's own doing (typed, a bookmark, a
// link from a mail client: Sec-Fetch-Site none) or from this site; a
// browser too old to say is let through, as SameSite cookies would be.
func fromUser(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "none", "same-origin":
		return true
	}
	return false
}

// sameOrigin: a form post from this server's own page.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// safeNext keeps a sign-in's destination on this site: a path of its own,
// normalised, with no scheme, host, backslash or control character that a
// browser could read as another site ("/\\host", "/%09/host").
func safeNext(next string) string {
	const home = "/report"
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	// Both the text as sent and as decoded: "%5C" is a backslash too.
	for _, t := range []string{next, u.Path} {
		if !strings.HasPrefix(t, "/") || strings.HasPrefix(t, "//") || strings.ContainsFunc(t, func(c rune) bool { return c == '\\' || c < 0x20 || c == 0x7f }) {
			return home
		}
	}
	p := path.Clean(u.Path)
	if strings.HasPrefix(p, "//") {
		return home
	}
	return (&url.URL{Path: p, RawQuery: u.RawQuery}).String()
}

// secure says whether the session cookie is marked Secure: served over
// TLS here, or behind a TLS proxy the config names.
func (s *Server) secure(r *http.Request) bool {
	return s.opt.Secure || r.TLS != nil || s.opt.BehindTLSProxy
}

// dbDown answers a request the database could not: the cause is logged,
// the client is told in words.
func (s *Server) dbDown(w http.ResponseWriter, what string, err error) {
	s.opt.Log.Printf("%s: %v", what, err)
	fail(w, http.StatusServiceUnavailable, "the fleet database is not answering; try again later")
}

// viewer lets through requests with a viewer's session (the cookie) or
// token (Authorization: Bearer, for scripts).
func (s *Server) viewer(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var err error
		if tok := bearer(r); tok != "" {
			_, err = s.store.Viewer(r.Context(), tok)
		} else if c, cerr := r.Cookie(cookie); cerr == nil {
			_, err = s.store.Session(r.Context(), c.Value)
		} else {
			err = store.ErrUnknownToken
		}
		switch {
		case errors.Is(err, store.ErrUnknownToken):
			fail(w, http.StatusUnauthorized, "sign in with the link IT gave you (/login?token=…); a sign-in lasts 12 hours")
			return
		case err != nil:
			s.dbDown(w, "viewer", err)
			return
		}
		h(w, r)
	}
}

// dbError is the database failing a request's lookup: logged, never
// shown.
type dbError struct{ err error }

func (e *dbError) Error() string { return "the fleet database is not answering" }

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
			return x, &dbError{err}
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
	var dbe *dbError
	if errors.As(err, &dbe) {
		s.opt.Log.Printf("report: %v", dbe.err)
		return nil, x, http.StatusServiceUnavailable, errors.New("the fleet database is not answering; try again later")
	}
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
	if len(x.q.Devices) == 0 && x.q.Device == "" {
		// The whole fleet's trends (a group's or a device's months would
		// be too few visits to read a trend in).
		if rep.Trends, err = s.trends(r.Context(), x.area, s.store.Now()); err != nil {
			s.opt.Log.Printf("trends: %v", err)
			rep.Trends = nil
		}
		if x.network != "" {
			rep.Trends = onlyNetwork(rep.Trends, x.network)
		}
	}
	return rep, x, 0, nil
}

// onlyNetwork keeps one network's trends.
func onlyNetwork(ts []report.Trend, network string) []report.Trend {
	var out []report.Trend
	for _, t := range ts {
		if t.Network == network {
			out = append(out, t)
		}
	}
	return out
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
<label>Find <input type="search" name="q" value="{{.Search}}" placeholder="an area or a device"></label>
<label>Order <select name="sort"><option value=""{{if eq .Sort ""}} selected{{end}}>dead zones first</option><option value="worst"{{if eq .Sort "worst"}} selected{{end}}>worst first</option><option value="visits"{{if eq .Sort "visits"}} selected{{end}}>most visits</option><option value="name"{{if eq .Sort "name"}} selected{{end}}>by name</option></select></label>
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
	pg := pagingOf(r.URL.Query())
	for k, v := range map[string]string{"since": x.since, "until": x.until, "group": x.group, "network": x.network,
		"q": pg.search, "sort": r.URL.Query().Get("sort")} {
		if v != "" {
			keep.Set(k, v)
		}
	}
	// The period shown, in the date pickers, whether asked for or not.
	since, until := x.since, x.until
	if since == "" {
		since = rep.Period.From
	}
	if until == "" {
		until = rep.Period.To
	}
	var form strings.Builder
	formTmpl.Execute(&form, map[string]any{"Since": since, "Until": until, "Group": x.group, "Groups": groups,
		"Network": x.network, "Networks": x.networks, "Device": x.device, "Area": x.area, "Back": keep.Encode(),
		"Raw": r.URL.RawQuery, "Search": pg.search, "Sort": pg.order})
	link := func(k, v string) string {
		u := url.Values{}
		for key, vals := range keep {
			u[key] = vals
		}
		u.Set(k, v)
		return "/report?" + u.Encode()
	}
	period := func(since, until string) string {
		u := url.Values{}
		for key, vals := range keep {
			u[key] = vals
		}
		u.Set("since", since)
		u.Set("until", until)
		return "/report?" + u.Encode()
	}
	areaMap := report.AreaMap(rep.Matrix.Rows, func(a string) string { return link("area", a) }) // every area, before the page is cut
	pg.apply(rep)
	fresh := s.store.Fresh(r.Context())
	note := ""
	if !fresh.Days.IsZero() && fresh.Days.Year() > 1970 {
		note = "Figures as of " + fresh.Days.UTC().Format("15:04 MST") + "."
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rep.WriteHTMLPage(w, report.Page{Form: template.HTML(form.String()) + presets(s.store.Now().UTC().Format(time.DateOnly), period),
		Note: note, Health: s.health(r.Context(), s.store.Now()), Map: areaMap,
		AreaPager:   pg.pager("Areas", "areas_page", pg.areaPage, pg.areas, pg.shownAreas, link),
		DevicePager: pg.pager("Devices", "devices_page", pg.devicePage, pg.devs, pg.shownDevices, link),
		AreaHref:    func(a string) string { return link("area", a) }, DeviceHref: func(id string) string { return link("device", id) }})
}

// settleUploads is how long the refresher waits after an upload for
// others arriving with it, so that a fleet's morning syncs are summed in
// batches rather than one refresh each.
const settleUploads = time.Second

// Refresher keeps the store's pre-aggregates current: within about
// settleUploads of an upload's acknowledgement (the figures of a moment
// are then right within seconds, the headline and the area table alike),
// and every tick besides (a refresh that failed is tried again then).
// Each refresh commits everything it brings up to date at once. It
// returns when ctx ends.
func (s *Server) Refresher(ctx context.Context, tick time.Duration, logf func(string, ...any)) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		stats, err := s.store.Refresh(ctx)
		if err != nil && ctx.Err() == nil {
			logf("refresh: %v", err)
		}
		if err == nil && stats.Days+stats.Devices > 0 {
			logf("refreshed %d days and %d devices (%d running-total rows) in %s", stats.Days, stats.Devices, stats.Rows, stats.Took.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.uploaded:
			select {
			case <-ctx.Done():
				return
			case <-time.After(settleUploads):
			}
		}
	}
}
