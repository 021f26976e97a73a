package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) { Main(m) }

func TestWithSearchPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@/xmppd?host=%2Ftmp%2Fx&port=5432", "postgres://u@/xmppd?host=%2Ftmp%2Fx&port=5432&search_path=s1"},
		{"postgres://u@h/db?search_path=old", "postgres://u@h/db?search_path=old&search_path=s1"},
		{"postgres://u@h/db", "postgres://u@h/db?search_path=s1"},
		{"host=/tmp/x dbname=xmppd", "host=/tmp/x dbname=xmppd search_path=s1"},
		{"host=/tmp/x search_path=old ", "host=/tmp/x search_path=old search_path=s1"},
	} {
		got := withSearchPath(tc.in, "s1")
		if got != tc.want {
			t.Errorf("withSearchPath(%q) = %q; want %q", tc.in, got, tc.want)
		}
		cfg, err := pgconn.ParseConfig(got)
		if err != nil || cfg.RuntimeParams["search_path"] != "s1" {
			t.Errorf("pgconn.ParseConfig(%q) = %v, %v; want search_path s1", got, cfg.RuntimeParams, err)
		}
	}
}

func TestSchemaPerTest(t *testing.T) {
	var schemas []string
	for range 2 {
		t.Run("", func(t *testing.T) {
			pool := Pool(t)
			var schema string
			if err := pool.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&schema); err != nil {
				t.Fatal(err)
			}
			var tables int
			if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'accounts'`, schema).Scan(&tables); err != nil {
				t.Fatal(err)
			}
			if tables != 1 {
				t.Errorf("schema %s has %d accounts tables; want 1", schema, tables)
			}
			schemas = append(schemas, schema)
		})
	}
	if len(schemas) != 2 || schemas[0] == schemas[1] {
		t.Fatalf("schemas %v; want two different", schemas)
	}
	d, err := get()
	if err != nil {
		t.Fatal(err)
	}
	var left int
	if err := d.admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1)`, schemas).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d test schemas left after their tests", left)
	}
}
