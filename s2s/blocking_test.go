package s2s_test

import (
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// TestBlockedRemoteContact: bob@b.test blocks alice@a.test, who shares
// his presence and his moods. She is told he went offline (XEP-0191
// §3.3), and then gets neither his presence nor his personal events
// (XEP-0163 §4.3.3), which b.test sends in his name: the next thing she
// gets from b.test is carol's message, sent after them on the same
// stream.
func TestBlockedRemoteContact(t *testing.T) {
	_, b, alice, bob := federated(t)
	subscribeAcross(alice, bob, "alice@a.test", "bob@b.test")
	subscribeAcross(bob, alice, "bob@b.test", "alice@a.test")
	moodCaps, moodInfo := xmpptest.CapsPresence("http://jabber.org/protocol/caps", mood+"+notify")
	alice.Send(moodCaps)
	publishItem(bob, mood, "m1")
	for el := nextMessage(alice, moodInfo); el.Child(nsEvent, "event") == nil; el = nextMessage(alice, moodInfo) {
	}

	bob.Send("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='alice@a.test'/></block></iq>")
	nextWhere(alice, "bob's unavailable presence", func(el *xmlstream.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == "bob@b.test/laptop" && el.Attr("type") == "unavailable"
	})
	nextWhere(bob, "the block's result", func(el *xmlstream.Element) bool { return el.Attr("id") == "b1" })
	bob.Send("<presence><status>not for alice</status></presence>")
	publishItem(bob, mood, "m2")

	b.AddUser(t, "carol", "b.test", "carol pw")
	carol := xmpptest.LoginAt(t, b, "b.test", "carol", "carol pw", "desk")
	carol.Send("<message to='alice@a.test/phone' type='chat' id='c1'><body>after</body></message>")
	for {
		el := alice.Next()
		switch {
		case el.Name.Local == "iq" && el.Attr("type") == "get":
			alice.Send("<iq type='result' id='" + el.Attr("id") + "' to='" + el.Attr("from") + "'>" + moodInfo + "</iq>")
		case el.Attr("from") == "bob@b.test/laptop" || el.Attr("from") == "bob@b.test":
			t.Fatalf("alice, blocked by bob, got %s", el)
		case el.Name.Local == "message" && el.Attr("id") == "c1":
			return
		}
	}
}
