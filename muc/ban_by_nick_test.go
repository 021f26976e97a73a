package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// TestAffiliationByNick: an admin may name the user whose affiliation
// changes by the nick they are in the room with, as Prosody and ejabberd
// let them (clients ban "this occupant"): the change applies to the
// occupant's bare JID (XEP-0045 §9.1). A nick nobody has is
// item-not-found, an item naming nobody bad-request, not jid-malformed.
func TestAffiliationByNick(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := threeInRoom(t, s)

	adminSet(juliet, "n0", "<item nick='nobody' affiliation='outcast'/>")
	xmpptest.ExpectError(t, expectIQ(t, juliet, "n0", "error"), "item-not-found")
	adminSet(juliet, "n1", "<item affiliation='outcast'/>")
	xmpptest.ExpectError(t, expectIQ(t, juliet, "n1", "error"), "bad-request")

	adminSet(juliet, "b", "<item nick='nurse' affiliation='outcast'><reason>gossip</reason></item>")
	expectIQ(t, juliet, "b", "result")
	expectPresence(t, juliet, room+"/nurse", "unavailable", "301")
	expectPresence(t, nurse, room+"/nurse", "unavailable", "110", "301")
	expectPresence(t, romeo, room+"/nurse", "unavailable", "301")

	juliet.Send("<iq type='get' id='l' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item affiliation='outcast'/></query></iq>")
	items := expectIQ(t, juliet, "l", "result").Child(nsMUC+"#admin", "query").ChildElements()
	if len(items) != 1 || items[0].Attr("jid") != "nurse@localhost" {
		t.Fatalf("outcast list: %v, want nurse@localhost", items)
	}
}
