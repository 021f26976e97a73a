package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// nextIDs reserves n ids of table's id sequence, in increasing order:
// the writers of personal and room archives give messages their ids
// before they insert them (mam/writer.go, muc/writer.go). The sequence
// is looked up once per call, not once per id.
func nextIDs(ctx context.Context, pool *pgxpool.Pool, table string, n int) ([]int64, error) {
	return collect(ctx, pool, `WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence($1, 'id')::regclass AS seq)
		SELECT nextval(s.seq) FROM s, generate_series(1, $2) ORDER BY 1`,
		[]any{table, n}, pgx.RowTo[int64])
}
