package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"mellium.im/xmpp/jid"

	"xmppd/motd"
)

// MOTD stores the messages of the day (tables motd and motd_seen).
type MOTD struct {
	pool *pgxpool.Pool
}

// NewMOTD returns the store using pool.
func NewMOTD(pool *pgxpool.Pool) *MOTD { return &MOTD{pool: pool} }

// MOTD is the store of package motd.
var _ motd.Store = (*MOTD)(nil)

// Get returns host's message, "" when it has none.
func (s *MOTD) Get(ctx context.Context, host string) (string, error) {
	var body string
	err := s.pool.QueryRow(ctx, `SELECT body FROM motd WHERE host = $1`, host).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("message of the day of %s: %w", host, err)
	}
	return body, nil
}

// Set replaces host's message, which nobody has got yet.
func (s *MOTD) Set(ctx context.Context, host, body string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO motd (host, body) VALUES ($1, $2)
			ON CONFLICT (host) DO UPDATE SET body = $2, set_at = now()`, host, body); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM motd_seen WHERE domain = $1`, host)
		return err
	})
	if err != nil {
		return fmt.Errorf("set the message of the day of %s: %w", host, err)
	}
	return nil
}

// Delete removes host's message.
func (s *MOTD) Delete(ctx context.Context, host string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM motd WHERE host = $1`, host); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM motd_seen WHERE domain = $1`, host)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete the message of the day of %s: %w", host, err)
	}
	return nil
}

// Deliver records that account got its host's current message, and
// reports whether it had not before.
func (s *MOTD) Deliver(ctx context.Context, account jid.JID) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO motd_seen (domain, username) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		account.Domainpart(), account.Localpart())
	if err != nil {
		return false, fmt.Errorf("record the message of the day for %s: %w", account, err)
	}
	return tag.RowsAffected() == 1, nil
}
