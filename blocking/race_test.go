package blocking_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/blocking"
	"xmppd/internal/xmpptest"
	"xmppd/router"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// pausingStore is the real blocklist store, which tells paused and
// waits for resume after its first read of a blocklist.
type pausingStore struct {
	blocking.Store
	first          atomic.Bool
	paused, resume chan struct{}
}

func (p *pausingStore) List(ctx context.Context, account jid.JID) ([]jid.JID, error) {
	l, err := p.Store.List(ctx, account)
	if p.first.CompareAndSwap(false, true) {
		close(p.paused)
		<-p.resume
	}
	return l, err
}

// A change another resource makes while a resource's blocklist request
// is being answered reaches that resource: in the answer or pushed after
// it (XEP-0191 §3.2, §3.3). Here the list is read, then (the cached list
// dropped, as when another node of a cluster changed it) chamber blocks
// romeo and the change is pushed, and only then is balcony's answer sent.
func TestChangeWhileBlocklistIsRead(t *testing.T) {
	s := start(t)
	store := &pausingStore{Store: postgres.NewBlocking(s.DB), paused: make(chan struct{}), resume: make(chan struct{})}
	r, m, balcony, chamber := twoResources(t, store, 10)
	iq := func(from *xmpptest.Recorder, typ, payload string) *xmlstream.Element {
		el, err := clientIQ(from, typ, payload)
		if err != nil {
			t.Fatal(err)
		}
		return el
	}

	fetched := make(chan struct{})
	go func() {
		r.FromClient(context.Background(), iq(balcony, "get", "<blocklist xmlns='urn:xmpp:blocking'/>"))
		close(fetched)
	}()
	<-store.paused
	m.Forget(jid.MustParse("juliet@localhost"))
	r.FromClient(context.Background(), iq(chamber, "set", "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block>"))
	close(store.resume)
	<-fetched

	var seen []string
	for len(balcony.Got) > 0 {
		el := <-balcony.Got
		for _, name := range []string{"blocklist", "block"} {
			if p := el.Child(nsBlocking, name); p != nil {
				for _, it := range p.ChildElements() {
					seen = append(seen, it.Attr("jid"))
				}
			}
		}
	}
	if !slices.Contains(seen, "romeo@localhost") {
		t.Fatalf("balcony never learnt that romeo is blocked: neither in its blocklist nor pushed")
	}
}

// twoResources returns a router with the blocking module over store and
// juliet's two bound sessions, balcony and chamber, which keep up to n
// stanzas each.
func twoResources(t *testing.T, store blocking.Store, n int) (r *router.Router, m *blocking.Module, balcony, chamber *xmpptest.Recorder) {
	t.Helper()
	r = router.New(router.Config{Hosts: []string{"localhost"}})
	m, err := blocking.New(blocking.Config{Store: store}, r)
	if err != nil {
		t.Fatal(err)
	}
	m.Register()
	balcony = xmpptest.NewRecorder("juliet@localhost/balcony", n)
	chamber = xmpptest.NewRecorder("juliet@localhost/chamber", n)
	r.Bind(balcony)
	r.Bind(chamber)
	return r, m, balcony, chamber
}

// clientIQ returns the IQ of type typ with payload that from sends.
func clientIQ(from *xmpptest.Recorder, typ, payload string) (*xmlstream.Element, error) {
	return xmlstream.ParseElement([]byte("<iq xmlns='jabber:client' type='"+typ+"' id='x' from='"+from.J.String()+"'>"+payload+"</iq>"), xmlstream.Limits{})
}
