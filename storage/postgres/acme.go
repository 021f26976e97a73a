package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/acme"
)

// ACME stores ACME accounts, certificates and challenge answers (tables
// acme_accounts, acme_certificates and acme_challenges).
type ACME struct {
	pool *pgxpool.Pool
}

// NewACME returns the store using pool.
func NewACME(pool *pgxpool.Pool) *ACME { return &ACME{pool: pool} }

// ACME is the store of package acme.
var _ acme.Store = (*ACME)(nil)

// AccountKey returns the account key of directory, storing newKey when
// there is none.
func (s *ACME) AccountKey(ctx context.Context, directory string, newKey []byte) ([]byte, error) {
	var key string
	err := s.pool.QueryRow(ctx, `WITH inserted AS (
			INSERT INTO acme_accounts (directory, key_pem) VALUES ($1, $2)
			ON CONFLICT (directory) DO NOTHING RETURNING key_pem)
		SELECT key_pem FROM inserted
		UNION ALL SELECT key_pem FROM acme_accounts WHERE directory = $1`, directory, string(newKey)).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another node's key was committed after this statement's snapshot.
		err = s.pool.QueryRow(ctx, `SELECT key_pem FROM acme_accounts WHERE directory = $1`, directory).Scan(&key)
	}
	if err != nil {
		return nil, fmt.Errorf("acme account key for %s: %w", directory, err)
	}
	return []byte(key), nil
}

// Certificate returns domain's certificate and key, nil when none.
func (s *ACME) Certificate(ctx context.Context, domain string) (certPEM, keyPEM []byte, err error) {
	var c, k string
	err = s.pool.QueryRow(ctx, `SELECT cert_pem, key_pem FROM acme_certificates WHERE domain = $1`, domain).Scan(&c, &k)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("acme certificate of %s: %w", domain, err)
	}
	return []byte(c), []byte(k), nil
}

// PutCertificate replaces domain's certificate and key.
func (s *ACME) PutCertificate(ctx context.Context, domain string, certPEM, keyPEM []byte, notAfter time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO acme_certificates (domain, cert_pem, key_pem, not_after) VALUES ($1, $2, $3, $4)
		ON CONFLICT (domain) DO UPDATE SET cert_pem = $2, key_pem = $3, not_after = $4, updated_at = now()`,
		domain, string(certPEM), string(keyPEM), notAfter)
	if err != nil {
		return fmt.Errorf("store the acme certificate of %s: %w", domain, err)
	}
	return nil
}

// PutChallenge stores the answer for token, a challenge for domain.
func (s *ACME) PutChallenge(ctx context.Context, token, domain, keyAuthorization string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO acme_challenges (token, domain, key_authorization) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO UPDATE SET domain = $2, key_authorization = $3`, token, domain, keyAuthorization)
	if err != nil {
		return fmt.Errorf("store acme challenge: %w", err)
	}
	return nil
}

// Challenge returns the answer for token, "" when none.
func (s *ACME) Challenge(ctx context.Context, token string) (string, error) {
	var answer string
	err := s.pool.QueryRow(ctx, `SELECT key_authorization FROM acme_challenges WHERE token = $1`, token).Scan(&answer)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("acme challenge: %w", err)
	}
	return answer, nil
}

// DomainChallenge returns the latest answer waiting for a challenge for
// domain, "" when none.
func (s *ACME) DomainChallenge(ctx context.Context, domain string) (string, error) {
	var answer string
	err := s.pool.QueryRow(ctx, `SELECT key_authorization FROM acme_challenges WHERE domain = $1
		ORDER BY created_at DESC LIMIT 1`, domain).Scan(&answer)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("acme challenge for %s: %w", domain, err)
	}
	return answer, nil
}

// DeleteChallenge forgets token, and answers left behind by an order that
// was cut short more than a day ago.
func (s *ACME) DeleteChallenge(ctx context.Context, token string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM acme_challenges WHERE token = $1 OR created_at < now() - interval '1 day'`, token)
	if err != nil {
		return fmt.Errorf("delete acme challenge: %w", err)
	}
	return nil
}

// Failures returns the failed orders of domain in a row and when the next
// may start.
func (s *ACME) Failures(ctx context.Context, domain string) (int, time.Time, error) {
	var n int
	var retryAt time.Time
	err := s.pool.QueryRow(ctx, `SELECT failures, retry_at FROM acme_failures WHERE domain = $1`, domain).Scan(&n, &retryAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("acme failures of %s: %w", domain, err)
	}
	return n, retryAt, nil
}

// SetFailures records the failed orders of domain; n = 0 forgets them.
func (s *ACME) SetFailures(ctx context.Context, domain string, n int, retryAt time.Time, reason string) error {
	var err error
	if n == 0 {
		_, err = s.pool.Exec(ctx, `DELETE FROM acme_failures WHERE domain = $1`, domain)
	} else {
		_, err = s.pool.Exec(ctx, `INSERT INTO acme_failures (domain, failures, retry_at, reason) VALUES ($1, $2, $3, $4)
			ON CONFLICT (domain) DO UPDATE SET failures = $2, retry_at = $3, reason = $4`, domain, n, retryAt, reason)
	}
	if err != nil {
		return fmt.Errorf("record acme failures of %s: %w", domain, err)
	}
	return nil
}

// Lock runs fn holding a session advisory lock named after domain, on one
// connection of the pool, waiting while another session holds it.
func (s *ACME) Lock(ctx context.Context, domain string, fn func() error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acme lock of %s: %w", domain, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended('xmppd acme ' || $1, 0))`, domain); err != nil {
		return fmt.Errorf("acme lock of %s: %w", domain, err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(hashtextextended('xmppd acme ' || $1, 0))`, domain); err != nil {
			// A connection still holding the lock must not go back to the pool.
			conn.Conn().Close(context.Background())
		}
	}()
	return fn()
}
