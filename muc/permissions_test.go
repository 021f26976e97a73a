package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// adminSet sends a muc#admin set with items to room.
func adminSet(c *xmpptest.Client, id, items string) {
	c.Send("<iq type='set' id='" + id + "' to='" + room + "'><query xmlns='" + nsMUC + "#admin'>" + items + "</query></iq>")
}

// TestMembersOnlyRegistration: in a members-only room, registering does
// not make a stranger a member (the members list is the room's
// whitelist, §9.4); the refusal is registration-required of type auth,
// as is the refused entry (§7.2.7).
func TestMembersOnlyRegistration(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_membersonly", "1"))
	romeo.Send("<iq type='set' id='reg' to='" + room + "'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
		field("FORM_TYPE", "http://jabber.org/protocol/muc#register") + field("muc#register_roomnick", "romeo") + "</x></query></iq>")
	if e := xmpptest.ExpectError(t, romeo.NextNamed("iq"), "registration-required"); e.Attr("type") != "auth" {
		t.Errorf("error %s, want type auth", e)
	}
	romeo.Send("<presence to='" + room + "/romeo'><x xmlns='" + nsMUC + "'/></presence>")
	if e := xmpptest.ExpectError(t, romeo.ExpectPresenceFrom(room+"/romeo"), "registration-required"); e.Attr("type") != "auth" {
		t.Errorf("error %s, want type auth", e)
	}
}

// TestRoleNames: a role that is not one of XEP-0045's four (an
// affiliation's name, say) is a bad request, not a new role (§8).
func TestRoleNames(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	for _, role := range []string{"owner", "admin", "member", "outcast", "king"} {
		adminSet(juliet, "r", "<item nick='romeo' role='"+role+"'/>")
		xmpptest.ExpectError(t, juliet.NextNamed("iq"), "bad-request")
	}
}

// TestBanSelf: an owner may not ban himself, even with another owner
// left (§9.1: conflict), nor may an admin.
func TestBanSelf(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	adminSet(juliet, "o", "<item jid='romeo@localhost' affiliation='owner'/>")
	answer(juliet, "o")
	adminSet(juliet, "b", "<item jid='juliet@localhost' affiliation='outcast'/>")
	xmpptest.ExpectError(t, answer(juliet, "b"), "conflict")
	adminSet(romeo, "a", "<item jid='juliet@localhost' affiliation='admin'/>")
	answer(romeo, "a")
	adminSet(juliet, "b2", "<item jid='juliet@localhost' affiliation='outcast'/>")
	xmpptest.ExpectError(t, answer(juliet, "b2"), "conflict")
}

// answer reads c's stanzas up to the answer to its IQ id, past the
// presence broadcasts of a change.
func answer(c *xmpptest.Client, id string) *xmlstream.Element {
	for {
		if el := c.Next(); el.Name.Local == "iq" && el.Attr("id") == id {
			return el
		}
	}
}

// TestMemberLists: in a members-only room where everyone sees JIDs, a
// member may read the lists of members, admins and owners, which clients
// need to encrypt messages to everyone in the room (OMEMO); not the
// outcasts. In a room that hides JIDs, the lists stay the admins'.
func TestMemberLists(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_membersonly", "1")+field("muc#roomconfig_whois", "anyone"), "172")
	adminSet(juliet, "m", "<item jid='romeo@localhost' affiliation='member'/>")
	expectIQ(t, juliet, "m", "result")
	expectInvitation(t, romeo.NextNamed("message"), "juliet@localhost", "", "") // §9.5
	list := func(aff string) *xmlstream.Element {
		romeo.Send("<iq type='get' id='l' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item affiliation='" + aff + "'/></query></iq>")
		return romeo.NextNamed("iq")
	}
	for aff, want := range map[string]string{"member": "romeo@localhost", "owner": "juliet@localhost"} {
		res := list(aff)
		it := res.Child(nsMUC+"#admin", "query").Child(nsMUC+"#admin", "item")
		if res.Attr("type") != "result" || it == nil || it.Attr("jid") != want {
			t.Fatalf("the %s list for a member: %s, want %s on it", aff, res, want)
		}
	}
	xmpptest.ExpectError(t, list("outcast"), "forbidden")

	configure(t, juliet, room, field("muc#roomconfig_whois", "moderators"), "173")
	xmpptest.ExpectError(t, list("member"), "forbidden")
}
