package postgres

import (
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
)

// NewArchiveWalking returns an archive store whose searches always walk
// the archive first (see queryPage), for comparing both ways of answering.
func NewArchiveWalking(pool *pgxpool.Pool) *Archive { return &Archive{pool: pool, walkFrom: -1} }

// OwnerTag is ownerTag, for tests that write a row's terms themselves.
func OwnerTag(domain, username string) string { return ownerTag(domain, username) }

// RoomTag is roomTag, for tests that write a row's terms themselves.
func RoomTag(service, name string) string { return roomTag(service, name) }

// MergeTextEvery is MergeTextAside with a merge every n rows.
func (a *Archive) MergeTextEvery(n int64, log *slog.Logger) {
	a.merger = newPendingMerger(a.pool, "archive_messages_text", n, log)
}

// MergingText reports whether a merge of the text index's pending list
// is under way.
func (a *Archive) MergingText() bool { return a.merger.running.Load() }
