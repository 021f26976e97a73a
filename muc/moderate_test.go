package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

const (
	nsModerate = "urn:xmpp:message-moderate:1"
	nsRetract  = "urn:xmpp:message-retract:1"
)

// moderate is a XEP-0425 request to retract the message sid.
func moderate(id, sid, reason string) string {
	return "<iq type='set' id='" + id + "' to='" + room + "'><moderate xmlns='" + nsModerate + "' id='" + sid + "'>" +
		"<retract xmlns='" + nsRetract + "'/><reason>" + reason + "</reason></moderate></iq>"
}

// expectModerated checks that el (a <retract/> or <retracted/>) names
// the moderator jul, with an occupant id, and the reason.
func expectModerated(t *testing.T, el *xmlstream.Element, reason string) {
	t.Helper()
	m := el.Child(nsModerate, "moderated")
	if m == nil || m.Attr("by") != room+"/jul" || m.Child("urn:xmpp:occupant-id:0", "occupant-id") == nil ||
		el.Child(nsRetract, "reason").Text() != reason {
		t.Fatalf("got %s, want moderated by %s/jul for %q", el, room, reason)
	}
}

// XEP-0425: a moderator retracts a message by its stanza id; the
// occupants are told, the archive keeps a tombstone without the text,
// and nobody else may do it.
func TestModeration(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	createWithRomeo(t, juliet, romeo)
	nurseEnters(t, juliet, romeo, nurse)
	all := []*xmpptest.Client{juliet, romeo, nurse}

	juliet.Send("<iq type='get' id='d' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if q := expectIQ(t, juliet, "d", "result").Child("http://jabber.org/protocol/disco#info", "query"); !hasFeature(q, nsModerate) {
		t.Fatalf("room info without %s: %s", nsModerate, q)
	}

	romeo.Send("<message type='groupchat' to='" + room + "' id='spam'><body>cheap potions</body>" +
		"<origin-id xmlns='urn:xmpp:sid:0' id='o-spam'/></message>")
	var sid string
	for _, c := range all {
		sid = stanzaID(t, c.NextNamed("message"))
	}

	romeo.Send(moderate("r1", sid, "mine"))
	xmpptest.ExpectError(t, expectIQ(t, romeo, "r1", "error"), "forbidden")
	juliet.Send(moderate("r2", "424242424242", "?"))
	xmpptest.ExpectError(t, expectIQ(t, juliet, "r2", "error"), "item-not-found")
	juliet.Send(moderate("r3", "not-a-number", "?"))
	xmpptest.ExpectError(t, expectIQ(t, juliet, "r3", "error"), "item-not-found")

	juliet.Send(moderate("r4", sid, "spam"))
	for _, c := range all {
		el := c.NextNamed("message")
		r := el.Child(nsRetract, "retract")
		if el.Attr("from") != room || el.Attr("type") != "groupchat" || r == nil || r.Attr("id") != sid {
			t.Fatalf("%s: got %s, want the room's retraction of %s", c.JID, el, sid)
		}
		expectModerated(t, r, "spam")
	}
	expectIQ(t, juliet, "r4", "result")

	// The archive: the tombstone under the same id, then the retraction.
	romeo.Send("<iq type='set' id='q' to='" + room + "'><query xmlns='urn:xmpp:mam:2' queryid='a'/></iq>")
	var got []*xmlstream.Element
	for range 2 {
		res := romeo.NextNamed("message").Child("urn:xmpp:mam:2", "result")
		got = append(got, res.Child("urn:xmpp:forward:0", "forwarded").Child("jabber:client", "message"))
		if len(got) == 1 && res.Attr("id") != sid {
			t.Fatalf("tombstone under id %s, want %s", res.Attr("id"), sid)
		}
	}
	expectIQ(t, romeo, "q", "result")
	tomb := got[0]
	rd := tomb.Child(nsRetract, "retracted")
	if tomb.Attr("from") != room+"/romeo" || tomb.Child("jabber:client", "body") != nil || rd == nil || rd.Attr("stamp") == "" ||
		tomb.Child("urn:xmpp:sid:0", "origin-id") == nil || tomb.Child("urn:xmpp:occupant-id:0", "occupant-id") == nil {
		t.Fatalf("archived tombstone: %s", tomb)
	}
	expectModerated(t, rd, "spam")
	if r := got[1].Child(nsRetract, "retract"); r == nil || r.Attr("id") != sid {
		t.Fatalf("archived retraction: %s", got[1])
	}

	// Joining later, the history has no trace of the text either.
	mercutio := online(t, s, "mercutio")
	hist := enter(t, mercutio, room, "mercutio", "", []string{"jul", "romeo", "nurse"}, 2, "")
	if hist[0].Child("jabber:client", "body") != nil || hist[0].Child(nsRetract, "retracted") == nil {
		t.Fatalf("history shows the retracted message: %s", hist[0])
	}
	// Retracting again changes nothing and tells nobody.
	juliet.Send(moderate("r5", sid, "again"))
	expectPresence(t, juliet, room+"/mercutio", "")
	expectIQ(t, juliet, "r5", "result")
	romeo.ExpectPresenceFrom(room + "/mercutio")
	romeo.Ping()
}
