package s2s_test

import (
	"crypto/tls"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestStartTLSWhileDialbackPending: with require_tls off, a peer sends a
// dialback key on the plain stream and asks for STARTTLS before the
// verdict. What was learnt on the plain stream must not carry over to the
// encrypted one (RFC 6120 §5.4.3.3), as TestStartTLSAfterAuthentication
// checks for a verdict already given: b.test refuses STARTTLS while a key
// is being verified, rather than authenticating c.test on the encrypted
// stream with a key checked for the plain stream's id.
func TestStartTLSWhileDialbackPending(t *testing.T) {
	_, b, _, bob := federated(t, func(c *config.Config) { c.S2S.RequireTLS = false })
	// c.test's authoritative server, which b.test asks about the key.
	l := listen(t)
	b.S2S().SetRoute("c.test", l.Addr().String())

	c := openPeer(t, b, "c.test", "b.test", false)
	c.Send("<db:result from='c.test' to='b.test'>some key</db:result><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")

	el, err := c.NextErr()
	if err != nil {
		t.Fatal(err)
	}
	if el.Name.Local == "error" {
		if el.Child("urn:ietf:params:xml:ns:xmpp-streams", "policy-violation") == nil {
			t.Fatalf("got %s, want policy-violation", el)
		}
		return
	}
	if el.Name.Local != "proceed" {
		t.Fatalf("got %s, want a stream error or <proceed/>", el)
	}
	// b.test connects to c.test's server to verify the key; it is not
	// answered until the encrypted stream is open.
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	auth := &xmpptest.Client{T: t, Conn: nc}
	auth.ReadHeader()
	auth.Send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
		" xmlns:db='jabber:server:dialback' version='1.0' from='c.test' to='b.test' id='v1'><stream:features/>")
	verify := auth.NextNamed("verify")

	// b.test went on to TLS with the verification under way.
	tc := tls.Client(c.Conn, xmpptest.TLSConfig("b.test", tls.VersionTLS13))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("STARTTLS handshake: %v", err)
	}
	c.Conn = tc
	c.Send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
		" xmlns:db='jabber:server:dialback' version='1.0' from='c.test' to='b.test'>")
	c.ReadHeader()
	c.Features()
	// Now c.test's server says the key (for the plain stream's id) is
	// right.
	auth.Send("<db:verify from='c.test' to='b.test' id='" + verify.Attr("id") + "' type='valid'/>")
	if r := c.NextNamed("result"); r.Attr("type") == "valid" {
		c.Send("<message from='carol@c.test/x' to='bob@b.test' type='chat'><body>never proven here</body></message>")
		if m := bob.NextNamed("message"); m.Attr("from") == "carol@c.test/x" {
			t.Fatal("c.test, whose key was checked for the plain stream, is authenticated on the encrypted stream without proving anything there")
		}
	}
}
