package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"xmppd/auth"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

// TestTokens follows one client's FAST tokens through a rotation, and
// checks that a new password drops every token of the account.
func TestTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	accounts, tokens := postgres.NewAccounts(pool), postgres.NewTokens(pool)
	password := cred("SHA-256", 1, 32)
	if err := accounts.Create(ctx, "example.org", "juliet", []auth.Credential{password}); err != nil {
		t.Fatal(err)
	}
	login := auth.Grant{StoredKey: password.StoredKey}
	phone, laptop, tablet := auth.ClientKey("phone"), auth.ClientKey("laptop"), auth.ClientKey("tablet")
	now := time.Now().UTC().Truncate(time.Second)
	token := func(secret string, expiry time.Time) auth.Token {
		return auth.Token{Secret: secret, Mechanism: "HT-SHA-256-NONE", Issued: now, Expiry: expiry}
	}
	add := func(client []byte, tok auth.Token) {
		t.Helper()
		if err := tokens.AddToken(ctx, "example.org", "juliet", client, tok, login); err != nil {
			t.Fatal(err)
		}
	}
	secrets := func(client []byte) []string {
		t.Helper()
		got, err := tokens.ClientTokens(ctx, "example.org", "juliet", client)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, tok := range got {
			if tok.Used {
				s = append(s, tok.Secret+" used")
			} else {
				s = append(s, tok.Secret)
			}
		}
		slices.Sort(s)
		return s
	}
	check := func(client []byte, want ...string) {
		t.Helper()
		if got := secrets(client); !slices.Equal(got, want) {
			t.Fatalf("tokens %q, want %q", got, want)
		}
	}
	use := func(client []byte, secret string) {
		t.Helper()
		if err := tokens.UseToken(ctx, "example.org", "juliet", client, secret); err != nil {
			t.Fatal(err)
		}
	}

	later := now.Add(time.Hour)
	add(phone, token("a", later))
	add(phone, token("b", later)) // a was never used: b replaces it
	check(phone, "b")
	use(phone, "b")
	add(phone, token("c", later)) // b in use stays until c is used
	check(phone, "b used", "c")
	got, err := tokens.ClientTokens(ctx, "example.org", "juliet", phone)
	if err != nil || len(got) != 2 || !got[0].Expiry.Equal(later) || !got[0].Issued.Equal(now) || got[0].Mechanism != "HT-SHA-256-NONE" {
		t.Fatalf("ClientTokens = %+v, %v", got, err)
	}
	use(phone, "gone") // a token dropped meanwhile changes nothing
	check(phone, "b used", "c")
	use(phone, "c")
	check(phone, "c used")

	add(tablet, token("old", now.Add(-time.Minute)))
	add(laptop, token("d", later)) // the account's expired tokens go
	check(tablet)
	check(laptop, "d")
	use(laptop, "d")
	add(laptop, token("e", later))
	if err := tokens.DeleteTokens(ctx, "example.org", "juliet", laptop); err != nil {
		t.Fatal(err)
	}
	check(laptop)
	check(phone, "c used")

	add(laptop, token("f", later))
	// A token renewed at a login with another token, which must still be
	// there.
	if err := tokens.AddToken(ctx, "example.org", "juliet", laptop, token("g", later), auth.Grant{Token: "f"}); err != nil {
		t.Fatal(err)
	}
	if err := accounts.SetCredentials(ctx, "example.org", "juliet", []auth.Credential{cred("SHA-256", 2, 32)}); err != nil {
		t.Fatal(err)
	}
	check(phone)
	check(laptop)
	// Logins that proved the old password, or a token that went with it,
	// get no token once the new password is set.
	for _, g := range []auth.Grant{login, {Token: "g"}, {}} {
		if err := tokens.AddToken(ctx, "example.org", "juliet", phone, token("h", later), g); !errors.Is(err, auth.ErrGrantGone) {
			t.Fatalf("a token for a login with %+v after the password changed: %v, want ErrGrantGone", g, err)
		}
	}
	check(phone)
}
