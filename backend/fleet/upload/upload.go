// Package upload sends a device's journal to the fleet server: what
// changed since the server last acknowledged (roll-ups, sessions, visits,
// events; samples stay on the device), as gzipped NDJSON exports, in
// windows of a month for a first sync. The device moves its watermark
// only after the server has committed, so a send cut off is sent again,
// and the server's upserts make that harmless. Nothing on the device is
// ever deleted because of a sync.
package upload

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/report"
)

// Options say where and how to send.
type Options struct {
	// Server is the fleet server's base URL (https://…).
	Server string
	// Token is the device's upload token.
	Token string
	// CAFile names a CA certificate to trust for the server, besides the
	// system's (a trust's own CA).
	CAFile string
	// Client replaces the HTTP client (tests).
	Client *http.Client
	// Margin is how far before the last acknowledgement a sync starts
	// again: records written late (a backlog flushed after a full disk,
	// a session closing after the last sync began) are sent again rather
	// than missed. Default 24 h: today's and yesterday's roll-ups are
	// re-sent until their day has closed. The start goes back further to
	// the day a session or visit open at that point began, since closing
	// it rewrites that day's roll-ups (journal.ResendFrom).
	Margin time.Duration
	// Window bounds one upload's span (default 31 days).
	Window time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// Result is what one sync sent.
type Result struct {
	Since   time.Time
	Sent    journal.ExportStats
	Stored  map[string]int64
	Uploads int
	Bytes   int
	// Ahead is the fleet's summary of the device's areas brought back
	// after the sync (nil with AheadErr when it could not be had).
	Ahead    *report.Ahead
	AheadErr error
}

// String is "sent 3 session, 12 day_net … in 1 upload (4.2 kB)".
func (r Result) String() string {
	var parts []string
	for _, t := range journal.RecordTypes() {
		if n := r.Sent[t]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, t))
		}
	}
	what := "nothing new"
	if len(parts) > 0 {
		what = strings.Join(parts, ", ")
	}
	s := "s"
	if r.Uploads == 1 {
		s = ""
	}
	return fmt.Sprintf("sent %s in %d upload%s (%.1f kB gzipped)", what, r.Uploads, s, float64(r.Bytes)/1000)
}

// Records are the record types a sync sends.
func Records() []string {
	var out []string
	for _, t := range journal.RecordTypes() {
		if t != "sample" {
			out = append(out, t)
		}
	}
	return out
}

// StatusError is the server's refusal.
type StatusError struct {
	Status int
	Text   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("the fleet server refused the upload (%d %s): %s", e.Status, http.StatusText(e.Status), e.Text)
}

func (o *Options) client() (*http.Client, error) {
	if o.Client != nil {
		return o.Client, nil
	}
	return Client(o.CAFile, 5*time.Minute)
}

// Client is an HTTP client for the fleet server that trusts caFile's
// certificates besides the system's: a trust's own CA signs its servers.
func Client(caFile string, timeout time.Duration) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("fleet CA: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("fleet CA %s: no certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// CheckServer refuses a server address a token should not be sent to:
// plain http is allowed only to this machine (a test, or a TLS proxy on
// it), since the token and the journal would travel readable.
func CheckServer(server string) error {
	u, err := url.Parse(server)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Errorf("fleet server %q: want https://host[:port]", server)
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return fmt.Errorf("fleet server %q: plain http would send the token readable on the way; use https (http only to this machine)", server)
	}
	return nil
}

// Explain words a failed request to the fleet server, saying what to do
// when its certificate is not one this machine trusts.
func Explain(err error) error {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("fleet server: its certificate is signed by a CA this machine does not trust (give the trust's CA in [sync] ca_file, or --ca-file): %w", err)
	case errors.As(err, &host):
		return fmt.Errorf("fleet server: its certificate is for another name than the address used: %w", err)
	case errors.As(err, &invalid):
		return fmt.Errorf("fleet server: its certificate is not valid (expired, or not for a server): %w", err)
	}
	return fmt.Errorf("fleet server: %w", err)
}

