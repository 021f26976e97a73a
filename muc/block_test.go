package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

const nsBlocking = "urn:xmpp:blocking"

// blockItem has c block (or unblock) the JID j (XEP-0191 §3.2, §3.3).
func blockItem(t *testing.T, c *xmpptest.Client, command, j string) {
	t.Helper()
	c.Result("set", "", "<"+command+" xmlns='"+nsBlocking+"'><item jid='"+j+"'/></"+command+">")
}

// say has c send body to the room and reads its own copy back.
func say(t *testing.T, c *xmpptest.Client, nick, body string) {
	t.Helper()
	c.Send("<message type='groupchat' to='" + room + "'><body>" + body + "</body></message>")
	xmpptest.ExpectBody(t, c.NextNamed("message"), room+"/"+nick, body)
}

// away has c, in the room as nick, change its presence there and reads
// its own back.
func away(t *testing.T, c *xmpptest.Client, nick string) {
	t.Helper()
	c.Send("<presence to='" + room + "/" + nick + "'><show>away</show></presence>")
	expectPresence(t, c, room+"/"+nick, "", "110")
}

// expectAway reads a presence from from showing away.
func expectAway(t *testing.T, c *xmpptest.Client, from string) {
	t.Helper()
	if el := c.ExpectPresenceFrom(from); el.Child("jabber:client", "show").Text() != "away" {
		t.Fatalf("%s: got %s, want %s away", c.JID, el, from)
	}
}

// A user who blocked an occupant's room JID (as Conversations and Gajim
// do to block a participant) gets neither that occupant's groupchat
// messages nor presence from a room of this server, which hands them
// straight to his session, as the router would not deliver them
// (XEP-0191 §3.3); they are dropped silently, since an error would make
// the room remove him (XEP-0045 status code 333). The other occupants'
// still come, his own stanzas to the blocked JID are refused, and
// unblocking brings the occupant back.
func TestBlockedOccupantNotDelivered(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	createWithRomeo(t, juliet, romeo)
	nurseEnters(t, juliet, romeo, nurse)

	blockItem(t, romeo, "block", room+"/jul")

	say(t, juliet, "jul", "from juliet")
	xmpptest.ExpectBody(t, nurse.NextNamed("message"), room+"/jul", "from juliet")
	say(t, nurse, "nurse", "from the nurse")
	xmpptest.ExpectBody(t, juliet.NextNamed("message"), room+"/nurse", "from the nurse")
	away(t, juliet, "jul")
	expectAway(t, nurse, room+"/jul")
	away(t, nurse, "nurse")
	expectAway(t, juliet, room+"/nurse")
	// Romeo got the nurse's message and presence, and nothing of
	// juliet's before them.
	xmpptest.ExpectBody(t, romeo.NextNamed("message"), room+"/nurse", "from the nurse")
	expectAway(t, romeo, room+"/nurse")

	romeo.Send("<message type='chat' to='" + room + "/jul' id='pm'><body>psst</body></message>")
	expectBlockedError(t, romeo.NextNamed("message"))

	blockItem(t, romeo, "unblock", room+"/jul")
	say(t, juliet, "jul", "again")
	xmpptest.ExpectBody(t, romeo.NextNamed("message"), room+"/jul", "again")
	juliet.Send("<presence to='" + room + "/jul'/>")
	expectPresence(t, juliet, room+"/jul", "", "110")
	romeo.ExpectPresenceFrom(room + "/jul")
}

// A user who blocked an occupant's room JID and then enters the room
// does not get that occupant's presence with the others'.
func TestBlockedOccupantHiddenOnEntering(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	createWithRomeo(t, juliet, romeo)

	blockItem(t, nurse, "block", room+"/jul")
	enter(t, nurse, room, "nurse", "", []string{"romeo"}, 0, "")
	expectPresence(t, juliet, room+"/nurse", "")
	expectPresence(t, romeo, room+"/nurse", "")
}

// expectBlockedError checks XEP-0191 §3.3's error for a stanza to a
// blocked JID.
func expectBlockedError(t *testing.T, el *xmlstream.Element) {
	t.Helper()
	e := xmpptest.ExpectError(t, el, "not-acceptable")
	if e.Child("urn:xmpp:blocking:errors", "blocked") == nil {
		t.Fatalf("got %s, want an error with <blocked/>", el)
	}
}

// A member who blocked an occupant's room JID gets no XEP-0452 mention
// notification forwarding that occupant's message: it would let the
// occupant reach her, and wake her devices from offline storage,
// whenever he names her (XEP-0191 §3.3). A member who did not block him
// gets hers.
func TestBlockedOccupantMentionsNotForwarded(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	create(t, juliet, room, "jul")
	juliet.Result("set", room, "<query xmlns='"+nsMUC+"#admin'>"+
		"<item jid='romeo@localhost' affiliation='member'/><item jid='nurse@localhost' affiliation='member'/></query>")
	blockItem(t, nurse, "block", room+"/jul")

	body := "nurse, romeo: to the ball"
	juliet.Send("<message type='groupchat' to='" + room + "'><body>" + body + "</body>" +
		mention("xmpp:nurse@localhost") + mention("xmpp:romeo@localhost") + "</message>")
	sid := stanzaID(t, juliet.NextNamed("message"))
	juliet.Ping() // every notification is routed before this answer
	expectNotice(t, romeo.NextNamed("message"), "romeo@localhost", "jul", body, sid)
	nurse.Ping() // nothing came before
}
