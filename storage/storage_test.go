package storage_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/storage"
	"xmppd/storage/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestMigrateEmptySchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := connect(t, pgtest.URL(t))
	if v, err := storage.SchemaVersion(ctx, pool); err != nil || v != 0 {
		t.Fatalf("SchemaVersion of an empty schema = %d, %v; want 0", v, err)
	}
	from, to, err := storage.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if from != 0 || to != storage.LatestVersion() || to < 1 {
		t.Errorf("Migrate = %d, %d; want 0, %d", from, to, storage.LatestVersion())
	}
	if v, err := storage.SchemaVersion(ctx, pool); err != nil || v != to {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, to)
	}
	// The tables are in the test's schema, not in public.
	var n int
	err = pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()
		AND tablename IN ('schema_version', 'accounts', 'account_credentials')`).Scan(&n)
	if err != nil || n != 3 {
		t.Errorf("tables in the current schema: %d, %v; want 3", n, err)
	}

	// Again: nothing to do.
	from, to, err = storage.Migrate(ctx, pool)
	if err != nil || from != storage.LatestVersion() || to != from {
		t.Errorf("second Migrate = %d, %d, %v; want %d, %d, nil", from, to, err, storage.LatestVersion(), storage.LatestVersion())
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM schema_version`).Scan(&rows); err != nil || rows != storage.LatestVersion() {
		t.Errorf("schema_version has %d rows, %v; want %d", rows, err, storage.LatestVersion())
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	for range 2 {
		pool, err := storage.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		v, err := storage.SchemaVersion(ctx, pool)
		pool.Close()
		if err != nil || v != storage.LatestVersion() {
			t.Fatalf("SchemaVersion after Open = %d, %v; want %d", v, err, storage.LatestVersion())
		}
	}
	if _, err := storage.Open(ctx, "postgres://nobody@/nodb?host=/nonexistent&connect_timeout=2"); err == nil {
		t.Error("Open of an unreachable database succeeded")
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	pool, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	newer := storage.LatestVersion() + 7
	if _, err := pool.Exec(ctx, `INSERT INTO schema_version (version, name) VALUES ($1, 'from_the_future')`, newer); err != nil {
		t.Fatal(err)
	}
	pool.Close()

	_, err = storage.Open(ctx, url)
	if err == nil {
		t.Fatal("Open accepted a schema newer than it knows")
	}
	for _, v := range []int{newer, storage.LatestVersion()} {
		if !strings.Contains(err.Error(), fmt.Sprint(v)) {
			t.Errorf("error %q does not name version %d", err, v)
		}
	}
	from, to, err := storage.Migrate(ctx, connect(t, url))
	if err == nil || from != newer || to != newer {
		t.Errorf("Migrate = %d, %d, %v; want %d, %d and an error", from, to, err, newer, newer)
	}
}

func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	const nodes = 4
	pools := make([]*pgxpool.Pool, nodes)
	for i := range pools {
		pools[i] = connect(t, url)
	}
	var wg sync.WaitGroup
	froms := make([]int, nodes)
	errs := make([]error, nodes)
	for i, pool := range pools {
		wg.Go(func() {
			var to int
			froms[i], to, errs[i] = storage.Migrate(ctx, pool)
			if errs[i] == nil && to != storage.LatestVersion() {
				errs[i] = fmt.Errorf("migrated to %d", to)
			}
		})
	}
	wg.Wait()
	fresh := 0
	for i := range pools {
		if errs[i] != nil {
			t.Errorf("node %d: %v", i, errs[i])
		}
		if froms[i] == 0 {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d nodes migrated from 0 (%v); want exactly 1", fresh, froms)
	}
}

func TestNoSchema(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	pool := connect(t, strings.Replace(url, "search_path=", "search_path=no_such_schema_", 1))
	if _, _, err := storage.Migrate(context.Background(), pool); err == nil {
		t.Error("Migrate with no existing schema in search_path succeeded")
	}
}
