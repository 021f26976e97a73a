package muc_test

import (
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// expectWhy checks that the muc#user item of el names the actor nick and
// the reason.
func expectWhy(t *testing.T, el *xmlstream.Element, actor, reason string) {
	t.Helper()
	it := item(t, el)
	if a := it.Child(nsUser, "actor"); a == nil || a.Attr("nick") != actor || text(it.Child(nsUser, "reason")) != reason {
		t.Fatalf("got %s, want actor %s and reason %q", el, actor, reason)
	}
}

// text is el's text, or "" when el is nil.
func text(el *xmlstream.Element) string {
	if el == nil {
		return ""
	}
	return el.Text()
}

// expectJIDs reads the presence of each occupant of room that jids names
// by nick, in any order, and checks that it carries the real JID given.
func expectJIDs(t *testing.T, c *xmpptest.Client, jids map[string]string) {
	t.Helper()
	for range jids {
		el := c.NextNamed("presence")
		want, ok := jids[strings.TrimPrefix(el.Attr("from"), room+"/")]
		if !ok || el.Attr("type") != "" || item(t, el).Attr("jid") != want {
			t.Fatalf("%s: got %s, want the presence of one of %v with its real JID", c.JID, el, jids)
		}
	}
}

// XEP-0045 §10.2.1, §8.2, §9.4: occupants learn of configuration changes
// (104, with 172 and 173 for anonymity), who kicked whom and why, and are
// removed with 322 when the room becomes members-only.
func TestStatusCodes(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	createWithRomeo(t, juliet, romeo)
	enterNurse := func() {
		nurseEnters(t, juliet, romeo, nurse)
	}
	enterNurse()
	others := []*xmpptest.Client{romeo, nurse}

	configure(t, juliet, room, field("muc#roomconfig_whois", "anyone"), "172")
	for _, c := range others {
		expectConfigNotice(t, c, room, "172")
	}
	// Those who could not see the real JIDs get them now, with the
	// occupants' presence again; juliet, a moderator, had them.
	expectJIDs(t, romeo, map[string]string{"jul": "juliet@localhost/r", "nurse": "nurse@localhost/r"})
	expectJIDs(t, nurse, map[string]string{"jul": "juliet@localhost/r", "romeo": "romeo@localhost/r"})
	configure(t, juliet, room, field("muc#roomconfig_roomname", "Verona"))
	for _, c := range others {
		expectConfigNotice(t, c, room)
	}
	configure(t, juliet, room, field("muc#roomconfig_whois", "moderators"), "173")
	for _, c := range others {
		expectConfigNotice(t, c, room, "173")
	}

	juliet.Send("<iq type='set' id='k' to='" + room + "'><query xmlns='" + nsMUC + "#admin'>" +
		"<item nick='nurse' role='none'><reason>gossip</reason></item></query></iq>")
	expectIQ(t, juliet, "k", "result")
	expectWhy(t, expectPresence(t, juliet, room+"/nurse", "unavailable", "307"), "jul", "gossip")
	expectWhy(t, expectPresence(t, nurse, room+"/nurse", "unavailable", "110", "307"), "jul", "gossip")
	expectWhy(t, expectPresence(t, romeo, room+"/nurse", "unavailable", "307"), "jul", "gossip")

	// Members-only: romeo, a member, stays; nurse goes with 322.
	enterNurse()
	juliet.Send("<iq type='set' id='m' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item jid='romeo@localhost' affiliation='member'/></query></iq>")
	expectIQ(t, juliet, "m", "result")
	expectPresence(t, juliet, room+"/romeo", "")
	expectPresence(t, romeo, room+"/romeo", "", "110")
	expectPresence(t, nurse, room+"/romeo", "")
	submit(juliet, room, field("muc#roomconfig_membersonly", "1"))
	expectConfigNotice(t, juliet, room)
	expectPresence(t, juliet, room+"/nurse", "unavailable", "322")
	expectIQ(t, juliet, "cfg", "result")
	expectConfigNotice(t, romeo, room)
	expectPresence(t, romeo, room+"/nurse", "unavailable", "322")
	expectConfigNotice(t, nurse, room)
	expectPresence(t, nurse, room+"/nurse", "unavailable", "110", "322")
	nurse.Send("<presence to='" + room + "/nurse'><x xmlns='" + nsMUC + "'/></presence>")
	xmpptest.ExpectError(t, nurse.ExpectPresenceFrom(room+"/nurse"), "registration-required")
}

// TestGoneOccupant: an error from an occupant's session that says it is
// not there (its server lost it, its client went away without leaving)
// takes it out of the room, with status 333; other errors do not.
func TestGoneOccupant(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	createWithRomeo(t, juliet, romeo)
	nurseEnters(t, juliet, romeo, nurse)

	nurse.Send("<message type='error' to='" + room + "/jul'><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
	romeo.Send("<presence type='error' to='" + room + "/romeo'><error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>")
	expectPresence(t, juliet, room+"/romeo", "unavailable", "333")
	expectPresence(t, nurse, room+"/romeo", "unavailable", "333")
	nurse.Send("<message type='error' to='" + room + "/jul'><error type='wait'><recipient-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
	expectPresence(t, juliet, room+"/nurse", "unavailable", "333")
}

// XEP-0045 §10.9: an owner destroys the room; each occupant gets its own
// unavailable presence (110) with <destroy/>, its alternate venue,
// reason and the venue's password, and the room is gone.
func TestDestroy(t *testing.T) {
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)

	romeo.Send("<iq type='set' id='d0' to='" + room + "'><query xmlns='" + nsMUC + "#owner'><destroy/></query></iq>")
	xmpptest.ExpectError(t, expectIQ(t, romeo, "d0", "error"), "forbidden")

	juliet.Send("<iq type='set' id='d1' to='" + room + "'><query xmlns='" + nsMUC + "#owner'>" +
		"<destroy jid='mantua@" + service + "'><reason>moving</reason><password>exile</password></destroy></query></iq>")
	for _, c := range []struct {
		client *xmpptest.Client
		nick   string
	}{{juliet, "jul"}, {romeo, "romeo"}} {
		p := expectPresence(t, c.client, room+"/"+c.nick, "unavailable", "110")
		d := p.Child(nsUser, "x").Child(nsUser, "destroy")
		if d == nil || d.Attr("jid") != "mantua@"+service || text(d.Child(nsUser, "reason")) != "moving" ||
			text(d.Child(nsUser, "password")) != "exile" {
			t.Errorf("%s got %s, want <destroy/> naming mantua, the reason and the venue's password", c.nick, p)
		}
	}
	expectIQ(t, juliet, "d1", "result")

	juliet.Send("<iq type='get' id='i1' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	xmpptest.ExpectError(t, expectIQ(t, juliet, "i1", "error"), "item-not-found")
}

// TestNewModeratorSeesJIDs: an occupant made moderator of a
// semi-anonymous room may see the real JIDs (§5.2.1), and gets the other
// occupants' presence again with them, as Prosody sends it: clients
// learn real JIDs from presence alone (OMEMO encrypts to them).
func TestNewModeratorSeesJIDs(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	createWithRomeo(t, juliet, romeo)
	nurseEnters(t, juliet, romeo, nurse)

	juliet.Send("<iq type='set' id='mod' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item nick='romeo' role='moderator'/></query></iq>")
	expectIQ(t, juliet, "mod", "result")
	expectPresence(t, juliet, room+"/romeo", "")
	expectPresence(t, nurse, room+"/romeo", "")
	if it := item(t, expectPresence(t, romeo, room+"/romeo", "", "110")); it.Attr("role") != "moderator" {
		t.Fatalf("romeo's role: %s", it)
	}
	expectJIDs(t, romeo, map[string]string{"jul": "juliet@localhost/r", "nurse": "nurse@localhost/r"})

	// Made an admin, nurse becomes a moderator too.
	juliet.Send("<iq type='set' id='adm' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item jid='nurse@localhost' affiliation='admin'/></query></iq>")
	expectIQ(t, juliet, "adm", "result")
	expectPresence(t, nurse, room+"/nurse", "", "110")
	expectJIDs(t, nurse, map[string]string{"jul": "juliet@localhost/r", "romeo": "romeo@localhost/r"})
}
