package mam_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// TestSentCarbonStanzaIDs: XEP-0313 §3.5: servers MUST NOT include a
// <stanza-id/> in messages addressed to JIDs that may not read that
// archive. The copy of juliet's outgoing message that her other resource
// gets (XEP-0280 sent carbon) must not carry romeo's archive id.
func TestSentCarbonStanzaIDs(t *testing.T) {
	t.Parallel()
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	balcony := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	chamber := xmpptest.Login(t, s, "juliet", "pw", "chamber")
	for _, c := range []*xmpptest.Client{balcony, chamber} {
		c.Send("<iq type='set' id='c'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
		c.NextNamed("iq")
	}
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Online()
	balcony.Send("<message type='chat' to='romeo@localhost' id='m1'><body>hi</body></message>")
	if m := romeo.NextNamed("message"); m.Child(nsSID, "stanza-id") == nil {
		t.Fatalf("romeo got no stanza-id: %s", m)
	}
	carbon := chamber.NextNamed("message")
	sent := carbon.Child("urn:xmpp:carbons:2", "sent")
	if sent == nil {
		t.Fatalf("got %s, want a sent carbon", carbon)
	}
	orig := sent.Child("urn:xmpp:forward:0", "forwarded").Child("jabber:client", "message")
	for _, ch := range orig.ChildElements() {
		if ch.Name.Space == nsSID && ch.Name.Local == "stanza-id" && ch.Attr("by") != "juliet@localhost" {
			t.Errorf("juliet's sent carbon carries a stanza-id of another archive: %s", orig)
		}
	}
}

// TestSentCarbonOwnStanzaID: XEP-0313 §3.5: the server SHOULD include
// the sender's own <stanza-id/> in the message forwarded in a sent carbon
// (XEP-0280), so that the sender's other clients learn the archive id of
// what was sent from elsewhere; the recipient does not get it.
func TestSentCarbonOwnStanzaID(t *testing.T) {
	t.Parallel()
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	balcony := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	chamber := xmpptest.Login(t, s, "juliet", "pw", "chamber")
	chamber.Send("<iq type='set' id='c'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
	chamber.NextNamed("iq")
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Online()
	balcony.Send("<message type='chat' to='romeo@localhost' id='m1'><body>hi</body></message>")
	for _, ch := range romeo.NextNamed("message").ChildElements() {
		if ch.Name.Space == nsSID && ch.Name.Local == "stanza-id" && ch.Attr("by") == "juliet@localhost" {
			t.Errorf("romeo got juliet's archive id: %s", ch)
		}
	}
	sent := chamber.NextNamed("message").Child("urn:xmpp:carbons:2", "sent")
	if sent == nil {
		t.Fatal("no sent carbon")
	}
	orig := sent.Child("urn:xmpp:forward:0", "forwarded").Child("jabber:client", "message")
	var got string
	for _, ch := range orig.ChildElements() {
		if ch.Name.Space == nsSID && ch.Name.Local == "stanza-id" && ch.Attr("by") == "juliet@localhost" {
			got = ch.Attr("id")
		}
	}
	balcony.Send("<iq type='set' id='q1'><query xmlns='urn:xmpp:mam:2'/></iq>")
	res := balcony.NextNamed("message").Child(nsMAM, "result")
	balcony.NextNamed("iq")
	if got == "" || got != res.Attr("id") {
		t.Errorf("the sent carbon's stanza-id by juliet is %q, want her archive's id %s: %s", got, res.Attr("id"), orig)
	}
}
