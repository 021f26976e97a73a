package pep_test

import (
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
)

// TestCapsAskedAgainAfterFailedQuery: a session whose answer to the
// server's disco#info query failed (an error, or no answer in time) is
// asked again when it announces the same capabilities in its next
// presence, and then gets the notifications it asks for. Before, the
// failed query was taken as still under way for the session's lifetime:
// the session never got a PEP notification (an OMEMO device list, say).
func TestCapsAskedAgainAfterFailedQuery(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	romeo := online(t, s, "romeo", "orchard")
	subscribe(t, romeo, juliet)
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), "")))

	presence, info := xmpptest.CapsPresence("http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", mood+"+notify")
	romeo.Send(presence)
	romeo.ExpectPresenceFrom(romeo.JID)
	q := romeo.NextNamed("iq")
	if q.Attr("type") != "get" || q.Child("http://jabber.org/protocol/disco#info", "query") == nil {
		t.Fatalf("got %s, want the server's disco#info query", q)
	}
	romeo.Send("<iq type='error' id='" + q.Attr("id") + "' to='" + q.Attr("from") + "'>" +
		"<error type='wait'><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	romeo.Ping()

	romeo.Send(presence)
	romeo.ExpectPresenceFrom(romeo.JID)
	xmpptest.AnswerDisco(t, romeo, info)
	if its := expectEvent(t, romeo); its.Attr("node") != mood || !strings.Contains(its.String(), "<happy") {
		t.Fatalf("got %s, want juliet's last mood", its)
	}
}
