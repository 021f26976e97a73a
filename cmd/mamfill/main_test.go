package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"

	"xmppd/storage/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestRun fills a tiny archive, measures it, and measures it again
// without filling.
func TestRun(t *testing.T) {
	url := pgtest.URL(t)
	args := []string{"-db", url, "-target", "600", "-total", "3000", "-accounts", "30", "-chunk", "700",
		"-pages", "5", "-searches", "3", "-write", "300ms", "-writers", "8", "-timeout", "2m"}
	for _, again := range []bool{false, true} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		var rep report
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || code != 0 || !rep.OK {
			t.Fatalf("exit %d, %v, %s\n%s", code, err, stdout.String(), stderr.String())
		}
		if rep.Rows < 3000 || rep.Target != 600 || (rep.Fill == nil) != again || len(rep.Queries) != len((&querier{}).kinds()) {
			t.Fatalf("again %t: rows %d, target %d, fill %v, %d kinds\n%s", again, rep.Rows, rep.Target, rep.Fill, len(rep.Queries), stderr.String())
		}
		if !again && rep.Fill.Rows != 3000 {
			t.Fatalf("filled %d rows", rep.Fill.Rows)
		}
		for _, k := range rep.Queries {
			if k.N == 0 || k.Max < k.P50 {
				t.Errorf("%+v", k)
			}
		}
		if rep.Write == nil || rep.Write.Messages == 0 || rep.Write.Failed != 0 {
			t.Fatalf("writes %+v", rep.Write)
		}
	}
	// The indexes and the foreign key are back.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var indexes, fks int
	if err := conn.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM pg_index WHERE indrelid = 'archive_messages'::regclass),
		(SELECT count(*) FROM pg_constraint WHERE conrelid = 'archive_messages'::regclass AND contype = 'f')`).Scan(&indexes, &fks); err != nil {
		t.Fatal(err)
	}
	// The primary key, four indexes of migration 0008 and the one of
	// imported rows (0021).
	if indexes != 6 || fks != 1 {
		t.Fatalf("%d indexes, %d foreign keys after the fill, want 6 and 1", indexes, fks)
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-target", "0"}, &bytes.Buffer{}, &stderr); code != 2 {
		t.Fatalf("bad usage: exit %d", code)
	}
}
