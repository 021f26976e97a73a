package register_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/register"
	"xmppd/router"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

func parse(t *testing.T, s string) *xmlstream.Element {
	t.Helper()
	el, err := xmlstream.ParseElement([]byte(s), xmlstream.Limits{MaxStanzaBytes: 1 << 16, MaxDepth: 16})
	if err != nil {
		t.Fatal(err)
	}
	return el
}

// The XEP-0445 preauth IQ attaches a token to the connection; the
// registration that follows uses it without a token field. This asks the
// Service directly, with addresses of several connections;
// TestPreauthOnTheStream goes through the c2s stream.
func TestPreauth(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	accounts, invites := postgres.NewAccounts(pool), postgres.NewInvites(pool)
	now := time.Now()
	svc, err := register.New(register.Config{
		Enabled: true, RequireInvite: true, PerAddressPerHour: 10,
		Accounts: accounts, Invites: invites,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := invites.Create(ctx, "example.org", now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	handle := func(remote, iq string) *xmlstream.Element {
		return svc.HandleIQ(ctx, "example.org", remote, true, parse(t, iq))
	}

	expectError(t, handle("192.0.2.1:1000", "<iq type='set' id='p0'><preauth xmlns='urn:xmpp:pars:0' token='WRONG'/></iq>"), "item-not-found")
	expectResult(t, handle("192.0.2.1:1000", "<iq type='set' id='p1'><preauth xmlns='urn:xmpp:pars:0' token='"+inv.Token+"'/></iq>"))
	// Another connection did not present it.
	expectError(t, handle("192.0.2.1:1001", registerIQ("r0", "eve", "pw")), "forbidden")
	// The expiry was judged at the preauth, not now (XEP-0445 §4).
	now = now.Add(2 * time.Minute)
	expectResult(t, handle("192.0.2.1:1000", registerIQ("r1", "juliet", "balcony")))
	if ok, _ := accounts.Exists(ctx, "example.org", "juliet"); !ok {
		t.Fatal("account not created")
	}
	// Used up.
	expectError(t, handle("192.0.2.1:1000", registerIQ("r2", "romeo", "pw")), "forbidden")
	expectError(t, handle("192.0.2.1:1000", "<iq type='set' id='p2'><preauth xmlns='urn:xmpp:pars:0' token='"+inv.Token+"'/></iq>"), "item-not-found")
}

// Removal runs the BeforeDelete callbacks in order; a failing one keeps
// the account.
func TestBeforeDelete(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	accounts := postgres.NewAccounts(pool)
	creds, _ := auth.DeriveCredentials("pw", auth.DefaultIterations)
	for _, u := range []string{"juliet", "romeo"} {
		if err := accounts.Create(ctx, "example.org", u, creds); err != nil {
			t.Fatal(err)
		}
	}
	var calls []string
	fail := errors.New("roster unavailable")
	svc, err := register.New(register.Config{
		Accounts: accounts,
		BeforeDelete: []func(context.Context, jid.JID) error{
			func(ctx context.Context, bare jid.JID) error {
				calls = append(calls, "first "+bare.String())
				return nil
			},
			func(ctx context.Context, bare jid.JID) error {
				calls = append(calls, "second "+bare.String())
				if bare.Localpart() == "romeo" {
					return fail
				}
				return nil
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := router.New(router.Config{Hosts: []string{"example.org"}, Accounts: accounts})
	svc.Register(r)
	for _, u := range []string{"juliet", "romeo"} {
		r.FromClient(ctx, parse(t, "<iq xmlns='jabber:client' type='set' id='u1' from='"+u+"@example.org/x'><query xmlns='jabber:iq:register'><remove/></query></iq>"))
	}
	want := []string{"first juliet@example.org", "second juliet@example.org", "first romeo@example.org", "second romeo@example.org"}
	if len(calls) != len(want) {
		t.Fatalf("calls = %q, want %q", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Fatalf("calls = %q, want %q", calls, want)
		}
	}
	if ok, _ := accounts.Exists(ctx, "example.org", "juliet"); ok {
		t.Error("juliet not removed")
	}
	if ok, _ := accounts.Exists(ctx, "example.org", "romeo"); !ok {
		t.Error("romeo removed although a callback failed")
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := register.New(register.Config{}); err == nil {
		t.Error("no account store accepted")
	}
	if _, err := register.New(register.Config{Accounts: postgres.NewAccounts(nil), RequireInvite: true}); err == nil {
		t.Error("invitations without a store accepted")
	}
}
