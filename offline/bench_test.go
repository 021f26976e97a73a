package offline_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/offline"
	"xmppd/router"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// sink is a session that takes everything and counts it.
type sink struct {
	j jid.JID
	n int
}

func (s *sink) JID() jid.JID                    { return s.j }
func (s *sink) Deliver(*xmlstream.Element) bool { s.n++; return true }
func (s *sink) End(string, string)              {}

// BenchmarkStoreAndFlush routes 100 chat messages to an offline account
// through the router into PostgreSQL, then logs the account in and lets
// its initial presence deliver them. It reports the time per stored
// message and per login (and per message delivered at login).
func BenchmarkStoreAndFlush(b *testing.B) {
	const perLogin = 100
	ctx := context.Background()
	pool := pgtest.Pool(b)
	accounts := postgres.NewAccounts(pool)
	for _, u := range []string{"juliet", "romeo"} {
		if err := accounts.Create(ctx, "localhost", u, nil); err != nil {
			b.Fatal(err)
		}
	}
	r := router.New(router.Config{Hosts: []string{"localhost"}, Accounts: accounts})
	if _, err := offline.Register(r, offline.Config{Store: postgres.NewOffline(pool)}); err != nil {
		b.Fatal(err)
	}
	msgs := make([]*xmlstream.Element, perLogin)
	for i := range msgs {
		m, err := xmlstream.ParseElement([]byte("<message xmlns='jabber:client' from='romeo@localhost/orchard' to='juliet@localhost' type='chat' id='m"+
			strconv.Itoa(i)+"'><body>Wherefore art thou, message "+strconv.Itoa(i)+"?</body></message>"), xmlstream.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = m
	}
	juliet := jid.MustParse("juliet@localhost/balcony")
	presence := xmlstream.NewElement("jabber:client", "presence", "from", juliet.String())

	var storing, flushing time.Duration
	for b.Loop() {
		t0 := time.Now()
		for _, m := range msgs {
			r.Route(ctx, m)
		}
		t1 := time.Now()
		s := &sink{j: juliet}
		r.Bind(s)
		r.FromClient(ctx, presence)
		t2 := time.Now()
		r.Unbind(s)
		storing += t1.Sub(t0)
		flushing += t2.Sub(t1)
		if s.n != perLogin+1 { // the messages and the presence's reflection
			b.Fatalf("login got %d stanzas; want %d", s.n, perLogin+1)
		}
	}
	b.ReportMetric(float64(storing.Nanoseconds())/float64(b.N*perLogin), "ns/stored")
	b.ReportMetric(float64(flushing.Nanoseconds())/float64(b.N), "ns/login")
	b.ReportMetric(float64(flushing.Nanoseconds())/float64(b.N*perLogin), "ns/delivered")
}
