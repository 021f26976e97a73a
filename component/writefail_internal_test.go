package component

import (
	"net"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// recorder is a bound client session that keeps what it is given.
type recorder struct {
	j   jid.JID
	got chan *xmlstream.Element
}

func (r *recorder) JID() jid.JID                       { return r.j }
func (r *recorder) Deliver(st *xmlstream.Element) bool { r.got <- st; return true }
func (r *recorder) End(condition, text string)         {}

// Stanzas in a write to the component that fails may not have reached
// it: once the stream has ended they are answered with errors, as those
// still queued are, rather than vanish.
func TestFailedWriteBounced(t *testing.T) {
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	alice := &recorder{jid.MustParse("alice@localhost/laptop"), make(chan *xmlstream.Element, 4)}
	r.Bind(alice)
	s := New(Config{Secrets: map[string]string{"gw.localhost": "secret"}}, r)
	ours, theirs := net.Pipe()
	theirs.Close() // every write fails
	c := newStream(s, ours)
	c.link = s.links["gw.localhost"]
	if !c.link.claim(c) {
		t.Fatal("the stream could not claim its domain")
	}

	m := xmlstream.NewElement(stanza.NSClient, "message", "from", alice.j.String(), "to", "bob@gw.localhost", "id", "m1", "type", "chat")
	if !c.enqueue(m) {
		t.Fatal("the message was not queued")
	}
	c.writeQueued() // returns at the failed write
	// What serve does once the reader has seen the connection close.
	c.link.release(c)
	c.bounceQueued()

	select {
	case e := <-alice.got:
		cond := e.Child(stanza.NSClient, "error").Child(stanza.NSStanzas, stanza.ServiceUnavailable)
		if e.Attr("id") != "m1" || e.Attr("type") != "error" || cond == nil {
			t.Fatalf("alice got %s, want m1's service-unavailable error", e)
		}
	default:
		t.Fatal("the message in the failed write was dropped without an error")
	}
}
