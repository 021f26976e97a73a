package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"xmppd/auth"
	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

func TestInvites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	invites, accounts := postgres.NewInvites(pool), postgres.NewAccounts(pool)
	now := time.Now()
	creds := []auth.Credential{cred("SHA-256", 1, 32)}

	inv, err := invites.Create(ctx, "example.org", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Token) < 26 || inv.Domain != "example.org" || inv.UsedBy != "" || inv.Created.IsZero() {
		t.Fatalf("Create = %+v", inv)
	}
	other, _ := invites.Create(ctx, "example.org", now.Add(time.Hour))
	if other.Token == inv.Token {
		t.Fatal("two invitations with the same token")
	}

	valid := func(domain, token string, at time.Time) bool {
		t.Helper()
		ok, err := invites.Valid(ctx, domain, token, at)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !valid("example.org", inv.Token, now) {
		t.Error("fresh invitation not valid")
	}
	if valid("other.example", inv.Token, now) || valid("example.org", "nope", now) || valid("example.org", inv.Token, now.Add(2*time.Hour)) {
		t.Error("invitation valid for another domain, token or after expiry")
	}

	// Unusable tokens create nothing.
	for _, c := range []struct {
		domain, token string
		at            time.Time
	}{
		{"example.org", "nope", now},
		{"other.example", inv.Token, now},
		{"example.org", inv.Token, now.Add(2 * time.Hour)},
	} {
		_, err := invites.CreateAccount(ctx, c.domain, c.token, c.at, "juliet", creds)
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("CreateAccount(%s, %s, %v) = %v, want not found", c.domain, c.token, c.at, err)
		}
	}
	if ok, _ := accounts.Exists(ctx, "example.org", "juliet"); ok {
		t.Fatal("account created with an unusable token")
	}

	// A taken username rolls the use of the token back.
	if err := accounts.Create(ctx, "example.org", "romeo", creds); err != nil {
		t.Fatal(err)
	}
	if _, err := invites.CreateAccount(ctx, "example.org", inv.Token, now, "romeo", creds); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("CreateAccount for a taken name = %v, want exists", err)
	}
	if !valid("example.org", inv.Token, now) {
		t.Fatal("token used by a failed registration")
	}

	// Concurrent uses of one token: exactly one account.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = invites.CreateAccount(ctx, "example.org", inv.Token, now, []string{"a", "b", "c", "d"}[i], creds)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, storage.ErrNotFound):
			t.Errorf("concurrent use: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d registrations with one token", ok)
	}
	if valid("example.org", inv.Token, now) {
		t.Error("used token still valid")
	}

	// The expiry is judged at validAt, e.g. the time of an XEP-0445 preauth.
	late, _ := invites.Create(ctx, "example.org", now.Add(-time.Second))
	if _, err := invites.CreateAccount(ctx, "example.org", late.Token, now.Add(-time.Minute), "late", creds); err != nil {
		t.Fatalf("CreateAccount checked at an earlier time: %v", err)
	}
	got, err := accounts.Credentials(ctx, "example.org", "late")
	if err != nil || !credsEqual(got, creds) {
		t.Fatalf("credentials of the new account = %v, %v", got, err)
	}

	// Deleting the account does not make its token usable again.
	if err := accounts.Delete(ctx, "example.org", "late"); err != nil {
		t.Fatal(err)
	}
	list, err := invites.List(ctx, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("List = %+v", list)
	}
	byToken := map[string]postgres.Invite{}
	for _, i := range list {
		byToken[i.Token] = i
	}
	if byToken[late.Token].UsedBy != "late" || byToken[other.Token].UsedBy != "" || byToken[inv.Token].UsedBy == "" {
		t.Errorf("List = %+v", list)
	}
	if all, _ := invites.List(ctx, ""); len(all) != 3 {
		t.Errorf("List of every domain = %+v", all)
	}
	if none, _ := invites.List(ctx, "other.example"); len(none) != 0 {
		t.Errorf("List of other.example = %+v", none)
	}
}
