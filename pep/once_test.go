package pep_test

import (
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// TestLastItemOnceToSubscriber: a new subscriber's session gets the
// last item once when the subscription is approved (XEP-0163 §4.3.4),
// and not again when it asks to subscribe once more: the server
// answers such a request again (RFC 6121 §3.1.3), but the contact is no
// new subscriber. Once it unsubscribed, subscribing makes it one again.
func TestLastItemOnceToSubscriber(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), "")))
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	ok(t, romeo.IQ("set", "", publish(mood, "r", "<mood xmlns='"+mood+"'><calm/></mood>", "")))
	presence, info := xmpptest.CapsPresence("http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", mood+"+notify")
	romeo.Send(presence)
	romeo.ExpectPresenceFrom(romeo.JID)
	xmpptest.AnswerDisco(t, romeo, info)
	// His own last mood: his capabilities were answered, before he
	// subscribes.
	if its := expectEventFrom(t, romeo, "romeo@localhost"); !strings.Contains(its.String(), "<calm") {
		t.Fatalf("got %s, want romeo's own last mood", its)
	}

	subscribe(t, romeo, juliet)
	if evs := eventsUntilMessage(t, juliet, romeo); len(evs) != 1 || !strings.Contains(evs[0].String(), "<happy") {
		t.Fatalf("the new subscriber got the events %v, want juliet's last mood once", evs)
	}
	romeo.Send("<presence to='juliet@localhost' type='subscribe'/>")
	if evs := eventsUntilMessage(t, romeo, romeo); len(evs) != 0 {
		t.Fatalf("asking to subscribe again brought the events %v, want none", evs)
	}

	// Subscribed anew after he unsubscribed, he is a new subscriber.
	romeo.Send("<presence to='juliet@localhost' type='unsubscribe'/>")
	for p := juliet.NextNamed("presence"); p.Attr("type") != "unsubscribe"; p = juliet.NextNamed("presence") {
	}
	for p := romeo.NextNamed("presence"); p.Attr("type") != "unavailable"; p = romeo.NextNamed("presence") {
	}
	subscribe(t, romeo, juliet)
	if evs := eventsUntilMessage(t, juliet, romeo); len(evs) != 1 || !strings.Contains(evs[0].String(), "<happy") {
		t.Fatalf("subscribed anew, romeo got the events %v, want juliet's last mood once", evs)
	}
}

// eventsUntilMessage has from send to a chat message and returns the PEP
// events to got before it, in order: what from's earlier stanzas brought.
func eventsUntilMessage(t *testing.T, from, to *xmpptest.Client) []*xmlstream.Element {
	t.Helper()
	from.Send("<message to='" + to.JID + "' type='chat' id='after'><body>after</body></message>")
	var events []*xmlstream.Element
	for el := to.Next(); el.Name.Local != "message" || el.Attr("id") != "after"; el = to.Next() {
		if ev := el.Child(nsEvent, "event"); el.Name.Local == "message" && ev != nil {
			events = append(events, ev.FirstChildElement())
		}
	}
	return events
}

// expectEventFrom reads a headline from c and returns the child of the
// PEP event that from sent in it.
func expectEventFrom(t *testing.T, c *xmpptest.Client, from string) *xmlstream.Element {
	t.Helper()
	msg := c.NextNamed("message")
	ev := msg.Child(nsEvent, "event")
	if msg.Attr("from") != from || ev == nil {
		t.Fatalf("got %s, want a PEP event from %s", msg, from)
	}
	return ev.FirstChildElement()
}
