package muc_test

import (
	"slices"
	"testing"

	"xmppd/muc"
)

// A user whose own affiliation is removed falls back to the affiliation
// of their domain (§9.1): with the domain banned, the occupant is banned
// now and leaves the room (301), as on entering they would be refused.
func TestRemovedOwnAffiliationFallsBackToDomainBan(t *testing.T) {
	t.Parallel()
	s, c := inProcess(t, muc.Config{}, "juliet", "romeo")
	admin := func(id, items string) {
		t.Helper()
		route(t, s, c["juliet"], "<iq type='set' id='"+id+"' to='"+room+"'><query xmlns='"+nsMUC+"#admin'>"+items+"</query></iq>")
	}
	route(t, s, c["juliet"], "<presence to='"+room+"/jul'><x xmlns='"+nsMUC+"'/></presence>")
	route(t, s, c["juliet"], "<iq type='set' id='cfg' to='"+room+"'><query xmlns='"+nsMUC+"#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
	admin("m", "<item jid='romeo@localhost' affiliation='member'/>")
	route(t, s, c["romeo"], "<presence to='"+room+"/romeo'><x xmlns='"+nsMUC+"'/></presence>")
	admin("d", "<item jid='localhost' affiliation='outcast'/>")
	c["juliet"].take()
	if got := c["romeo"].take(); len(got) == 0 {
		t.Fatal("romeo did not enter")
	}

	// Romeo's own membership goes: the domain's ban is his now.
	admin("n", "<item jid='romeo@localhost' affiliation='none'/>")
	var removed bool
	for _, el := range c["romeo"].take() {
		if el.Name.Local == "presence" && el.Attr("type") == "unavailable" && slices.Contains(codes(el), "301") {
			removed = true
		}
	}
	if !removed {
		t.Fatal("romeo, now banned through his domain, was not removed with 301")
	}
	// And he cannot come back.
	route(t, s, c["romeo"], "<presence to='"+room+"/romeo'><x xmlns='"+nsMUC+"'/></presence>")
	got := c["romeo"].take()
	if len(got) != 1 || got[0].Attr("type") != "error" {
		t.Fatalf("romeo entering again: %v", got)
	}
}
