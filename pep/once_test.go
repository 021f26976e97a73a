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
// new subscriber.
func TestLastItemOnceToSubscriber(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), "")))
	romeo, _ := moodWatcher(t, s)

	subscribe(t, romeo, juliet)
	if evs := eventsUntilMessage(t, juliet, romeo); len(evs) != 1 || !strings.Contains(evs[0].String(), "<happy") {
		t.Fatalf("the new subscriber got the events %v, want juliet's last mood once", evs)
	}
	romeo.Send("<presence to='juliet@localhost' type='subscribe'/>")
	if evs := eventsUntilMessage(t, romeo, romeo); len(evs) != 0 {
		t.Fatalf("asking to subscribe again brought the events %v, want none", evs)
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
