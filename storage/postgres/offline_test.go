package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"xmppd/offline"
	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

// take takes up to limit messages of user@example.org, accepting them all,
// and returns their stanzas.
func take(t *testing.T, o *postgres.Offline, user string, limit int) []string {
	t.Helper()
	var got []string
	n, err := o.Take(context.Background(), "example.org", user, limit, func(m offline.Message) bool {
		got = append(got, string(m.Stanza))
		return true
	})
	if err != nil || n != len(got) {
		t.Fatalf("Take = %d, %v; delivered %d", n, err, len(got))
	}
	return got
}

func TestOffline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	accounts := postgres.NewAccounts(pool)
	o := postgres.NewOffline(pool)
	for _, u := range []string{"juliet", "romeo"} {
		if err := accounts.Create(ctx, "example.org", u, nil); err != nil {
			t.Fatal(err)
		}
	}
	msg := func(i int) string { return fmt.Sprintf("<message xmlns='jabber:client'><body>%d</body></message>", i) }

	if got := take(t, o, "juliet", 10); len(got) != 0 {
		t.Fatalf("Take of an empty store = %q", got)
	}
	before := time.Now()
	for i := range 5 {
		if err := o.Add(ctx, "example.org", "juliet", []byte(msg(i)), 5); err != nil {
			t.Fatal(err)
		}
	}
	// The quota counts the account's messages only.
	if err := o.Add(ctx, "example.org", "juliet", []byte(msg(5)), 5); !errors.Is(err, offline.ErrFull) {
		t.Fatalf("Add beyond the quota: %v; want offline.ErrFull", err)
	}
	if err := o.Add(ctx, "example.org", "romeo", []byte(msg(100)), 5); err != nil {
		t.Fatal(err)
	}
	// Unknown accounts have no storage.
	if err := o.Add(ctx, "example.org", "tybalt", []byte(msg(0)), 5); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Add for an unknown account: %v; want storage.ErrNotFound", err)
	}

	// A refusal keeps the whole batch.
	calls := 0
	n, err := o.Take(ctx, "example.org", "juliet", 3, func(m offline.Message) bool {
		calls++
		if time.Since(m.Stamp) > time.Minute || m.Stamp.Before(before.Add(-time.Minute)) {
			t.Errorf("stamp %v is not the time of storing (%v)", m.Stamp, before)
		}
		return calls < 2
	})
	if !errors.Is(err, offline.ErrRefused) || n != 0 || calls != 2 {
		t.Fatalf("Take with a refusal = %d, %v after %d calls; want 0, ErrRefused after 2", n, err, calls)
	}
	// Batches come in order, and what was taken is gone.
	if got, want := take(t, o, "juliet", 3), []string{msg(0), msg(1), msg(2)}; !slices.Equal(got, want) {
		t.Fatalf("first batch = %q; want %q", got, want)
	}
	if got, want := take(t, o, "juliet", 3), []string{msg(3), msg(4)}; !slices.Equal(got, want) {
		t.Fatalf("second batch = %q; want %q", got, want)
	}
	if got := take(t, o, "juliet", 3); len(got) != 0 {
		t.Fatalf("third batch = %q; want none", got)
	}

	// Messages another delivery holds are skipped, not delivered twice.
	if err := o.Add(ctx, "example.org", "juliet", []byte(msg(6)), 5); err != nil {
		t.Fatal(err)
	}
	n, err = o.Take(ctx, "example.org", "juliet", 10, func(offline.Message) bool {
		if got := take(t, o, "juliet", 10); len(got) != 0 {
			t.Errorf("concurrent Take got %q; want nothing", got)
		}
		return true
	})
	if n != 1 || err != nil {
		t.Fatalf("Take = %d, %v; want 1", n, err)
	}

	// Deleting an account deletes its messages.
	if err := accounts.Delete(ctx, "example.org", "romeo"); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM offline_messages WHERE username = 'romeo'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("romeo's messages after deleting him: %d, %v", left, err)
	}
}
