package postgres_test

import (
	"context"
	"errors"
	"testing"

	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

func TestVCards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	accounts := postgres.NewAccounts(pool)
	v := postgres.NewVCards(pool)
	for _, u := range []string{"juliet", "romeo"} {
		if err := accounts.Create(ctx, "example.org", u, nil); err != nil {
			t.Fatal(err)
		}
	}

	if data, err := v.Get(ctx, "example.org", "juliet"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get before Set = %q, %v; want storage.ErrNotFound", data, err)
	}
	first := []byte("<vCard xmlns='vcard-temp'><FN>Juliet</FN></vCard>")
	if _, known, err := v.PhotoHash(ctx, "example.org", "juliet"); known || err != nil {
		t.Fatalf("PhotoHash before Set: known %v, %v", known, err)
	}
	if err := v.Set(ctx, "example.org", "juliet", first, ""); err != nil {
		t.Fatal(err)
	}
	if data, err := v.Get(ctx, "example.org", "juliet"); err != nil || string(data) != string(first) {
		t.Fatalf("Get = %q, %v; want %q", data, err, first)
	}
	if h, known, err := v.PhotoHash(ctx, "example.org", "juliet"); h != "" || !known || err != nil {
		t.Fatalf("PhotoHash = %q, %v, %v; want a known empty hash", h, known, err)
	}
	// Set replaces.
	second := []byte("<vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN><NICKNAME>jc</NICKNAME></vCard>")
	if err := v.Set(ctx, "example.org", "juliet", second, "0a1b"); err != nil {
		t.Fatal(err)
	}
	if h, known, err := v.PhotoHash(ctx, "example.org", "juliet"); h != "0a1b" || !known || err != nil {
		t.Fatalf("PhotoHash = %q, %v, %v; want 0a1b", h, known, err)
	}
	if data, err := v.Get(ctx, "example.org", "juliet"); err != nil || string(data) != string(second) {
		t.Fatalf("Get after a second Set = %q, %v; want %q", data, err, second)
	}
	// Other accounts are separate.
	if _, err := v.Get(ctx, "example.org", "romeo"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get of romeo: %v; want storage.ErrNotFound", err)
	}
	// An unknown account cannot have a vCard.
	if err := v.Set(ctx, "example.org", "tybalt", first, ""); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Set for an unknown account: %v; want storage.ErrNotFound", err)
	}
	// Deleting the account deletes its vCard; a new account of that name starts without.
	if err := accounts.Delete(ctx, "example.org", "juliet"); err != nil {
		t.Fatal(err)
	}
	if err := accounts.Create(ctx, "example.org", "juliet", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Get(ctx, "example.org", "juliet"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get after the account was deleted and created again: %v; want storage.ErrNotFound", err)
	}
}
