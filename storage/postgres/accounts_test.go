package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"xmppd/auth"
	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// cred returns a credential whose bytes cover all values, including NUL and
// 0xff, so that a round trip proves them byte-exact.
func cred(hash string, seed byte, n int) auth.Credential {
	b := func(k byte) []byte {
		out := make([]byte, n)
		for i := range out {
			out[i] = seed*k + byte(i*37)
		}
		out[0], out[n-1] = 0, 0xff
		return out
	}
	return auth.Credential{Hash: hash, Salt: b(1), Iterations: 4096 + int(seed), StoredKey: b(3), ServerKey: b(5)}
}

func credsEqual(a, b []auth.Credential) bool {
	return slices.EqualFunc(a, b, func(x, y auth.Credential) bool {
		return x.Hash == y.Hash && x.Iterations == y.Iterations && bytes.Equal(x.Salt, y.Salt) &&
			bytes.Equal(x.StoredKey, y.StoredKey) && bytes.Equal(x.ServerKey, y.ServerKey)
	})
}

func isNoSuchAccount(err error) bool {
	return errors.Is(err, storage.ErrNotFound) && errors.Is(err, auth.ErrNoSuchUser)
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := postgres.NewAccounts(pgtest.Pool(t))

	// Sorted by hash name, as Credentials returns them.
	creds := []auth.Credential{cred("SHA-1", 1, 20), cred("SHA-256", 2, 32), cred("SHA-512", 3, 64)}
	if err := a.Create(ctx, "example.org", "juliet", []auth.Credential{creds[2], creds[0], creds[1]}); err != nil {
		t.Fatal(err)
	}
	got, err := a.Credentials(ctx, "example.org", "juliet")
	if err != nil || !credsEqual(got, creds) {
		t.Fatalf("Credentials = %v, %v; want %v", got, err, creds)
	}

	// Duplicate.
	err = a.Create(ctx, "example.org", "juliet", creds[:1])
	if !errors.Is(err, storage.ErrExists) {
		t.Errorf("second Create: %v; want storage.ErrExists", err)
	}
	if got, _ := a.Credentials(ctx, "example.org", "juliet"); !credsEqual(got, creds) {
		t.Errorf("a failed Create changed the credentials to %v", got)
	}

	// Exists.
	for _, tc := range []struct {
		domain, user string
		want         bool
	}{{"example.org", "juliet", true}, {"example.org", "romeo", false}, {"example.net", "juliet", false}, {"example.org", "Juliet", false}} {
		if ok, err := a.Exists(ctx, tc.domain, tc.user); err != nil || ok != tc.want {
			t.Errorf("Exists(%s, %s) = %v, %v; want %v", tc.domain, tc.user, ok, err, tc.want)
		}
	}

	// SetCredentials replaces all of them.
	replaced := []auth.Credential{cred("SHA-256", 9, 32)}
	if err := a.SetCredentials(ctx, "example.org", "juliet", replaced); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Credentials(ctx, "example.org", "juliet"); err != nil || !credsEqual(got, replaced) {
		t.Errorf("Credentials after SetCredentials = %v, %v; want %v", got, err, replaced)
	}
	if err := a.SetCredentials(ctx, "example.org", "juliet", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Credentials(ctx, "example.org", "juliet"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("Credentials of an account without any = %#v, %v; want empty, non-nil", got, err)
	}
	if err := a.SetCredentials(ctx, "example.org", "juliet", creds); err != nil {
		t.Fatal(err)
	}

	// List.
	for _, jid := range [][2]string{{"example.net", "juliet"}, {"example.org", "a.b"}, {"example.org", "zed"}, {"example.org", "b"}} {
		if err := a.Create(ctx, jid[0], jid[1], creds[1:2]); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		domain string
		want   []string
	}{
		{"example.org", []string{"a.b@example.org", "b@example.org", "juliet@example.org", "zed@example.org"}},
		{"example.net", []string{"juliet@example.net"}},
		{"", []string{"a.b@example.org", "b@example.org", "juliet@example.net", "juliet@example.org", "zed@example.org"}},
		{"example.com", nil},
	} {
		got, err := a.List(ctx, tc.domain)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, %v; want %q", tc.domain, got, err, tc.want)
		}
	}

	// Delete cascades to the credentials.
	if err := a.Delete(ctx, "example.org", "juliet"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.Exists(ctx, "example.org", "juliet"); ok {
		t.Error("deleted account still exists")
	}
	if _, err := a.Credentials(ctx, "example.org", "juliet"); !isNoSuchAccount(err) {
		t.Errorf("Credentials of a deleted account: %v", err)
	}
	// Created again, it has only its new credentials.
	if err := a.Create(ctx, "example.org", "juliet", replaced); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Credentials(ctx, "example.org", "juliet"); err != nil || !credsEqual(got, replaced) {
		t.Errorf("Credentials of a recreated account = %v, %v; want %v", got, err, replaced)
	}
	// The other juliet is untouched.
	if got, err := a.Credentials(ctx, "example.net", "juliet"); err != nil || !credsEqual(got, creds[1:2]) {
		t.Errorf("Credentials of juliet@example.net = %v, %v", got, err)
	}
}

func TestAccountsNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := postgres.NewAccounts(pgtest.Pool(t))
	for name, f := range map[string]func() error{
		"Credentials": func() error {
			c, err := a.Credentials(ctx, "example.org", "nobody")
			if c != nil {
				return fmt.Errorf("credentials %v", c)
			}
			return err
		},
		"SetCredentials": func() error {
			return a.SetCredentials(ctx, "example.org", "nobody", []auth.Credential{cred("SHA-1", 1, 20)})
		},
		"Delete": func() error { return a.Delete(ctx, "example.org", "nobody") },
	} {
		if err := f(); !isNoSuchAccount(err) {
			t.Errorf("%s of an unknown account: %v; want storage.ErrNotFound and auth.ErrNoSuchUser", name, err)
		}
	}
	if ok, err := a.Exists(ctx, "example.org", "nobody"); ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	if list, err := a.List(ctx, ""); err != nil || len(list) != 0 {
		t.Errorf("List of no accounts = %v, %v", list, err)
	}
}

func TestAccountsInvalidCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := postgres.NewAccounts(pgtest.Pool(t))
	good := cred("SHA-256", 1, 32)
	for name, creds := range map[string][]auth.Credential{
		"no hash":        {{Salt: good.Salt, Iterations: 1, StoredKey: good.StoredKey, ServerKey: good.ServerKey}},
		"no salt":        {{Hash: "SHA-256", Iterations: 1, StoredKey: good.StoredKey, ServerKey: good.ServerKey}},
		"no key":         {{Hash: "SHA-256", Salt: good.Salt, Iterations: 1, StoredKey: good.StoredKey}},
		"zero iteration": {{Hash: "SHA-256", Salt: good.Salt, StoredKey: good.StoredKey, ServerKey: good.ServerKey}},
		"same hash":      {good, good},
	} {
		if err := a.Create(ctx, "example.org", "x", creds); err == nil || errors.Is(err, storage.ErrExists) {
			t.Errorf("Create with %s: %v; want an error", name, err)
		}
	}
	if ok, _ := a.Exists(ctx, "example.org", "x"); ok {
		t.Error("a failed Create left an account")
	}
	if err := a.Create(ctx, "example.org", "x", []auth.Credential{good}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetCredentials(ctx, "example.org", "x", []auth.Credential{good, good}); err == nil {
		t.Error("SetCredentials with two credentials for one hash succeeded")
	}
	if got, err := a.Credentials(ctx, "example.org", "x"); err != nil || !credsEqual(got, []auth.Credential{good}) {
		t.Errorf("a failed SetCredentials changed the credentials to %v, %v", got, err)
	}
}

// TestAccountsConcurrentCreate creates one account from many goroutines:
// exactly one wins, the others get ErrExists.
func TestAccountsConcurrentCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := postgres.NewAccounts(pgtest.Pool(t))
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = a.Create(ctx, "example.org", "race", []auth.Credential{cred("SHA-256", byte(i), 32)})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrExists):
			t.Errorf("Create: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d Creates succeeded; want 1", won)
	}
}
