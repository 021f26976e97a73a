package storage

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The migrations, one file per change, named NNNN_name.sql and numbered from
// 0001 without gaps. They are forward-only: a released file is never edited,
// a later one changes what it did. Each runs in its own transaction.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLockClass is the first key of the advisory lock taken while
// migrating ("xmpp" in ASCII); the second is a hash of the schema name, so
// schemas migrate independently of each other.
const migrateLockClass = 0x786d7070

type migration struct {
	version int
	name    string
	sql     string
}

var loadMigrations = sync.OnceValues(func() ([]migration, error) {
	return parseMigrations(migrationFiles, "migrations")
})

// parseMigrations reads the NNNN_name.sql files of dir in fsys and checks
// that they are numbered 1, 2, 3... without gaps or duplicates.
func parseMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir) // sorted by file name
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", name)
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", name, len(ms)+1)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(b)})
	}
	return ms, nil
}

// LatestVersion returns the schema version this binary migrates to: the
// number of the last embedded migration.
func LatestVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		panic("storage: embedded migrations are broken: " + err.Error())
	}
	return len(ms)
}

// SchemaVersion returns the schema version of the database behind pool, in
// the first schema of its search_path: 0 for an empty schema.
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// Migrate applies the pending migrations to the first schema of the pool's
// search_path and returns the schema versions before and after. It holds a
// PostgreSQL advisory lock for that schema while it works, so several nodes
// starting at once migrate one after the other. A schema newer than this
// binary knows is an error naming both versions, and nothing is changed.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (from, to int, err error) {
	ms, err := loadMigrations()
	if err != nil {
		return 0, 0, fmt.Errorf("migrate: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()

	var schema *string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return 0, 0, fmt.Errorf("migrate: %w", err)
	}
	if schema == nil {
		return 0, 0, errors.New("migrate: no schema of the search_path exists")
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, migrateLockClass, *schema); err != nil {
		return 0, 0, fmt.Errorf("migrate: lock schema %s: %w", *schema, err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1, hashtext($2))`, migrateLockClass, *schema); err != nil {
			// Closing the session is the other way to drop the lock; the
			// pool then discards the connection.
			conn.Conn().Close(uctx)
		}
	}()

	_, err = conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`)
	if err != nil {
		return 0, 0, fmt.Errorf("migrate: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&from); err != nil {
		return 0, 0, fmt.Errorf("migrate: %w", err)
	}
	if from > len(ms) {
		return from, from, fmt.Errorf("migrate: database schema %s is at version %d, newer than version %d that this xmppd knows: upgrade xmppd", *schema, from, len(ms))
	}
	to = from
	for _, m := range ms[from:] {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return from, to, fmt.Errorf("migrate to %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			tx.Rollback(ctx)
			return from, to, fmt.Errorf("migrate to %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			tx.Rollback(ctx)
			return from, to, fmt.Errorf("migrate to %s: %w", m.name, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return from, to, fmt.Errorf("migrate to %s: %w", m.name, err)
		}
		to = m.version
	}
	return from, to, nil
}
