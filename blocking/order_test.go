package blocking_test

import (
	"context"
	"slices"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/blocking"
	"xmppd/internal/xmpptest"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// signallingStore is the real blocklist store, which tells stored after
// each change it made.
type signallingStore struct {
	blocking.Store
	stored chan struct{}
}

func (s *signallingStore) Block(ctx context.Context, account jid.JID, items []jid.JID) ([]jid.JID, error) {
	added, err := s.Store.Block(ctx, account, items)
	s.stored <- struct{}{}
	return added, err
}

func (s *signallingStore) Unblock(ctx context.Context, account jid.JID, items []jid.JID) ([]jid.JID, error) {
	removed, err := s.Store.Unblock(ctx, account, items)
	s.stored <- struct{}{}
	return removed, err
}

// Blocklist pushes carry no version, so a resource that gets them out of
// order keeps a wrong view (XEP-0191 §3.3, §3.4): they go out in the
// order the changes were stored. Here chamber blocks romeo and is slow
// to read, so its command is held up after the change is stored; balcony
// then unblocks romeo, and must not get that push before the block's.
func TestPushesInStoredOrder(t *testing.T) {
	s := start(t)
	store := &signallingStore{Store: postgres.NewBlocking(s.DB), stored: make(chan struct{}, 2)}
	r, _, balcony, chamber := twoResources(t, store, 10)
	chamber.Got = make(chan *xmlstream.Element, 1)
	send := func(from *xmpptest.Recorder, typ, payload string) {
		el, err := clientIQ(from, typ, payload)
		if err != nil {
			t.Error(err)
			return
		}
		r.FromClient(context.Background(), el)
	}
	in := func(f func()) chan struct{} {
		done := make(chan struct{})
		go func() { defer close(done); f() }()
		return done
	}
	for _, c := range []*xmpptest.Recorder{balcony, chamber} {
		send(c, "get", "<blocklist xmlns='urn:xmpp:blocking'/>") // interested in pushes
		<-c.Got
	}

	chamber.Got <- xmlstream.NewElement("", "full") // chamber reads no more for now
	blocked := in(func() { send(chamber, "set", "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block>") })
	<-store.stored
	unblocked := in(func() {
		send(balcony, "set", "<unblock xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></unblock>")
	})
	<-store.stored
	if res := <-balcony.Got; res.Attr("type") != "result" {
		t.Fatalf("balcony got %s, want the unblock command's result", res)
	}
	var chamberGot []*xmlstream.Element
	drained := in(func() {
		for el := range chamber.Got {
			chamberGot = append(chamberGot, el)
		}
	})
	<-blocked
	<-unblocked
	close(chamber.Got)
	<-drained
	var balconyGot []*xmlstream.Element
	for len(balcony.Got) > 0 {
		balconyGot = append(balconyGot, <-balcony.Got)
	}

	stored, err := store.List(context.Background(), jid.MustParse("juliet@localhost"))
	if err != nil {
		t.Fatal(err)
	}
	romeoBlocked := slices.ContainsFunc(stored, func(j jid.JID) bool { return j.String() == "romeo@localhost" })
	for name, got := range map[string][]*xmlstream.Element{"balcony": balconyGot, "chamber": chamberGot} {
		if blocked := pushedView(got)["romeo@localhost"]; blocked != romeoBlocked {
			t.Errorf("after the pushes %s has romeo blocked %v, the stored blocklist is %v", name, blocked, stored)
		}
	}
}

// pushedView applies the blocklist pushes among got, in order, to an
// empty blocklist: which JIDs a resource that got them holds blocked.
func pushedView(got []*xmlstream.Element) map[string]bool {
	view := map[string]bool{}
	for _, el := range got {
		for _, name := range []string{"block", "unblock"} {
			if p := el.Child(nsBlocking, name); p != nil && el.Attr("type") == "set" {
				for _, it := range p.ChildElements() {
					view[it.Attr("jid")] = name == "block"
				}
			}
		}
	}
	return view
}
