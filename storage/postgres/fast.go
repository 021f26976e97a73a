package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/auth"
)

// maxClientTokens bounds the FAST tokens one account keeps: adding one
// drops the oldest beyond it, so that clients that come and go with new
// user agent ids do not pile up tokens until they expire.
const maxClientTokens = 100

// Tokens stores FAST tokens (table fast_tokens). Accounts.SetCredentials
// deletes an account's tokens with its old credentials.
type Tokens struct {
	pool *pgxpool.Pool
}

// NewTokens returns the token store using pool.
func NewTokens(pool *pgxpool.Pool) *Tokens { return &Tokens{pool: pool} }

// Tokens is the token store of package auth.
var _ auth.TokenStore = (*Tokens)(nil)

// ClientTokens returns the tokens of client at username@domain.
func (s *Tokens) ClientTokens(ctx context.Context, domain, username string, client []byte) ([]auth.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT token, mechanism, issued, expiry, used FROM fast_tokens
		WHERE domain = $1 AND username = $2 AND client = $3`, domain, username, client)
	if err != nil {
		return nil, fmt.Errorf("tokens of %s@%s: %w", username, domain, err)
	}
	tokens, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (auth.Token, error) {
		var t auth.Token
		err := row.Scan(&t.Secret, &t.Mechanism, &t.Issued, &t.Expiry, &t.Used)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("tokens of %s@%s: %w", username, domain, err)
	}
	return tokens, nil
}

// AddToken stores t for client, dropping the client's unused tokens, the
// account's expired ones and its oldest beyond maxClientTokens, if the
// credential or token the login used (g) is still the account's: the
// account row's lock orders this with Accounts.SetCredentials, so a token
// never outlives a password change, however close the two come.
func (s *Tokens) AddToken(ctx context.Context, domain, username string, client []byte, t auth.Token, g auth.Grant) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The account row's lock makes one account's additions take
		// turns: their deletions would otherwise deadlock.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE domain = $1 AND username = $2 FOR NO KEY UPDATE`,
			domain, username).Scan(&one); err != nil {
			return err
		}
		var still bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM account_credentials WHERE domain = $1 AND username = $2 AND stored_key = $3)
			OR EXISTS (SELECT 1 FROM fast_tokens WHERE domain = $1 AND username = $2 AND token = $4)`,
			domain, username, g.StoredKey, g.Token).Scan(&still)
		if err != nil {
			return err
		}
		if !still {
			return auth.ErrGrantGone
		}
		if _, err := tx.Exec(ctx, `DELETE FROM fast_tokens WHERE domain = $1 AND username = $2
			AND ((client = $3 AND NOT used) OR expiry <= now())`, domain, username, client); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO fast_tokens (domain, username, client, token, mechanism, issued, expiry)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, domain, username, client, t.Secret, t.Mechanism, t.Issued, t.Expiry); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM fast_tokens WHERE domain = $1 AND username = $2
			AND token NOT IN (SELECT token FROM fast_tokens WHERE domain = $1 AND username = $2
				ORDER BY issued DESC, token = $4 DESC LIMIT $3)`, domain, username, maxClientTokens, t.Secret)
		return err
	})
	if err != nil {
		return fmt.Errorf("add token of %s@%s: %w", username, domain, err)
	}
	return nil
}

// UseToken marks the client's token secret used and drops its other used
// tokens; if secret is gone meanwhile, it changes nothing.
func (s *Tokens) UseToken(ctx context.Context, domain, username string, client []byte, secret string) error {
	_, err := s.pool.Exec(ctx, `WITH used AS (
			UPDATE fast_tokens SET used = true WHERE domain = $1 AND username = $2 AND client = $3 AND token = $4 RETURNING 1)
		DELETE FROM fast_tokens WHERE domain = $1 AND username = $2 AND client = $3 AND used AND token <> $4
			AND EXISTS (SELECT 1 FROM used)`,
		domain, username, client, secret)
	if err != nil {
		return fmt.Errorf("use token of %s@%s: %w", username, domain, err)
	}
	return nil
}

// DeleteTokens drops all of the client's tokens.
func (s *Tokens) DeleteTokens(ctx context.Context, domain, username string, client []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM fast_tokens WHERE domain = $1 AND username = $2 AND client = $3`,
		domain, username, client)
	if err != nil {
		return fmt.Errorf("delete tokens of %s@%s: %w", username, domain, err)
	}
	return nil
}
