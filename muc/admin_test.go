package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// XEP-0045 §8.2, §9.1, §9.3: the room removes a kicked or banned
// occupant, informs the moderator or admin of success, and only then
// tells the remaining occupants; a new member's presence too comes after
// the admin's result.
func TestAdminResultBeforeRoom(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := threeInRoom(t, s)

	adminSet(juliet, "k", "<item nick='nurse' role='none'><reason>gossip</reason></item>")
	expectPresence(t, nurse, room+"/nurse", "unavailable", "110", "307")
	expectIQ(t, juliet, "k", "result")
	expectPresence(t, juliet, room+"/nurse", "unavailable", "307")
	expectPresence(t, romeo, room+"/nurse", "unavailable", "307")

	nurseEnters(t, juliet, romeo, nurse)
	adminSet(juliet, "b", "<item jid='nurse@localhost' affiliation='outcast'/>")
	expectIQ(t, juliet, "b", "result")
	expectPresence(t, juliet, room+"/nurse", "unavailable", "301")
	expectPresence(t, nurse, room+"/nurse", "unavailable", "110", "301")
	expectPresence(t, romeo, room+"/nurse", "unavailable", "301")

	adminSet(juliet, "m", "<item jid='romeo@localhost' affiliation='member'/>")
	expectIQ(t, juliet, "m", "result")
	if it := item(t, expectPresence(t, juliet, room+"/romeo", "")); it.Attr("affiliation") != "member" {
		t.Fatalf("romeo's presence after the change: %s", it)
	}
	expectPresence(t, romeo, room+"/romeo", "", "110")
}

// XEP-0045 §9.8, §5.2.1: the moderator list is an admin's to read, by
// affiliation, in the room or not; so are the other occupants by role,
// whose moderator an admin is whenever in the room. Others outside the
// room, and participants in it, are refused.
func TestRoleListsForAbsentAdmin(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse, tybalt := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse"), online(t, s, "tybalt")
	createWithRomeo(t, juliet, romeo)
	adminSet(juliet, "a", "<item jid='nurse@localhost' affiliation='admin'/>")
	expectIQ(t, juliet, "a", "result")

	list := func(c *xmpptest.Client, role string) []string {
		c.Send("<iq type='get' id='l' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item role='" + role + "'/></query></iq>")
		res := c.NextNamed("iq")
		if res.Attr("type") != "result" {
			t.Fatalf("%s asking for the %s list: got %s, want the list", c.JID, role, res)
		}
		var nicks []string
		for _, it := range res.Child(nsMUC+"#admin", "query").ChildElements() {
			nicks = append(nicks, it.Attr("nick"))
		}
		return nicks
	}
	if got := list(nurse, "moderator"); len(got) != 1 || got[0] != "jul" {
		t.Errorf("moderator list for an admin outside the room: %v, want [jul]", got)
	}
	if got := list(nurse, "participant"); len(got) != 1 || got[0] != "romeo" {
		t.Errorf("participant list for an admin outside the room: %v, want [romeo]", got)
	}
	for _, c := range []*xmpptest.Client{tybalt, romeo} {
		c.Send("<iq type='get' id='l' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item role='moderator'/></query></iq>")
		xmpptest.ExpectError(t, c.NextNamed("iq"), "forbidden")
	}
}
