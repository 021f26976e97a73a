// Package storage holds what every store shares: the not-found sentinel, the
// connection pool and schema migrations.
//
// Everything durable lives in PostgreSQL. The schema is described by the
// forward-only SQL migrations embedded from migrations/NNNN_name.sql; Open
// applies the pending ones and refuses a database whose schema is newer than
// this binary knows. All tables are created unqualified, in the first schema
// of the connection's search_path, so one database can hold several
// independent schemas (the tests use one per test).
package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned, wrapped, when the thing asked for does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned, wrapped, when creating something that already exists.
var ErrExists = errors.New("already exists")

// DefaultMaxConns is the size of the connection pool unless the database
// URL sets pool_max_conns.
const DefaultMaxConns = 20

// Open connects to the PostgreSQL database at url, applies the pending
// migrations and returns the pool. It refuses, with an error naming both
// versions, a database whose schema is newer than this binary knows.
//
// url is a pgx connection string, either a URL
// (postgres://user@host/db?search_path=s) or key=value pairs; parameters pgx
// does not know, such as search_path, are sent to the server as run-time
// parameters.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default, max(4, CPUs), is too few for a server whose
		// archive writer alone keeps up to three transactions open.
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	if _, _, err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	return pool, nil
}
