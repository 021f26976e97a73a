package postgres_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"xmppd/private"
	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

func TestPrivate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	accounts := postgres.NewAccounts(pool)
	p := postgres.NewPrivate(pool)
	for _, u := range []string{"juliet", "romeo"} {
		if err := accounts.Create(ctx, "example.org", u, nil); err != nil {
			t.Fatal(err)
		}
	}
	const limit = 1000
	get := func(user, ns string) string {
		t.Helper()
		data, err := p.Get(ctx, "example.org", user, ns)
		if errors.Is(err, storage.ErrNotFound) {
			return "(none)"
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	set := func(user, ns, data string) error {
		return p.Set(ctx, "example.org", user, ns, []byte(data), limit)
	}

	if got := get("juliet", "storage:bookmarks"); got != "(none)" {
		t.Fatalf("Get before Set = %s", got)
	}
	for _, s := range []struct{ user, ns, data string }{
		{"juliet", "storage:bookmarks", "bookmarks 1"},
		{"juliet", "storage:rosternotes", "notes 1"},
		{"romeo", "storage:bookmarks", "romeo's bookmarks"},
		{"juliet", "storage:bookmarks", "bookmarks 2"}, // replaces
	} {
		if err := set(s.user, s.ns, s.data); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []struct{ user, ns, data string }{
		{"juliet", "storage:bookmarks", "bookmarks 2"},
		{"juliet", "storage:rosternotes", "notes 1"},
		{"romeo", "storage:bookmarks", "romeo's bookmarks"},
		{"romeo", "storage:rosternotes", "(none)"},
	} {
		if got := get(want.user, want.ns); got != want.data {
			t.Errorf("Get(%s, %s) = %s; want %s", want.user, want.ns, got, want.data)
		}
	}

	// The limit counts all of an account's namespaces; the value being
	// replaced does not count.
	big := strings.Repeat("x", limit-len("notes 1"))
	if err := set("juliet", "storage:bookmarks", big); err != nil {
		t.Fatalf("Set up to the limit: %v", err)
	}
	if err := set("juliet", "storage:bookmarks", big+"x"); !errors.Is(err, private.ErrTooLarge) {
		t.Errorf("Set one byte over the limit: %v; want private.ErrTooLarge", err)
	}
	if err := set("juliet", "storage:other", "x"); !errors.Is(err, private.ErrTooLarge) {
		t.Errorf("Set of a new namespace over the limit: %v; want private.ErrTooLarge", err)
	}
	if got := get("juliet", "storage:bookmarks"); got != big {
		t.Errorf("a refused Set changed the data to %d bytes", len(got))
	}
	if got := get("juliet", "storage:other"); got != "(none)" {
		t.Errorf("a refused Set stored %s", got)
	}
	// Romeo has his own allowance.
	if err := set("romeo", "storage:rosternotes", strings.Repeat("y", 500)); err != nil {
		t.Errorf("Set within romeo's limit: %v", err)
	}

	if err := set("tybalt", "storage:bookmarks", "x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Set for an unknown account: %v; want storage.ErrNotFound", err)
	}
	if err := accounts.Delete(ctx, "example.org", "juliet"); err != nil {
		t.Fatal(err)
	}
	if err := accounts.Create(ctx, "example.org", "juliet", nil); err != nil {
		t.Fatal(err)
	}
	if got := get("juliet", "storage:rosternotes"); got != "(none)" {
		t.Errorf("data survived the deletion of its account: %s", got)
	}
}

// TestPrivateLimitWaitsForOtherSets holds the account's lock in a
// transaction that adds data, while a Set runs: the Set must wait, then
// count that data. Without the wait both could fit the limit separately
// and exceed it together.
func TestPrivateLimitWaitsForOtherSets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	if err := postgres.NewAccounts(pool).Create(ctx, "example.org", "juliet", nil); err != nil {
		t.Fatal(err)
	}
	p := postgres.NewPrivate(pool)

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE domain = 'example.org' AND username = 'juliet' FOR NO KEY UPDATE`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO private_storage (domain, username, namespace, data) VALUES ('example.org', 'juliet', 'a', $1)`, make([]byte, 300)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Set(ctx, "example.org", "juliet", "b", make([]byte, 100), 350) }()

	// Wait until the Set is blocked on the lock (or has wrongly finished).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting bool
		err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FROM accounts%FOR NO KEY UPDATE%')`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Set did not wait for the account's lock: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("Set neither waits nor finishes")
		}
		runtime.Gosched()
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, private.ErrTooLarge) {
		t.Fatalf("Set after another set filled the account: %v; want private.ErrTooLarge", err)
	}
}
