package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// NewArchiveWalking returns an archive store whose searches always walk
// the archive first (see queryPage), for comparing both ways of answering.
func NewArchiveWalking(pool *pgxpool.Pool) *Archive { return &Archive{pool: pool, walkFrom: -1} }
