package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/offline"
	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

// Two server processes' claims.
const (
	claimerA = "0b8f7a52-6b0c-4e43-9a57-6f1d2c0e9a01"
	claimerB = "5d2e9c4f-1a7b-4c88-b3e2-0c9f8d7a6b02"
)

// claim claims up to limit messages of user@example.org for claimer and
// returns them.
func claim(t *testing.T, o *postgres.Offline, user, claimer string, limit int) []offline.Message {
	t.Helper()
	msgs, err := o.Claim(context.Background(), "example.org", user, claimer, limit)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func stanzas(msgs []offline.Message) []string {
	var s []string
	for _, m := range msgs {
		s = append(s, string(m.Stanza))
	}
	return s
}

// offlineOf returns a new database with the accounts users of
// example.org, and its account and offline stores.
func offlineOf(t *testing.T, users ...string) (*pgxpool.Pool, *postgres.Accounts, *postgres.Offline) {
	t.Helper()
	pool := pgtest.Pool(t)
	accounts := postgres.NewAccounts(pool)
	for _, u := range users {
		if err := accounts.Create(context.Background(), "example.org", u, nil); err != nil {
			t.Fatal(err)
		}
	}
	return pool, accounts, postgres.NewOffline(pool)
}

func ids(msgs []offline.Message) []int64 {
	var s []int64
	for _, m := range msgs {
		s = append(s, m.ID)
	}
	return s
}

func TestOffline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, accounts, o := offlineOf(t, "juliet", "romeo")
	msg := func(i int) string { return fmt.Sprintf("<message xmlns='jabber:client'><body>%d</body></message>", i) }

	if got := claim(t, o, "juliet", claimerA, 10); len(got) != 0 {
		t.Fatalf("Claim of an empty store = %q", stanzas(got))
	}
	before := time.Now()
	for i := range 5 {
		if err := o.Add(ctx, "example.org", "juliet", []byte(msg(i)), 0, 5); err != nil {
			t.Fatal(err)
		}
	}
	// The quota counts the account's messages only.
	if err := o.Add(ctx, "example.org", "juliet", []byte(msg(5)), 0, 5); !errors.Is(err, offline.ErrFull) {
		t.Fatalf("Add beyond the quota: %v; want offline.ErrFull", err)
	}
	if err := o.Add(ctx, "example.org", "romeo", []byte(msg(100)), 0, 5); err != nil {
		t.Fatal(err)
	}
	// Unknown accounts have no storage.
	if err := o.Add(ctx, "example.org", "tybalt", []byte(msg(0)), 0, 5); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Add for an unknown account: %v; want storage.ErrNotFound", err)
	}

	// Batches come in order, and a claimer does not get its own claims again.
	first := claim(t, o, "juliet", claimerA, 3)
	if got, want := stanzas(first), []string{msg(0), msg(1), msg(2)}; !slices.Equal(got, want) {
		t.Fatalf("first batch = %q; want %q", got, want)
	}
	for _, m := range first {
		if time.Since(m.Stamp) > time.Minute || m.Stamp.Before(before.Add(-time.Minute)) {
			t.Errorf("stamp %v is not the time of storing (%v)", m.Stamp, before)
		}
	}
	second := claim(t, o, "juliet", claimerA, 3)
	if got, want := stanzas(second), []string{msg(3), msg(4)}; !slices.Equal(got, want) {
		t.Fatalf("second batch = %q; want %q", got, want)
	}
	if got := claim(t, o, "juliet", claimerA, 3); len(got) != 0 {
		t.Fatalf("third batch = %q; want none", stanzas(got))
	}

	// Unclaimed messages are claimed again.
	if err := o.Unclaim(ctx, "example.org", "juliet", ids(second)); err != nil {
		t.Fatal(err)
	}
	if got, want := stanzas(claim(t, o, "juliet", claimerA, 10)), []string{msg(3), msg(4)}; !slices.Equal(got, want) {
		t.Fatalf("after Unclaim = %q; want %q", got, want)
	}

	// Deleted messages are gone; another process's claims do not hold.
	if err := o.Delete(ctx, "example.org", "juliet", ids(first)); err != nil {
		t.Fatal(err)
	}
	if got, want := stanzas(claim(t, o, "juliet", claimerB, 10)), []string{msg(3), msg(4)}; !slices.Equal(got, want) {
		t.Fatalf("claimed by another process = %q; want %q", got, want)
	}
	// Deleting and unclaiming touch the named account only.
	if err := o.Delete(ctx, "example.org", "romeo", ids(second)); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, o, "juliet", claimerA, 10); len(got) != 2 {
		t.Fatalf("juliet's messages after deleting their ids as romeo's = %q", stanzas(got))
	}

	// Messages another claim is taking are skipped, not delivered twice.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT id FROM offline_messages WHERE username = 'juliet' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, o, "juliet", claimerB, 10); len(got) != 0 {
		t.Errorf("Claim of locked messages = %q; want nothing", stanzas(got))
	}
	tx.Rollback(ctx)

	// Deleting an account deletes its messages.
	if err := accounts.Delete(ctx, "example.org", "romeo"); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM offline_messages WHERE username = 'romeo'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("romeo's messages after deleting him: %d, %v", left, err)
	}
}

