package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// nextIDs reserves n ids of table's id sequence, in increasing order:
// the writers of personal and room archives give messages their ids
// before they insert them (mam/writer.go, muc/writer.go). The sequence
// is looked up once per call, not once per id.
func nextIDs(ctx context.Context, q querier, table string, n int) ([]int64, error) {
	return collect(ctx, q, `WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence($1, 'id')::regclass AS seq)
		SELECT nextval(s.seq) FROM s, generate_series(1, $2) ORDER BY 1`,
		[]any{table, n}, pgx.RowTo[int64])
}

// heldIdleLimit is how long a transaction holding the id order lock may
// idle (nextIDsInOrder). A writer's transaction idles only while its
// commit is on its way, which takes milliseconds.
const heldIdleLimit = 5 * time.Second

// nextIDsInOrder reserves n ids of table's id sequence in tx, after
// every other transaction that did so for table has ended: it holds an
// advisory lock on table until tx ends. So ids become visible in the
// order they were drawn, across every process that writes table, and a
// reader paging forward from an id never passes over one committed
// later (see mam.Store.Insert).
//
// Every writer waits for the lock's holder, so a holder that stops
// talking (a node frozen, or cut off from the database without its
// connection closing) must not hold it for long: PostgreSQL ends a
// transaction that has idled heldIdleLimit, rolling it back and freeing
// the lock, and its writer's commit fails.
func nextIDsInOrder(ctx context.Context, tx pgx.Tx, table string, n int) ([]int64, error) {
	if _, err := tx.Exec(ctx, `SELECT set_config('idle_in_transaction_session_timeout', $2, true),
		pg_advisory_xact_lock(hashtextextended('xmppd id order ' || $1, 0))`, table, strconv.FormatInt(heldIdleLimit.Milliseconds(), 10)); err != nil {
		return nil, fmt.Errorf("wait for earlier writers of %s: %w", table, err)
	}
	return nextIDs(ctx, tx, table, n)
}
