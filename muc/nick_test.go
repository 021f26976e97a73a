package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// A nickname registered in a decomposed Unicode form (e + U+0301) is the
// same nickname as the room JID resource it becomes (precomposed é, NFC,
// as every JID's resourcepart is prepared): nobody else may enter with
// it (XEP-0045 §7.10, §7.2.9).
func TestRegisteredNickIsNormalised(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	create(t, juliet, room, "jul")

	romeo.Send("<iq type='set' id='r' to='" + room + "'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
		field("FORM_TYPE", "http://jabber.org/protocol/muc#register") + field("muc#register_roomnick", "rene\u0301") + "</x></query></iq>")
	expectIQ(t, romeo, "r", "result")

	nurse.Send("<presence to='" + room + "/ren\u00e9'><x xmlns='" + nsMUC + "'/></presence>")
	el := nurse.NextNamed("presence")
	if el.Attr("type") != "error" {
		t.Fatalf("nurse entered with romeo's registered nickname: %s", el)
	}
	xmpptest.ExpectError(t, el, "conflict")
}
