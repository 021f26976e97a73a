package cluster_test

import (
	"slices"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// TestReroutedToAnotherResource: node b falls silent while alice's
// messages to bob wait there, unacknowledged, in the session of his phone,
// his best resource. a routes them again to bob's other resource, his
// desk on a, which is online, as the router routes to a bare JID: not
// through offline storage, which would mark them delayed and refuse the
// one that asks not to be stored.
func TestReroutedToAnotherResource(t *testing.T) {
	a, b := twoNodes(t, "alice", "bob")
	desk := xmpptest.Login(t, a, "bob", "bob pw", "desk")
	desk.Send("<presence><priority>1</priority></presence>")
	desk.ExpectPresenceFrom("bob@localhost/desk")
	phone := xmpptest.Login(t, b, "bob", "bob pw", "phone")
	phoneSM := phone.EnableSM()
	phoneSM.AutoAck = false // the phone reads, but never acknowledges
	phoneSM.Send("<presence><priority>5</priority></presence>")
	sees(t, a, "bob@localhost/phone", "")
	alice := login(t, a, "alice", "desk")
	aliceSM := alice.EnableSM()

	bodies := []string{"to the best", "not for storage"}
	aliceSM.Send("<message to='bob@localhost' type='chat' id='m1'><body>" + bodies[0] + "</body></message>")
	aliceSM.Send("<message to='bob@localhost' type='chat' id='m2'><body>" + bodies[1] + "</body>" +
		"<no-store xmlns='urn:xmpp:hints'/></message>")
	for _, body := range bodies {
		xmpptest.ExpectBody(t, nextMessage(phone), "alice@localhost/desk", body)
	}
	if h := aliceSM.Handled(); h != 0 {
		t.Fatalf("alice's count is %d before bob's phone acknowledged anything, want 0", h)
	}

	// Once a counts b as gone, it routes the messages again, then owes
	// alice an <a/>.
	b.Cluster().Sever()
	until(alice, "<a h='2'/>", func(el *xmlstream.Element) bool { return el.Name.Local == "a" && el.Attr("h") == "2" })
	desk.Send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	var got []string
	until(desk, "the ping's answer", func(el *xmlstream.Element) bool {
		if el.Name.Local == "message" && el.Attr("from") == "alice@localhost/desk" {
			body := el.Child("jabber:client", "body").Text()
			if el.Child("urn:xmpp:delay", "delay") != nil {
				body += " (delayed: from offline storage)"
			}
			got = append(got, body)
		}
		return el.Name.Local == "iq" && el.Attr("id") == "barrier"
	})
	if !slices.Equal(got, bodies) {
		t.Fatalf("bob's desk, online on a, got %q, want %q", got, bodies)
	}
}

// TestNotReroutedToAResourceThatHasIt: bob's desk, on a, and his phone, on
// b, have the same priority, so a message to his bare JID reaches both
// (RFC 6121 §8.5.2.1.1). When b falls silent before the phone
// acknowledged it, a must not route it again to the desk, which has it
// already: the user has it while one of them is bound.
func TestNotReroutedToAResourceThatHasIt(t *testing.T) {
	a, b := twoNodes(t, "alice", "bob")
	desk := login(t, a, "bob", "desk")
	phone := xmpptest.Login(t, b, "bob", "bob pw", "phone")
	phoneSM := phone.EnableSM()
	phoneSM.AutoAck = false // the phone reads, but never acknowledges
	phoneSM.Send("<presence/>")
	sees(t, a, "bob@localhost/phone", "")
	alice := login(t, a, "alice", "desk")
	aliceSM := alice.EnableSM()

	aliceSM.Send("<message to='bob@localhost' type='chat' id='m1'><body>to both</body></message>")
	alice.Send("<r xmlns='urn:xmpp:sm:3'/>") // answered once the phone's copy is safe
	xmpptest.ExpectBody(t, nextMessage(phone), "alice@localhost/desk", "to both")
	xmpptest.ExpectBody(t, nextMessage(desk), "alice@localhost/desk", "to both")

	b.Cluster().Sever()
	until(alice, "<a h='1'/>", func(el *xmlstream.Element) bool { return el.Name.Local == "a" && el.Attr("h") == "1" })
	desk.Send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	until(desk, "the ping's answer", func(el *xmlstream.Element) bool {
		if el.Name.Local == "message" && el.Attr("from") == "alice@localhost/desk" {
			t.Fatalf("bob's desk got the message again: %s", el)
		}
		return el.Name.Local == "iq" && el.Attr("id") == "barrier"
	})
}
