package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"mellium.im/xmpp/jid"

	"xmppd/blocking"
	"xmppd/storage"
)

// Blocking stores blocklists (XEP-0191) in the table blocklist: one row per
// blocked JID of an account, in its canonical string form. Rows go with
// their account.
type Blocking struct {
	pool *pgxpool.Pool
}

// NewBlocking returns the blocklist store using pool.
func NewBlocking(pool *pgxpool.Pool) *Blocking { return &Blocking{pool: pool} }

// Blocking is the store of package blocking.
var _ blocking.Store = (*Blocking)(nil)

// List returns the JIDs account has blocked, sorted by their string form;
// an unknown account has none.
func (b *Blocking) List(ctx context.Context, account jid.JID) ([]jid.JID, error) {
	rows, err := b.pool.Query(ctx, `SELECT jid FROM blocklist WHERE domain = $1 AND username = $2 ORDER BY jid`,
		account.Domainpart(), account.Localpart())
	if err != nil {
		return nil, fmt.Errorf("blocklist of %s: %w", account, err)
	}
	items, err := collectJIDs(rows)
	if err != nil {
		return nil, fmt.Errorf("blocklist of %s: %w", account, err)
	}
	return items, nil
}

// Block adds items to the blocklist of account and returns those that were
// not in it yet. An unknown account is an error wrapping
// storage.ErrNotFound.
func (b *Blocking) Block(ctx context.Context, account jid.JID, items []jid.JID) ([]jid.JID, error) {
	rows, err := b.pool.Query(ctx, `INSERT INTO blocklist (domain, username, jid)
		SELECT $1, $2, j FROM unnest($3::text[]) AS j
		ON CONFLICT DO NOTHING
		RETURNING jid`, account.Domainpart(), account.Localpart(), jidStrings(items))
	if err != nil {
		return nil, fmt.Errorf("block for %s: %w", account, err)
	}
	added, err := collectJIDs(rows)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
		err = storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("block for %s: %w", account, err)
	}
	return added, nil
}

// Unblock removes items from the blocklist of account and returns those
// that were in it.
func (b *Blocking) Unblock(ctx context.Context, account jid.JID, items []jid.JID) ([]jid.JID, error) {
	rows, err := b.pool.Query(ctx, `DELETE FROM blocklist WHERE domain = $1 AND username = $2 AND jid = ANY($3::text[]) RETURNING jid`,
		account.Domainpart(), account.Localpart(), jidStrings(items))
	if err != nil {
		return nil, fmt.Errorf("unblock for %s: %w", account, err)
	}
	removed, err := collectJIDs(rows)
	if err != nil {
		return nil, fmt.Errorf("unblock for %s: %w", account, err)
	}
	return removed, nil
}

// UnblockAll empties the blocklist of account and returns what it held.
func (b *Blocking) UnblockAll(ctx context.Context, account jid.JID) ([]jid.JID, error) {
	rows, err := b.pool.Query(ctx, `DELETE FROM blocklist WHERE domain = $1 AND username = $2 RETURNING jid`,
		account.Domainpart(), account.Localpart())
	if err != nil {
		return nil, fmt.Errorf("unblock all for %s: %w", account, err)
	}
	removed, err := collectJIDs(rows)
	if err != nil {
		return nil, fmt.Errorf("unblock all for %s: %w", account, err)
	}
	return removed, nil
}

func jidStrings(items []jid.JID) []string {
	s := make([]string, len(items))
	for i, j := range items {
		s[i] = j.String()
	}
	return s
}

// collectJIDs reads one JID per row.
func collectJIDs(rows pgx.Rows) ([]jid.JID, error) {
	strs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	items := make([]jid.JID, 0, len(strs))
	for _, s := range strs {
		j, err := jid.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("stored JID %q: %w", s, err)
		}
		items = append(items, j)
	}
	return items, nil
}
