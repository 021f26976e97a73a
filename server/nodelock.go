package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Servers that share a database must be nodes of one cluster: a server
// that is not clustered believes it owns every session, and draws
// archive ids without the order lock clustered writers take
// (storage/postgres/archive_ids.go). So each server holds the node lock,
// a session-level advisory lock of its database schema, for as long as
// it runs: exclusively when it is not clustered, shared when it is a
// cluster node. A second server that is not clustered, or a cluster node
// beside a server that is not, then fails to start.
//
// The lock is held on the connection that listens for `xmppd user
// delete` (delete.go), which the server keeps open anyway and which
// notices at once when it drops. When it drops, PostgreSQL frees the
// lock; the listener connects again and takes it again, first ending
// the session it lost if PostgreSQL has not noticed yet. If another
// server took the lock meanwhile, this one cannot know which of them
// the database's data belong to, and stops (Displaced).

// nodeLockWait bounds the wait for the node lock: long enough for the
// session of a server that was just killed to end, short enough to
// tell the operator soon.
const nodeLockWait = 5 * time.Second

// nodeLockSQL takes the exclusive node lock of the current schema;
// nodeLockSharedSQL takes it shared. They wait at most the
// connection's lock_timeout.
const (
	nodeLockSQL       = `SELECT pg_advisory_lock(hashtext('xmppd node'), hashtext(current_schema()))`
	nodeLockSharedSQL = `SELECT pg_advisory_lock_shared(hashtext('xmppd node'), hashtext(current_schema()))`
)

// lockNotAvailable is PostgreSQL's error code for a lock wait that ran
// past lock_timeout.
const lockNotAvailable = "55P03"

// errDisplaced marks the error of a node lock that another server holds.
var errDisplaced = errors.New("the database is in use by another xmppd")

// nodeSession identifies the database session holding the node lock, so
// that a reconnection can end it if PostgreSQL has not noticed its loss.
type nodeSession struct {
	pid   uint32
	start time.Time
}

// takeNodeLock takes the node lock on conn, shared when clustered, after
// ending the session previous if it still runs (nil: none), and returns
// conn's session.
func takeNodeLock(ctx context.Context, conn *pgx.Conn, clustered bool, previous *nodeSession) (*nodeSession, error) {
	if previous != nil {
		// Our own lost session: its holder is gone, its lock is not.
		if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE pid = $1 AND backend_start = $2`, previous.pid, previous.start); err != nil {
			return nil, fmt.Errorf("ending this server's lost database session: %w", err)
		}
	}
	lock := nodeLockSQL
	if clustered {
		lock = nodeLockSharedSQL
	}
	if _, err := conn.Exec(ctx, lock); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == lockNotAvailable {
			return nil, displacedError(clustered)
		}
		return nil, fmt.Errorf("taking the node lock: %w", err)
	}
	var held nodeSession
	if err := conn.QueryRow(ctx, `SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()`).
		Scan(&held.pid, &held.start); err != nil {
		return nil, fmt.Errorf("reading the node lock's session: %w", err)
	}
	return &held, nil
}

// displacedError says why the node lock is held by another, and what to
// do about it.
func displacedError(clustered bool) error {
	if clustered {
		return fmt.Errorf("%w, which is not a cluster node: servers sharing a database must all be nodes of one cluster; set cluster.nats in the other server too and restart it, or give this node another database (database.url)", errDisplaced)
	}
	return fmt.Errorf("%w: servers sharing a database must be nodes of one cluster; set cluster.nats in each of them, or give this server another database (database.url)", errDisplaced)
}
