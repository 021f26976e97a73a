package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/offline"
	"xmppd/storage"
)

// Offline stores offline messages (table offline_messages), each as the
// serialised stanza it is given with the time it was stored.
type Offline struct {
	pool *pgxpool.Pool
}

// NewOffline returns the offline message store using pool.
func NewOffline(pool *pgxpool.Pool) *Offline {
	return &Offline{pool: pool}
}

// Offline is the store of package offline.
var _ offline.Store = (*Offline)(nil)

// Add appends stanza to the messages of username@domain, unless the account
// holds max messages already (offline.ErrFull). It is one statement, so it
// returns after its commit. The count and the insert are not serialised
// against concurrent Adds: they may overshoot max by their number.
func (o *Offline) Add(ctx context.Context, domain, username string, stanza []byte, max int) error {
	tag, err := o.pool.Exec(ctx, `INSERT INTO offline_messages (domain, username, stanza)
		SELECT $1, $2, $3
		WHERE (SELECT count(*) FROM offline_messages WHERE domain = $1 AND username = $2) < $4`,
		domain, username, stanza, max)
	if isForeignKeyViolation(err) {
		err = storage.ErrNotFound
	} else if err == nil && tag.RowsAffected() == 0 {
		err = offline.ErrFull
	}
	if err != nil {
		return fmt.Errorf("store offline message for %s@%s: %w", username, domain, err)
	}
	return nil
}

// Take locks up to limit of the oldest messages of username@domain that no
// other transaction holds (FOR UPDATE SKIP LOCKED), passes them to deliver
// in id order and deletes them in the same transaction when deliver took
// all of them. A refusal or a failure rolls back, leaving them stored.
// An account without messages, the common case at login, costs one
// statement instead of a transaction's three.
func (o *Offline) Take(ctx context.Context, domain, username string, limit int, deliver func(offline.Message) bool) (int, error) {
	var waiting bool
	if err := o.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM offline_messages WHERE domain = $1 AND username = $2)`,
		domain, username).Scan(&waiting); err != nil {
		return 0, fmt.Errorf("look for offline messages of %s@%s: %w", username, domain, err)
	}
	if !waiting {
		return 0, nil
	}
	n := 0
	err := pgx.BeginFunc(ctx, o.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, stanza, stamp FROM offline_messages
			WHERE domain = $1 AND username = $2
			ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`, domain, username, limit)
		if err != nil {
			return err
		}
		msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (offline.Message, error) {
			var m offline.Message
			err := row.Scan(&m.ID, &m.Stanza, &m.Stamp)
			return m, err
		})
		if err != nil || len(msgs) == 0 {
			return err
		}
		ids := make([]int64, len(msgs))
		for i, m := range msgs {
			if !deliver(m) {
				return offline.ErrRefused
			}
			ids[i] = m.ID
		}
		if _, err := tx.Exec(ctx, `DELETE FROM offline_messages WHERE id = ANY($1)`, ids); err != nil {
			return err
		}
		n = len(msgs)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("take offline messages of %s@%s: %w", username, domain, err)
	}
	return n, nil
}
