package s2s_test

import (
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// serverHeader opens a server stream from a domain that never
// authenticates.
const serverHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
	" xmlns:db='jabber:server:dialback' from='unproven.test' to='b.test' version='1.0'>"

// Streams that have not authenticated a domain are bounded per address;
// one that authenticated no longer counts.
func TestUnauthenticatedStreamsPerAddress(t *testing.T) {
	_, b, alice, bob := federated(t, func(c *config.Config) { c.Limits.ServerNegotiatingPerAddress = 1 })
	// a.test's stream to b.test authenticates with dialback.
	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>hello</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "hello")

	first := xmpptest.Dial(t, b.S2SAddr)
	first.Send(serverHeader)
	first.ReadHeader()
	if el := first.Next(); el.Name.Local != "features" {
		t.Fatalf("the first unauthenticated stream got %s, want features", el)
	}
	second := xmpptest.Dial(t, b.S2SAddr)
	second.Send(serverHeader)
	second.ReadHeader()
	if el := second.Next(); el.Name.Local != "error" || el.Child("urn:ietf:params:xml:ns:xmpp-streams", "policy-violation") == nil {
		t.Fatalf("the second unauthenticated stream got %s, want a policy-violation stream error", el)
	}
}