func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Sync sends what changed since the server's last acknowledgement, and
// records how it went in the journal.
func Sync(ctx context.Context, j *journal.Journal, o Options) (Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Margin == 0 {
		o.Margin = 24 * time.Hour
	}
	if o.Window == 0 {
		o.Window = 31 * 24 * time.Hour
	}
	if err := CheckServer(o.Server); err != nil {
		return Result{}, err
	}
	u, err := url.Parse(strings.TrimRight(o.Server, "/") + "/api/v1/upload")
	if err != nil {
		return Result{}, fmt.Errorf("fleet server %q: %w", o.Server, err)
	}
	if o.Token == "" {
		return Result{}, errors.New("no upload token for this device: enroll it with 'fieldlink serve enroll' on the server and put the token in [sync] token_file")
	}
	client, err := o.client()
	if err != nil {
		return Result{}, err
	}
	st, err := j.Sync(ctx, o.Server)
	if err != nil {
		return Result{}, err
	}
	res := Result{Sent: journal.ExportStats{}, Stored: map[string]int64{}}
	start := o.Now()
	since := time.Time{}
	if !st.Acked.IsZero() {
		if since, err = j.ResendFrom(ctx, st.Acked.Add(-o.Margin)); err != nil {
			return Result{}, err
		}
	}
	res.Since = since
	st.LastTry = start
	for {
		until := time.Time{}
		if since.IsZero() {
			// A first sync starts from the journal's first record.
			first, err := firstRecord(ctx, j)
			if err != nil {
				return res, err
			}
			since = first
		}
		if !since.IsZero() && start.Sub(since) > o.Window {
			until = since.Add(o.Window)
		}
		n, stored, sent, err := upload(ctx, client, u.String(), o.Token, j, since, until)
		if err != nil {
			st.LastError = err.Error()
			j.SetSync(context.WithoutCancel(ctx), st)
			return res, err
		}
		res.Uploads++
		res.Bytes += n
		for k, v := range sent {
			res.Sent[k] += v
		}
		for k, v := range stored {
			res.Stored[k] += v
		}
		// Committed by the server: the watermark moves, and only now.
		st.Acked = start
		if !until.IsZero() {
			st.Acked = until
		}
		st.LastOK, st.LastError, st.LastSent = o.Now(), "", res.String()
		if err := j.SetSync(ctx, st); err != nil {
			return res, err
		}
		if until.IsZero() {
			return res, nil
		}
		since = until
	}
}

// firstRecord is the journal's earliest time (zero for an empty one).
func firstRecord(ctx context.Context, j *journal.Journal) (time.Time, error) {
	var ms *int64
	err := j.DB().QueryRowContext(ctx, `SELECT MIN(t) FROM (SELECT MIN(start_ms) AS t FROM session UNION ALL SELECT MIN(start_ms) FROM visit
		UNION ALL SELECT MIN(t_ms) FROM event UNION ALL SELECT MIN(day) * 86400000 FROM day_net)`).Scan(&ms)
	if err != nil || ms == nil {
		return time.Time{}, err
	}
	// Roll-ups are selected by the start of their day.
	return time.UnixMilli(*ms).UTC().Truncate(24 * time.Hour), nil
}

func upload(ctx context.Context, client *http.Client, url, token string, j *journal.Journal, since, until time.Time) (int, map[string]int64, journal.ExportStats, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	sent, err := j.Export(ctx, zw, journal.ExportOptions{Since: since, Until: until, Records: Records()})
	if err != nil {
		return 0, nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return 0, nil, nil, err
	}
	n := buf.Len()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, &buf)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, Explain(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return 0, nil, nil, &StatusError{Status: resp.StatusCode, Text: strings.TrimSpace(string(body))}
	}
	var ok struct {
		Stored map[string]int64 `json:"stored"`
	}
	if err := json.Unmarshal(body, &ok); err != nil {
		return 0, nil, nil, fmt.Errorf("fleet server: an answer that is not JSON: %.80q", body)
	}
	return n, ok.Stored, sent, nil
}
