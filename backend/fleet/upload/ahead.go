package upload

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/report"
)

// maxAhead bounds the fleet's summary read (it is a few KB).
const maxAhead = 1 << 20

// FetchAhead asks the fleet server for its summary of the areas this
// device works in, and keeps it in the journal, where the device shows it
// offline. It is asked after a sync, over the same connection settings.
func FetchAhead(ctx context.Context, j *journal.Journal, o Options) (*report.Ahead, error) {
	if err := CheckServer(o.Server); err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimRight(o.Server, "/") + "/api/v1/ahead")
	if err != nil {
		return nil, fmt.Errorf("fleet server %q: %w", o.Server, err)
	}
	client, err := o.client()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+o.Token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, Explain(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAhead+1))
	if err != nil {
		return nil, Explain(err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Status: resp.StatusCode, Text: strings.TrimSpace(string(body))}
	}
	if len(body) > maxAhead {
		return nil, fmt.Errorf("fleet server: a summary of more than %d bytes", maxAhead)
	}
	var a report.Ahead
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("fleet server: a summary that is not JSON: %.80q", body)
	}
	if err := j.SetAhead(ctx, a.Made, body); err != nil {
		return nil, err
	}
	return &a, nil
}
