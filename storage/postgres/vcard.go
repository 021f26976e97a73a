package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/storage"
	"xmppd/vcard"
)

// VCards stores one vCard per account (table vcards) as the serialised
// XML it is given.
type VCards struct {
	pool *pgxpool.Pool
}

// NewVCards returns the vCard store using pool.
func NewVCards(pool *pgxpool.Pool) *VCards {
	return &VCards{pool: pool}
}

// VCards is the store of package vcard.
var _ vcard.Store = (*VCards)(nil)

// Get returns the vCard of username@domain; an error wrapping
// storage.ErrNotFound when none is stored.
func (v *VCards) Get(ctx context.Context, domain, username string) ([]byte, error) {
	var data []byte
	err := v.pool.QueryRow(ctx, `SELECT vcard FROM vcards WHERE domain = $1 AND username = $2`, domain, username).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load vCard of %s@%s: %w", username, domain, err)
	}
	return data, nil
}

// PhotoHash returns the photo hash stored with the vCard of
// username@domain; known is false when there is no vCard or it was stored
// without a hash.
func (v *VCards) PhotoHash(ctx context.Context, domain, username string) (hash string, known bool, err error) {
	var h *string
	err = v.pool.QueryRow(ctx, `SELECT photo_hash FROM vcards WHERE domain = $1 AND username = $2`, domain, username).Scan(&h)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("load vCard photo hash of %s@%s: %w", username, domain, err)
	case h == nil:
		return "", false, nil
	}
	return *h, true, nil
}

// Set stores data as the vCard of username@domain, with its photo hash,
// replacing any. An unknown account is an error wrapping
// storage.ErrNotFound.
func (v *VCards) Set(ctx context.Context, domain, username string, data []byte, photoHash string) error {
	_, err := v.pool.Exec(ctx, `INSERT INTO vcards (domain, username, vcard, photo_hash) VALUES ($1, $2, $3, $4)
		ON CONFLICT (domain, username) DO UPDATE SET vcard = excluded.vcard, photo_hash = excluded.photo_hash, updated_at = now()`,
		domain, username, data, photoHash)
	if isForeignKeyViolation(err) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store vCard of %s@%s: %w", username, domain, err)
	}
	return nil
}

// isForeignKeyViolation reports whether err is PostgreSQL's
// foreign_key_violation: here, a row for an account that does not exist.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
