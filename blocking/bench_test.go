package blocking_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/blocking"
	"xmppd/router"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// countingStore counts the blocklists read from the database.
type countingStore struct {
	blocking.Store
	lists atomic.Int64
}

func (s *countingStore) List(ctx context.Context, account jid.JID) ([]jid.JID, error) {
	s.lists.Add(1)
	return s.Store.List(ctx, account)
}

// BenchmarkInbound measures the inbound check of a message from a local
// account to one with 100 blocked JIDs (bare, full and domain items): both
// blocklists are looked up, as for every stanza between local accounts.
// After the first check the database is not asked again.
func BenchmarkInbound(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.Pool(b)
	accounts := postgres.NewAccounts(pool)
	for _, u := range []string{"juliet", "romeo", "tybalt"} {
		if err := accounts.Create(ctx, "localhost", u, nil); err != nil {
			b.Fatal(err)
		}
	}
	juliet := jid.MustParse("juliet@localhost")
	var items []jid.JID
	for i := range 99 {
		var s string
		switch i % 3 {
		case 0:
			s = fmt.Sprintf("user%d@example.net", i)
		case 1:
			s = fmt.Sprintf("user%d@example.org/phone", i)
		default:
			s = fmt.Sprintf("spam%d.example", i)
		}
		items = append(items, jid.MustParse(s))
	}
	items = append(items, jid.MustParse("tybalt@localhost")) // the blocked sender below
	store := &countingStore{Store: postgres.NewBlocking(pool)}
	if _, err := store.Block(ctx, juliet, items); err != nil {
		b.Fatal(err)
	}
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	m, err := blocking.New(blocking.Config{Store: store}, r)
	if err != nil {
		b.Fatal(err)
	}
	to := jid.MustParse("juliet@localhost/balcony")
	msg := xmlstream.NewElement("jabber:client", "message", "type", "chat", "to", to.String())
	presence := xmlstream.NewElement("jabber:client", "presence", "to", to.String())

	for _, bc := range []struct {
		name    string
		from    string
		st      *xmlstream.Element
		deliver bool
	}{
		{"allowed", "romeo@localhost/orchard", msg, true},
		{"blocked", "tybalt@localhost/sword", presence, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			from := jid.MustParse(bc.from)
			if m.Inbound(ctx, from, to, bc.st) != bc.deliver { // warms the cache
				b.Fatalf("Inbound from %s: want deliver=%v", from, bc.deliver)
			}
			before := store.lists.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m.Inbound(ctx, from, to, bc.st)
			}
			b.StopTimer()
			if n := store.lists.Load() - before; n != 0 {
				b.Fatalf("%d blocklists read from the database in the steady state", n)
			}
		})
	}
}
