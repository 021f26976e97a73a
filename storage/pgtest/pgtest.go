// Package pgtest gives tests a PostgreSQL database, one fresh schema per
// test.
//
// The database is $XMPPD_TEST_DATABASE_URL when set. Otherwise it is a
// private server (package localpg, fsync off) in a temporary directory,
// started on first use by the test binary and stopped when its tests end.
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/storage"
	"xmppd/storage/localpg"
)

// EnvURL names the environment variable holding the URL of the database to
// test against instead of a private server.
const EnvURL = "XMPPD_TEST_DATABASE_URL"

// db is the database of this test binary.
type db struct {
	url    string        // the database, without search_path
	admin  *pgxpool.Pool // creates and drops the test schemas
	server *localpg.Server
	tmp    string // the server's directory
}

var (
	mu      sync.Mutex
	current *db   // set once started
	failed  error // why it could not be
	inMain  bool  // Main is running, and will stop the server
)

// Main runs the tests of a package and then stops the private server, if
// one was started, and exits.
func Main(m *testing.M) {
	mu.Lock()
	inMain = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if current != nil {
		current.close()
		current = nil
	}
	os.Exit(code)
}

// get returns the database, starting it on first use.
func get() (*db, error) {
	mu.Lock()
	defer mu.Unlock()
	if current != nil || failed != nil {
		return current, failed
	}
	current, failed = open()
	return current, failed
}

func open() (*db, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := &db{url: os.Getenv(EnvURL)}
	if d.url == "" {
		if !inMain {
			return nil, fmt.Errorf("pgtest: $%s is not set, and without pgtest.Main in TestMain nothing would stop a private server: add func TestMain(m *testing.M) { pgtest.Main(m) }", EnvURL)
		}
		tmp, err := os.MkdirTemp("", "xmppd-pgtest-")
		if err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
		d.tmp = tmp
		d.server, err = localpg.Start(ctx, tmp, localpg.Options{NoFsync: true})
		if err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("pgtest: no $%s and no private server: %w", EnvURL, err)
		}
		d.url = d.server.URL()
	}
	cfg, err := pgxpool.ParseConfig(d.url)
	if err == nil {
		cfg.MaxConns = 4
		d.admin, err = pgxpool.NewWithConfig(ctx, cfg)
	}
	if err == nil {
		err = d.admin.Ping(ctx)
	}
	if err != nil {
		d.close()
		return nil, fmt.Errorf("pgtest: connect to the test database: %w", err)
	}
	return d, nil
}

func (d *db) close() {
	if d.admin != nil {
		d.admin.Close()
	}
	if d.server != nil {
		d.server.Stop()
		os.RemoveAll(d.tmp)
	}
}

// URL returns the URL of a database whose search_path is a fresh, empty
// schema created for this test and dropped when it ends. It fails the test
// if there is no database to test against.
func URL(t testing.TB) string {
	t.Helper()
	d, err := get()
	if err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := d.admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := d.admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(d.url, schema)
}

// withSearchPath sets the search_path run-time parameter of a connection
// string, in URL or key=value form; in both a later setting overrides an
// earlier one.
func withSearchPath(conn, schema string) string {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		sep := "?"
		if strings.Contains(conn, "?") {
			sep = "&"
		}
		return conn + sep + "search_path=" + schema
	}
	return strings.TrimSpace(conn) + " search_path=" + schema
}

// Pool returns storage.Open(URL(t)): a pool on a fresh schema with every
// migration applied, closed when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := storage.Open(ctx, URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
