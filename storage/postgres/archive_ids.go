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
	return collect(ctx, q, nextIDsSQL, []any{table, n}, pgx.RowTo[int64])
}

const nextIDsSQL = `WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence($1, 'id')::regclass AS seq)
	SELECT nextval(s.seq) FROM s, generate_series(1, $2) ORDER BY 1`

// heldIdleLimit is how long a transaction holding the id order lock may
// idle (reserveInOrder). A writer's transaction idles only while its
// commit is on its way, which takes milliseconds.
const heldIdleLimit = 5 * time.Second

// orderLockSQL takes the id order lock of table $1 until the
// transaction ends, which PostgreSQL ends itself once it has idled $2
// milliseconds.
const orderLockSQL = `SELECT set_config('idle_in_transaction_session_timeout', $2, true),
	pg_advisory_xact_lock(hashtextextended('xmppd id order ' || $1, 0))`

// latestStampSQL reads the archive's latest stamp: one probe of the
// stamp index.
var latestStampSQL = `SELECT max(stamp) FROM archive_messages WHERE ` + placedRows

// reserveInOrder reserves n archive ids in tx, after every other
// transaction that did so has ended: it holds an advisory lock until tx
// ends. So ids become visible in the order they were drawn, across every
// process that writes the archive, and a reader paging forward from an
// id never passes over one committed later (see mam.Store.Insert). It
// returns them with stamp, or with the latest stamp of the archive if
// that is later: a node whose clock is behind another's must not stamp a
// later id earlier, or a date would no longer be an id range
// (firstIDFrom). The lock, the ids and the stamp take one round trip.
//
// Every writer waits for the lock's holder, so a holder that stops
// talking (a node frozen, or cut off from the database without its
// connection closing) must not hold it for long: PostgreSQL ends a
// transaction that has idled heldIdleLimit, rolling it back and freeing
// the lock, and its writer's commit fails.
func reserveInOrder(ctx context.Context, tx pgx.Tx, n int, stamp time.Time) ([]int64, time.Time, error) {
	const table = "archive_messages"
	var b pgx.Batch
	b.Queue(orderLockSQL, table, strconv.FormatInt(heldIdleLimit.Milliseconds(), 10))
	b.Queue(nextIDsSQL, table, n)
	b.Queue(latestStampSQL)
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, stamp, fmt.Errorf("wait for earlier writers of the archive: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, stamp, fmt.Errorf("reserve %d archive ids: %w", n, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, stamp, fmt.Errorf("reserve %d archive ids: %w", n, err)
	}
	var last *time.Time
	if err := br.QueryRow().Scan(&last); err != nil {
		return nil, stamp, fmt.Errorf("read the archive's latest stamp: %w", err)
	}
	if last != nil && last.After(stamp) {
		stamp = *last
	}
	return ids, stamp, br.Close()
}
