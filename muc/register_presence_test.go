package muc_test

import (
	"testing"
)

// TestRegistrationAnnouncesMembership: an occupant who registers with
// an open room becomes a member, and the room sends the occupants his
// updated presence with the new affiliation (XEP-0045 §7.10: MUST),
// himself with 110.
func TestRegistrationAnnouncesMembership(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	romeo.Send("<iq type='set' id='r' to='" + room + "'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
		field("FORM_TYPE", "http://jabber.org/protocol/muc#register") + field("muc#register_roomnick", "romeo") + "</x></query></iq>")
	if it := item(t, expectPresence(t, romeo, room+"/romeo", "", "110")); it.Attr("affiliation") != "member" {
		t.Errorf("romeo's own presence after registering: %s, want member", it)
	}
	expectIQ(t, romeo, "r", "result")
	// A round trip after the result: the presence, if any, came first.
	juliet.Send("<iq type='get' id='p' to='" + room + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	if it := item(t, expectPresence(t, juliet, room+"/romeo", "")); it.Attr("affiliation") != "member" || it.Attr("role") != "participant" {
		t.Errorf("romeo's presence to juliet after registering: %s, want member and participant", it)
	}
	expectIQ(t, juliet, "p", "result")
}
