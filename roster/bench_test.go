package roster_test

import (
	"context"
	"fmt"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/internal/xmpptest"
	"xmppd/roster"
	"xmppd/storage"
	"xmppd/storage/postgres"
)

// BenchmarkLogin200 measures a login of an account with 200 contacts,
// subscribed both ways and offline: roster get, initial presence with 200
// probes (answered with the contacts' unavailable presence) and the
// broadcast. By design that is 4 queries per login: the roster for the
// roster get, the roster, the granting contacts (with their last presence)
// and the pending requests for the initial presence.
func BenchmarkLogin200(b *testing.B) {
	const n = 200
	s := xmpptest.Start(b)
	s.AddUser(b, "juliet", xmpptest.Domain, "secret")
	ctx := context.Background()
	pool, err := storage.Open(ctx, s.Config.Database.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	store := postgres.NewRoster(pool)
	juliet := jid.MustParse("juliet@localhost")
	both := func(st roster.State) (roster.State, error) {
		st.InRoster, st.Item.Subscription = true, roster.Both
		return st, nil
	}
	for i := range n {
		user := fmt.Sprintf("c%d", i)
		s.AddUser(b, user, xmpptest.Domain, "secret")
		c := jid.MustParse(user + "@localhost")
		if _, err := store.Update(ctx, juliet, c, n, both); err != nil {
			b.Fatal(err)
		}
		if _, err := store.Update(ctx, c, juliet, n, both); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		c := xmpptest.Login(b, s, "juliet", "secret", "")
		if q := getRoster(c, ""); len(q.ChildElements()) != n {
			b.Fatalf("roster of %d items", len(q.ChildElements()))
		}
		c.Online()
		for range n {
			c.NextNamed("presence")
		}
		c.Conn.Close()
	}
}
