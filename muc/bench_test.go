package muc_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/muc"
	"xmppd/router"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// sink is a bound session that keeps nothing but a count of what it got.
type sink struct {
	j jid.JID
	n atomic.Int64
}

func (s *sink) JID() jid.JID                       { return s.j }
func (s *sink) Deliver(st *xmlstream.Element) bool { s.n.Add(1); return true }
func (s *sink) End(condition, text string)         {}

// countingStore counts the round trips that archive messages: writes
// and id reservations.
type countingStore struct {
	muc.Store
	writes atomic.Int64
}

func (c *countingStore) Write(ctx context.Context, service string, msgs []muc.Message) error {
	c.writes.Add(1)
	return c.Store.Write(ctx, service, msgs)
}

func (c *countingStore) NextIDs(ctx context.Context, n int) ([]int64, error) {
	c.writes.Add(1)
	return c.Store.NextIDs(ctx, n)
}

// BenchmarkRoomBroadcast measures groupchat messages through one room
// of 100 occupants, in process (no sockets): archived, given a stanza id,
// and queued to every occupant's session. Senders run in parallel, as
// occupants do; the room serialises them.
func BenchmarkRoomBroadcast(b *testing.B) {
	const occupants = 100
	ctx := context.Background()
	store := &countingStore{Store: postgres.NewMUC(pgtest.Pool(b))}
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	s, err := muc.New(ctx, r, muc.Config{Domain: "conference.localhost", Store: store})
	if err != nil {
		b.Fatal(err)
	}
	s.Register()
	roomJID := jid.MustParse("bench@conference.localhost")
	sinks := make([]*sink, occupants)
	for i := range sinks {
		sinks[i] = &sink{j: jid.MustParse(fmt.Sprintf("u%d@localhost/r", i))}
		r.Bind(sinks[i])
		to, _ := roomJID.WithResource(fmt.Sprintf("u%d", i))
		s.Route(ctx, sinks[i].j, to, xmlstream.NewElement("jabber:client", "presence", "to", to.String()).
			AddChild(xmlstream.NewElement("http://jabber.org/protocol/muc", "x")))
		if i == 0 { // an instant room (XEP-0045 §10.1.2)
			s.Route(ctx, sinks[0].j, roomJID, xmlstream.NewElement("jabber:client", "iq", "type", "set", "id", "cfg", "to", roomJID.String()).
				AddChild(xmlstream.NewElement("http://jabber.org/protocol/muc#owner", "query").
					AddChild(xmlstream.NewElement("jabber:x:data", "x", "type", "submit"))))
		}
	}
	before := sinks[1].n.Load()
	var next atomic.Int64
	store.writes.Store(0)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			from := sinks[n%occupants].j
			st := xmlstream.NewElement("jabber:client", "message", "type", "groupchat", "to", roomJID.String(), "id", fmt.Sprint(n)).
				AddChild(xmlstream.NewElement("jabber:client", "body").AddText(fmt.Sprintf("message number %d about nothing in particular", n)))
			s.Route(ctx, from, roomJID, st)
		}
	})
	flush(b, s, sinks[0], roomJID)
	b.StopTimer()
	if got := sinks[1].n.Load() - before; got != int64(b.N) {
		b.Fatalf("an occupant got %d messages, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(store.writes.Load())/float64(b.N), "writes/msg")
}

// flush asks the room's archive for an empty page, which is answered
// only once every message sent before is written.
func flush(b *testing.B, s *muc.Service, from *sink, roomJID jid.JID) {
	b.Helper()
	s.Route(context.Background(), from.j, roomJID, xmlstream.NewElement("jabber:client", "iq", "type", "set", "id", "flush", "to", roomJID.String()).
		AddChild(xmlstream.NewElement("urn:xmpp:mam:2", "query").
			AddChild(xmlstream.NewElement("http://jabber.org/protocol/rsm", "set").
				AddChild(xmlstream.NewElement("http://jabber.org/protocol/rsm", "max").AddText("0")))))
}
