package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// TestRefusedAffiliationChangeKeepsNick: an affiliation change the room
// refuses (here the last owner giving up ownership, §10.2: conflict)
// changes nothing, not even the nickname the owner registered (§7.10):
// it stays hers, and nobody else may enter with it.
func TestRefusedAffiliationChangeKeepsNick(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, nurse := online(t, s, "juliet"), online(t, s, "nurse")
	create(t, juliet, room, "jul")
	juliet.Send("<iq type='set' id='r' to='" + room + "'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
		field("FORM_TYPE", "http://jabber.org/protocol/muc#register") + field("muc#register_roomnick", "capulet") + "</x></query></iq>")
	expectIQ(t, juliet, "r", "result")

	adminSet(juliet, "o", "<item jid='juliet@localhost' affiliation='none'/>")
	xmpptest.ExpectError(t, answer(juliet, "o"), "conflict")

	juliet.Send("<iq type='get' id='g' to='" + room + "'><query xmlns='jabber:iq:register'/></iq>")
	q := expectIQ(t, juliet, "g", "result").Child("jabber:iq:register", "query")
	if q.Child("jabber:iq:register", "registered") == nil || q.Child("jabber:iq:register", "username").Text() != "capulet" {
		t.Errorf("juliet's registration after a refused change: %s, want the nickname capulet", q)
	}
	nurse.Send("<presence to='" + room + "/capulet'><x xmlns='" + nsMUC + "'/></presence>")
	xmpptest.ExpectError(t, nurse.ExpectPresenceFrom(room+"/capulet"), "conflict")
}
