package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

func jids(ss ...string) []jid.JID {
	out := make([]jid.JID, len(ss))
	for i, s := range ss {
		out[i] = jid.MustParse(s)
	}
	return out
}

// sortedStrings returns the JIDs as strings, sorted, for comparison.
func sortedStrings(js []jid.JID) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.String()
	}
	slices.Sort(out)
	return out
}

func TestBlocking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	accounts := postgres.NewAccounts(pool)
	b := postgres.NewBlocking(pool)
	for _, a := range [][2]string{{"capulet.lit", "juliet"}, {"capulet.lit", "nurse"}} {
		if err := accounts.Create(ctx, a[0], a[1], nil); err != nil {
			t.Fatal(err)
		}
	}
	juliet, nurse := jid.MustParse("juliet@capulet.lit"), jid.MustParse("nurse@capulet.lit")

	expect := func(account jid.JID, want ...string) {
		t.Helper()
		got, err := b.List(ctx, account)
		if err != nil || !slices.Equal(sortedStrings(got), want) {
			t.Fatalf("List(%s) = %v, %v; want %v", account, sortedStrings(got), err, want)
		}
	}
	expect(juliet)

	// Every kind of JID is kept; Block returns only what is new.
	added, err := b.Block(ctx, juliet, jids("romeo@montague.lit", "montague.lit", "tybalt@capulet.lit/sword", "montague.lit/orchard"))
	if err != nil || len(added) != 4 {
		t.Fatalf("Block = %v, %v; want all 4 added", added, err)
	}
	added, err = b.Block(ctx, juliet, jids("romeo@montague.lit", "paris@verona.lit"))
	if err != nil || !slices.Equal(sortedStrings(added), []string{"paris@verona.lit"}) {
		t.Fatalf("Block again = %v, %v; want only paris added", sortedStrings(added), err)
	}
	expect(juliet, "montague.lit", "montague.lit/orchard", "paris@verona.lit", "romeo@montague.lit", "tybalt@capulet.lit/sword")
	expect(nurse) // lists are per account

	// Unblock returns only what was there.
	removed, err := b.Unblock(ctx, juliet, jids("romeo@montague.lit", "benvolio@montague.lit"))
	if err != nil || !slices.Equal(sortedStrings(removed), []string{"romeo@montague.lit"}) {
		t.Fatalf("Unblock = %v, %v; want romeo", sortedStrings(removed), err)
	}
	expect(juliet, "montague.lit", "montague.lit/orchard", "paris@verona.lit", "tybalt@capulet.lit/sword")

	if _, err := b.Block(ctx, nurse, jids("romeo@montague.lit")); err != nil {
		t.Fatal(err)
	}
	removed, err = b.UnblockAll(ctx, juliet)
	if err != nil || len(removed) != 4 {
		t.Fatalf("UnblockAll = %v, %v; want 4 removed", sortedStrings(removed), err)
	}
	expect(juliet)
	expect(nurse, "romeo@montague.lit")
	if removed, err := b.UnblockAll(ctx, juliet); err != nil || len(removed) != 0 {
		t.Fatalf("UnblockAll of an empty list = %v, %v", removed, err)
	}

	// Unknown accounts: nothing to list, nothing can be blocked.
	ghost := jid.MustParse("ghost@capulet.lit")
	expect(ghost)
	if _, err := b.Block(ctx, ghost, jids("romeo@montague.lit")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Block for an unknown account: %v; want storage.ErrNotFound", err)
	}

	// The list goes with its account.
	if err := accounts.Delete(ctx, "capulet.lit", "nurse"); err != nil {
		t.Fatal(err)
	}
	if err := accounts.Create(ctx, "capulet.lit", "nurse", nil); err != nil {
		t.Fatal(err)
	}
	expect(nurse)
}
