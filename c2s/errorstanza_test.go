package c2s_test

import (
	"crypto/tls"
	"testing"

	"xmppd/internal/xmpptest"
)

// RFC 6120 §8.3.1: an entity that receives an error stanza MUST NOT
// respond to it with a further error stanza. An error stanza that is
// itself malformed (here an IQ error without an id) is dropped, not
// answered with bad-request (which also carried two <error/> children).
func TestInvalidErrorStanzaGetsNoError(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Send("<iq type='error' to='localhost'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	juliet.Ping() // fails if an error reply comes first
}

// The same before resource binding: an IQ error is not answered with
// not-authorized.
func TestErrorIQBeforeBindGetsNoError(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	c := xmpptest.Dial(t, s.C2SAddr)
	c.Open(xmpptest.Domain)
	c.Features()
	c.StartTLS(xmpptest.Domain, xmpptest.TLSConfig(xmpptest.Domain, tls.VersionTLS13))
	c.Features()
	if el := c.Authenticate(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "secret"); el.Name.Local != "success" {
		t.Fatalf("login failed: %s", el)
	}
	c.Open(xmpptest.Domain)
	c.Features()
	c.Send("<iq type='error' id='e1'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	c.Bind("balcony") // fails if an error reply comes first
}