// Claimed messages do not count against the quota: a session that ends
// before they are safe routes them back into storage while they are
// still there.
func TestOfflineQuotaSkipsClaimed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, _, o := offlineOf(t, "juliet")
	add := func(body string) error {
		return o.Add(ctx, "example.org", "juliet", []byte("<message xmlns='jabber:client'><body>"+body+"</body></message>"), 0, 2)
	}
	for _, b := range []string{"1", "2"} {
		if err := add(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := add("3"); !errors.Is(err, offline.ErrFull) {
		t.Fatalf("Add beyond the quota: %v; want offline.ErrFull", err)
	}
	claim(t, o, "juliet", claimerA, 10)
	if err := add("1 again"); err != nil {
		t.Fatalf("Add with every stored message claimed: %v", err)
	}
}

// TestOfflineDeleteArchived: DeleteArchived removes the messages whose
// archive id is a row of the account's own archive, and keeps those
// without one, those whose row is gone or is another account's, and
// those the caller's process has claimed for a session.
func TestOfflineDeleteArchived(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _, o := offlineOf(t, "juliet", "romeo")
	archived := func(user string) int64 {
		var id int64
		if err := pool.QueryRow(ctx, `INSERT INTO archive_messages (domain, username, with_jid, outgoing, stanza)
			VALUES ('example.org', $1, 'nurse@example.org', false, '<message/>') RETURNING id`, user).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	held, kept, romeos, gone := archived("juliet"), archived("juliet"), archived("romeo"), archived("juliet")
	if _, err := pool.Exec(ctx, `DELETE FROM archive_messages WHERE id = $1`, gone); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		body string
		id   int64
	}{{"held", held}, {"archived", kept}, {"none", 0}, {"romeo's", romeos}, {"gone", gone}} {
		st := "<message xmlns='jabber:client'><body>" + m.body + "</body></message>"
		if err := o.Add(ctx, "example.org", "juliet", []byte(st), m.id, 10); err != nil {
			t.Fatal(err)
		}
	}
	claim(t, o, "juliet", claimerA, 1) // "held", on its way to a session

	n, err := o.DeleteArchived(ctx, "example.org", "juliet", claimerA)
	if err != nil || n != 1 {
		t.Fatalf("DeleteArchived = %d, %v; want 1 removed", n, err)
	}
	all, err := o.All(ctx, "example.org", "juliet")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, b := range []string{"held", "none", "romeo's", "gone"} {
		want = append(want, "<message xmlns='jabber:client'><body>"+b+"</body></message>")
	}
	if got := stanzas(all); !slices.Equal(got, want) {
		t.Fatalf("left %q, want %q", got, want)
	}
}
