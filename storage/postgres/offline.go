package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"

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

// Add appends stanza to the messages of username@domain, with the id
// archiveID it has in the account's archive (0: none), unless the account
// holds max messages already (offline.ErrFull). Claimed messages do not
// count: they are on their way to a session, and when it ends before they
// are safe they come back through Add while still stored. It is one
// statement, so it returns after its commit. The count and the insert are
// not serialised against concurrent Adds: they may overshoot max by their
// number.
func (o *Offline) Add(ctx context.Context, domain, username string, stanza []byte, archiveID int64, max int) error {
	tag, err := o.pool.Exec(ctx, `INSERT INTO offline_messages (domain, username, stanza, archive_id)
		SELECT $1, $2, $3, nullif($5::bigint, 0)
		WHERE (SELECT count(*) FROM offline_messages
			WHERE domain = $1 AND username = $2 AND claimer IS NULL) < $4`,
		domain, username, stanza, max, archiveID)
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

// Claim marks up to limit of the oldest messages of username@domain that
// claimer does not hold already as held by claimer, and returns them in id
// order. Rows another transaction is claiming are skipped (FOR UPDATE SKIP
// LOCKED). An account without messages, the common case at login, costs
// one cheap read instead of the update.
func (o *Offline) Claim(ctx context.Context, domain, username, claimer string, limit int) ([]offline.Message, error) {
	var waiting bool
	if err := o.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM offline_messages WHERE domain = $1 AND username = $2)`,
		domain, username).Scan(&waiting); err != nil {
		return nil, fmt.Errorf("look for offline messages of %s@%s: %w", username, domain, err)
	}
	if !waiting {
		return nil, nil
	}
	rows, err := o.pool.Query(ctx, `UPDATE offline_messages SET claimer = $3
		WHERE id IN (SELECT id FROM offline_messages
			WHERE domain = $1 AND username = $2 AND claimer IS DISTINCT FROM $3
			ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING id, stanza, stamp`, domain, username, claimer, limit)
	if err != nil {
		return nil, fmt.Errorf("claim offline messages of %s@%s: %w", username, domain, err)
	}
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (offline.Message, error) {
		var m offline.Message
		err := row.Scan(&m.ID, &m.Stanza, &m.Stamp)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim offline messages of %s@%s: %w", username, domain, err)
	}
	// RETURNING keeps no order.
	slices.SortFunc(msgs, func(a, b offline.Message) int { return cmp.Compare(a.ID, b.ID) })
	return msgs, nil
}

// Unclaim gives up the claim on the messages ids of username@domain, so
// that the next delivery to the account takes them again.
func (o *Offline) Unclaim(ctx context.Context, domain, username string, ids []int64) error {
	if _, err := o.pool.Exec(ctx, `UPDATE offline_messages SET claimer = NULL
		WHERE domain = $1 AND username = $2 AND id = ANY($3)`, domain, username, ids); err != nil {
		return fmt.Errorf("unclaim offline messages of %s@%s: %w", username, domain, err)
	}
	return nil
}

// Delete removes the messages ids of username@domain.
func (o *Offline) Delete(ctx context.Context, domain, username string, ids []int64) error {
	if _, err := o.pool.Exec(ctx, `DELETE FROM offline_messages
		WHERE domain = $1 AND username = $2 AND id = ANY($3)`, domain, username, ids); err != nil {
		return fmt.Errorf("delete offline messages of %s@%s: %w", username, domain, err)
	}
	return nil
}

// DeleteArchived removes the messages of username@domain whose archive id
// is still in the account's archive (archive_messages), except those
// claimer holds, which are on their way to a session, and those another
// transaction is claiming (SKIP LOCKED). It is one statement, which
// sees only committed archive rows and holds them (FOR KEY SHARE) until
// it ends: an archive row that retention or the account's removal is
// deleting meanwhile keeps its offline message.
func (o *Offline) DeleteArchived(ctx context.Context, domain, username, claimer string) (int64, error) {
	tag, err := o.pool.Exec(ctx, `DELETE FROM offline_messages WHERE id IN (
		SELECT o.id FROM offline_messages o
		JOIN archive_messages a ON a.domain = o.domain AND a.username = o.username AND a.id = o.archive_id
		WHERE o.domain = $1 AND o.username = $2 AND o.claimer IS DISTINCT FROM $3
		FOR UPDATE OF o SKIP LOCKED FOR KEY SHARE OF a)`, domain, username, claimer)
	if err != nil {
		return 0, fmt.Errorf("delete archived offline messages of %s@%s: %w", username, domain, err)
	}
	return tag.RowsAffected(), nil
}

// All returns the messages stored for username@domain, oldest first,
// claimed or not, without claiming them: for exports.
func (o *Offline) All(ctx context.Context, domain, username string) ([]offline.Message, error) {
	msgs, err := collect(ctx, o.pool, `SELECT id, stanza, stamp FROM offline_messages WHERE domain = $1 AND username = $2 ORDER BY id`,
		[]any{domain, username}, func(row pgx.CollectableRow) (offline.Message, error) {
			var m offline.Message
			err := row.Scan(&m.ID, &m.Stanza, &m.Stamp)
			return m, err
		})
	if err != nil {
		return nil, fmt.Errorf("load offline messages of %s@%s: %w", username, domain, err)
	}
	return msgs, nil
}
