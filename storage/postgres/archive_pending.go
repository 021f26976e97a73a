package postgres

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pendingMerger merges the pending list of the archive's text index into
// the index on a connection of its own, so that the INSERTs of messages
// do not have to.
//
// The index takes new words into its pending list (GIN fastupdate), and
// an INSERT that finds the list over gin_pending_list_limit merges it
// before it returns (migrations 0012 and 0024). Batches commit in order, so every
// message archived after that INSERT waits for the merge too. Merged
// here every mergeEvery rows, the list stays below the limit; an INSERT
// that still finds it over the limit while a merge runs here leaves the
// merging to it (PostgreSQL waits for a running merge only when asked
// by gin_clean_pending_list or VACUUM).
type pendingMerger struct {
	pool  *pgxpool.Pool
	index string
	every int64 // rows between merges
	log   *slog.Logger

	rows    atomic.Int64 // rows inserted since the last merge began
	running atomic.Bool  // a merge is under way
	off     atomic.Bool  // merging is not allowed: INSERTs merge, as before
}

// mergeEvery is how many archived rows with words the archive's text
// index takes before its pending list is merged. A thousand rows of a
// chat message's words fill 17 of the list's 8 kB pages, so 4,000 stay
// well under the 1 MB limit of migration 0024; rows of far longer
// messages may fill it before, and their INSERTs then merge as before.
const mergeEvery = 4000

// mergeTimeout bounds one merge.
const mergeTimeout = time.Minute

func newPendingMerger(pool *pgxpool.Pool, index string, every int64, log *slog.Logger) *pendingMerger {
	return &pendingMerger{pool: pool, index: index, every: every, log: log}
}

// inserted counts n rows with words written to the index, and starts a
// merge once mergeEvery have been since the last one began, unless one
// is under way.
func (m *pendingMerger) inserted(n int) {
	if m == nil || n == 0 || m.off.Load() {
		return
	}
	if m.rows.Add(int64(n)) < m.every || !m.running.CompareAndSwap(false, true) {
		return
	}
	m.rows.Store(0)
	go m.merge()
}

// merge merges the pending list once. Without ownership of the index
// gin_clean_pending_list always fails: merging is then turned off, and
// the INSERTs merge as they did before.
func (m *pendingMerger) merge() {
	defer m.running.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), mergeTimeout)
	defer cancel()
	_, err := m.pool.Exec(ctx, `SELECT gin_clean_pending_list($1::regclass)`, m.index)
	if err == nil {
		return
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == insufficientPrivilege {
		m.off.Store(true)
		m.log.Warn("archive: cannot merge the text index's pending list; the inserts merge it from now on",
			"index", m.index, "err", err)
		return
	}
	m.log.Warn("archive: merge the text index's pending list", "index", m.index, "err", err)
}

// insufficientPrivilege is PostgreSQL's SQLSTATE for a statement the
// role may not run.
const insufficientPrivilege = "42501"
