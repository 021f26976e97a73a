package mam_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"mellium.im/xmpp/jid"

	"xmppd/mam"
	"xmppd/router"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// benchArchive returns a module on a fresh schema with users u0..u(n-1).
func benchArchive(b testing.TB, users int) (*mam.Module, *postgres.Archive, *pgxpool.Pool) {
	b.Helper()
	ctx := context.Background()
	pool := pgtest.Pool(b)
	accounts := postgres.NewAccounts(pool)
	for i := range users {
		if err := accounts.Create(ctx, "localhost", fmt.Sprintf("u%d", i), nil); err != nil {
			b.Fatal(err)
		}
	}
	store := postgres.NewArchive(pool)
	return archiveNode(b, store, false), store, pool
}

// archiveNode starts an archive module of store, as a cluster's node if
// clustered.
func archiveNode(b testing.TB, store *postgres.Archive, clustered bool) *mam.Module {
	b.Helper()
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	m, err := mam.New(r, mam.Config{Store: store, Clustered: clustered})
	if err != nil {
		b.Fatal(err)
	}
	m.Register()
	b.Cleanup(m.Close)
	return m
}

// BenchmarkArchive measures messages/s through Archive with many
// concurrent senders: each message is two rows (sender and recipient),
// committed before Archive returns, written by the group commit.
func BenchmarkArchive(b *testing.B) {
	m, _, _ := benchArchive(b, benchUsers)
	benchArchiving(b, m)
}

// BenchmarkArchiveClustered is BenchmarkArchive with two nodes of a
// cluster, in turns: their writers insert one batch at a time each, and
// wait for each other's commits.
func BenchmarkArchiveClustered(b *testing.B) {
	_, store, pool := benchArchive(b, benchUsers)
	benchArchiving(b, archiveNode(b, store, true), archiveNode(b, postgres.NewArchive(pool), true))
}

const benchUsers = 100

// benchArchiving archives b.N messages among benchUsers accounts through
// nodes in turns, from many senders at once.
func benchArchiving(b *testing.B, nodes ...*mam.Module) {
	const users = benchUsers
	var next atomic.Int64
	b.SetParallelism(256) // 256 × GOMAXPROCS senders
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			n := next.Add(1)
			from := jid.MustParse(fmt.Sprintf("u%d@localhost/r", n%users))
			to := jid.MustParse(fmt.Sprintf("u%d@localhost", (n+1)%users))
			st := xmlstream.NewElement("jabber:client", "message", "type", "chat", "from", from.String(), "to", to.String(), "id", fmt.Sprint(n)).
				AddChild(xmlstream.NewElement("jabber:client", "body").AddText(fmt.Sprintf("message number %d about nothing in particular", n)))
			if _, err := nodes[n%int64(len(nodes))].Archive(ctx, from, to, st); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPage measures a 50-message page from the middle of a
// 100,000-message archive, filtered by contact, going backwards.
func BenchmarkPage(b *testing.B) {
	_, store, pool := benchArchive(b, 2)
	ctx := context.Background()
	var last []int64
	for batch := range 100 {
		var es []mam.Entry
		for i := range 1000 {
			with := fmt.Sprintf("c%d@localhost", i%10)
			es = append(es, mam.Entry{Domain: "localhost", Username: "u0", With: with, Outgoing: i%2 == 0,
				Body: fmt.Sprintf("batch %d message %d", batch, i), Stanza: []byte("<message xmlns='jabber:client'><body>x</body></message>")})
		}
		ids, err := store.Append(ctx, es)
		if err != nil {
			b.Fatal(err)
		}
		last = ids
	}
	// As autovacuum would after such a load.
	if _, err := pool.Exec(ctx, "ANALYZE archive_messages"); err != nil {
		b.Fatal(err)
	}
	before := last[len(last)-1] - 50_000
	for _, tc := range []struct {
		name string
		q    mam.Query
	}{
		{"all", mam.Query{Max: 50, Last: true, BeforeID: before}},
		{"with", mam.Query{Max: 50, Last: true, BeforeID: before, With: "c3@localhost"}},
		{"fulltext", mam.Query{Max: 50, Last: true, Text: "message 777"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				p, err := store.Query(ctx, "localhost", "u0", tc.q)
				if err != nil || len(p.Messages) != 50 {
					b.Fatalf("%d messages, %v", len(p.Messages), err)
				}
			}
		})
	}
}
