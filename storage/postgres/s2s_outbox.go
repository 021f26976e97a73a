package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/s2s"
)

// Outbox keeps the messages waiting for other servers (table s2s_outbox).
type Outbox struct {
	pool *pgxpool.Pool
}

// NewOutbox returns the store of messages for other servers using pool.
func NewOutbox(pool *pgxpool.Pool) *Outbox {
	return &Outbox{pool: pool}
}

// Outbox is the store of package s2s.
var _ s2s.Outbox = (*Outbox)(nil)

// Add keeps stanza, from the local domain to the remote one, for
// claimer, and returns its id once committed.
func (o *Outbox) Add(ctx context.Context, claimer, local, remote string, stanza []byte) (int64, error) {
	var id int64
	if err := o.pool.QueryRow(ctx, `INSERT INTO s2s_outbox (local, remote, stanza, claimer)
		VALUES ($1, $2, $3, $4) RETURNING id`, local, remote, stanza, claimer).Scan(&id); err != nil {
		return 0, fmt.Errorf("keep a message from %s to %s: %w", local, remote, err)
	}
	return id, nil
}

// Remove deletes the messages ids. It does not wait for the commit to
// reach the disk: a removal lost in a crash only has a message sent
// twice.
func (o *Outbox) Remove(ctx context.Context, ids []int64) error {
	err := pgx.BeginFunc(ctx, o.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM s2s_outbox WHERE id = ANY($1)`, ids)
		return err
	})
	if err != nil {
		return fmt.Errorf("remove %d sent messages from the s2s outbox: %w", len(ids), err)
	}
	return nil
}

// Claim makes claimer the holder of the messages whose claimer is none
// of live and that were kept at least olderThan ago (by the database's
// clock), and returns them in id order.
func (o *Outbox) Claim(ctx context.Context, claimer string, live []string, olderThan time.Duration) ([]s2s.Kept, error) {
	rows, err := o.pool.Query(ctx, `UPDATE s2s_outbox SET claimer = $1
		WHERE claimer <> ALL($2) AND stamp <= now() - make_interval(secs => $3)
		RETURNING id, local, remote, stanza`, claimer, live, olderThan.Seconds())
	if err != nil {
		return nil, fmt.Errorf("claim the messages other processes left in the s2s outbox: %w", err)
	}
	kept, err := pgx.CollectRows(rows, pgx.RowToStructByPos[s2s.Kept])
	if err != nil {
		return nil, fmt.Errorf("claim the messages other processes left in the s2s outbox: %w", err)
	}
	// RETURNING keeps no order.
	slices.SortFunc(kept, func(a, b s2s.Kept) int { return cmp.Compare(a.ID, b.ID) })
	return kept, nil
}
