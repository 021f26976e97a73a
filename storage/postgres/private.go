package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"mellium.im/xmpp/jid"

	"xmppd/private"
	"xmppd/storage"
)

// Private stores the private XML of accounts (table private_storage), one
// opaque value per account and namespace.
type Private struct {
	pool *pgxpool.Pool
}

// NewPrivate returns the private XML store using pool.
func NewPrivate(pool *pgxpool.Pool) *Private {
	return &Private{pool: pool}
}

// Private is the store of package private.
var _ private.Store = (*Private)(nil)

// Get returns what is stored for username@domain under namespace; an error
// wrapping storage.ErrNotFound when nothing is.
func (p *Private) Get(ctx context.Context, domain, username, namespace string) ([]byte, error) {
	var data []byte
	err := p.pool.QueryRow(ctx, `SELECT data FROM private_storage WHERE domain = $1 AND username = $2 AND namespace = $3`,
		domain, username, namespace).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load private data %s of %s@%s: %w", namespace, username, domain, err)
	}
	return data, nil
}

// Set stores data under namespace for username@domain, replacing what was
// there, unless the account's data in all namespaces would then take more
// than limit bytes: that is an error wrapping private.ErrTooLarge and
// nothing changes. An unknown account is an error wrapping
// storage.ErrNotFound.
func (p *Private) Set(ctx context.Context, domain, username, namespace string, data []byte, limit int) error {
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		// Locking the account row makes the sets of one account take turns,
		// so two of them cannot both pass the limit check. NO KEY UPDATE
		// does not block the foreign key checks of other tables' inserts.
		// The sum is a statement of its own: in READ COMMITTED a new
		// statement sees what the set before this one committed, while a
		// subquery of the locking statement would not.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE domain = $1 AND username = $2 FOR NO KEY UPDATE`,
			domain, username).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		var others int64
		err = tx.QueryRow(ctx, `SELECT coalesce(sum(octet_length(data)), 0) FROM private_storage
			WHERE domain = $1 AND username = $2 AND namespace <> $3`, domain, username, namespace).Scan(&others)
		if err != nil {
			return err
		}
		if others+int64(len(data)) > int64(limit) {
			return fmt.Errorf("%w: %d bytes in other namespaces and %d new, limit %d", private.ErrTooLarge, others, len(data), limit)
		}
		_, err = tx.Exec(ctx, `INSERT INTO private_storage (domain, username, namespace, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT (domain, username, namespace) DO UPDATE SET data = excluded.data, updated_at = now()`,
			domain, username, namespace, data)
		return err
	})
	if err != nil {
		return fmt.Errorf("store private data %s of %s@%s: %w", namespace, username, domain, err)
	}
	return nil
}

// Delete removes what is stored for username@domain under namespace, if
// anything is.
func (p *Private) Delete(ctx context.Context, domain, username, namespace string) error {
	_, err := p.pool.Exec(ctx, `DELETE FROM private_storage WHERE domain = $1 AND username = $2 AND namespace = $3`,
		domain, username, namespace)
	if err != nil {
		return fmt.Errorf("delete private data %s of %s@%s: %w", namespace, username, domain, err)
	}
	return nil
}

// Accounts returns the accounts with data under namespace.
func (p *Private) Accounts(ctx context.Context, namespace string) ([]jid.JID, error) {
	accounts, err := collect(ctx, p.pool, `SELECT domain, username FROM private_storage WHERE namespace = $1 ORDER BY domain, username`,
		[]any{namespace}, rowToAccount)
	if err != nil {
		return nil, fmt.Errorf("list accounts with private data %s: %w", namespace, err)
	}
	return accounts, nil
}

// All returns everything stored for username@domain, one document per
// namespace, in namespace order: for exports.
func (p *Private) All(ctx context.Context, domain, username string) ([][]byte, error) {
	data, err := collect(ctx, p.pool, `SELECT data FROM private_storage WHERE domain = $1 AND username = $2 ORDER BY namespace`,
		[]any{domain, username}, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("load private data of %s@%s: %w", username, domain, err)
	}
	return data, nil
}

// rowToAccount reads a row of domain and username as the account's bare
// JID.
func rowToAccount(row pgx.CollectableRow) (jid.JID, error) {
	var domain, username string
	if err := row.Scan(&domain, &username); err != nil {
		return jid.JID{}, err
	}
	return jid.New(username, domain, "")
}
