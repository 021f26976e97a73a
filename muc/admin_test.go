package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

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
