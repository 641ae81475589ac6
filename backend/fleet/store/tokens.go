package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SessionLife is how long a viewer's sign-in lasts: a working day.
const SessionLife = 12 * time.Hour

// StartSession signs a viewer in: a new secret for the browser's cookie,
// of its own and expiring, so the viewer's token never sits in a cookie.
// Expired sessions are dropped on the way.
func (s *Store) StartSession(ctx context.Context, viewer string) (string, error) {
	tok, h := newToken()
	now := s.now()
	if _, err := s.pool.Exec(ctx, `DELETE FROM viewer_session WHERE expires <= $1`, now); err != nil {
		return "", err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO viewer_session (secret_hash, viewer, expires) VALUES ($1, $2, $3)`, h, viewer, now.Add(SessionLife))
	return tok, err
}

// Session finds the viewer of a session's secret while it lasts and the
// viewer is not withdrawn.
func (s *Store) Session(ctx context.Context, secret string) (string, error) {
	var name string
	err := s.pool.QueryRow(ctx, `SELECT v.name FROM viewer_session vs JOIN viewer v ON v.name = vs.viewer
		WHERE vs.secret_hash = $1 AND vs.expires > $2`, hashToken(secret), s.now()).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrUnknownToken
	}
	return name, err
}

// ErrNoSuchDevice is a name no enrolment has.
var ErrNoSuchDevice = errors.New("no device enrolled by that name")

// Revoke withdraws a device's upload token: its uploads are refused from
// now on (401); what it uploaded stays in the fleet's figures.
func (s *Store) Revoke(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM enrollment WHERE name = $1`, name)
	if err == nil && tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %q", ErrNoSuchDevice, name)
	}
	return err
}

// Replace gives an enrolled device a new token, still bound to the same
// device; the old one stops working at once.
func (s *Store) Replace(ctx context.Context, name string) (string, error) {
	tok, h := newToken()
	tag, err := s.pool.Exec(ctx, `UPDATE enrollment SET token_hash = $1 WHERE token_hash =
		(SELECT token_hash FROM enrollment WHERE name = $2 ORDER BY created DESC LIMIT 1)`, h, name)
	if err == nil && tag.RowsAffected() == 0 {
		return "", fmt.Errorf("%w: %q", ErrNoSuchDevice, name)
	}
	return tok, err
}
