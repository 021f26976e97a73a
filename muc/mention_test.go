package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

const nsReference = "urn:xmpp:reference:0"

// mention is a XEP-0372 mention reference to uri.
func mention(uri string) string {
	return "<reference xmlns='" + nsReference + "' type='mention' uri='" + uri + "'/>"
}

// expectNotice checks that el is a XEP-0452 notification from the room
// to to, forwarding the groupchat message from room/from saying body with
// the stanza id sid, and returns the forwarded message.
func expectNotice(t *testing.T, el *xmlstream.Element, to, from, body, sid string) *xmlstream.Element {
	t.Helper()
	if el.Name.Local != "message" || el.Attr("from") != room || el.Attr("to") != to || el.Attr("type") != "normal" {
		t.Fatalf("got %s, want a mention notification from the room to %s", el, to)
	}
	fwd := el.Child("urn:xmpp:mmn:0", "mentions")
	if fwd != nil {
		fwd = fwd.Child("urn:xmpp:forward:0", "forwarded")
	}
	if fwd == nil || fwd.Child("urn:xmpp:delay", "delay") == nil {
		t.Fatalf("notification without <mentions><forwarded> and a delay: %s", el)
	}
	m := fwd.Child("jabber:client", "message")
	if m == nil || m.Attr("type") != "groupchat" {
		t.Fatalf("notification without the groupchat message: %s", el)
	}
	xmpptest.ExpectBody(t, m, room+"/"+from, body)
	if got := stanzaID(t, m); got != sid {
		t.Fatalf("forwarded stanza id %s, the room's message had %s", got, sid)
	}
	return m
}

// XEP-0452, XEP-0372: a groupchat message mentioning members who are not
// in the room reaches them as a notification, live or from offline
// storage; occupants and strangers get none.
func TestMentionNotifications(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse, tybalt := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse"), online(t, s, "tybalt")
	create(t, juliet, room, "jul")
	juliet.Send("<iq type='set' id='m' to='" + room + "'><query xmlns='" + nsMUC + "#admin'>" +
		"<item jid='romeo@localhost' affiliation='member'/><item jid='nurse@localhost' affiliation='member'/>" +
		"<item jid='mercutio@localhost' affiliation='member'/></query></iq>")
	expectIQ(t, juliet, "m", "result")
	juliet.Send("<iq type='get' id='d' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if q := expectIQ(t, juliet, "d", "result").Child("http://jabber.org/protocol/disco#info", "query"); !hasFeature(q, "urn:xmpp:mmn:0") {
		t.Fatalf("room info without urn:xmpp:mmn:0: %s", q)
	}
	enter(t, romeo, room, "romeo", "", []string{"jul"}, 0, "")
	expectPresence(t, juliet, room+"/romeo", "")

	// romeo is in the room, nurse online elsewhere, mercutio offline,
	// tybalt not affiliated: only nurse and mercutio are notified.
	body := "romeo, nurse, tybalt, mercutio: to the ball"
	juliet.Send("<message type='groupchat' to='" + room + "' id='ball'><body>" + body + "</body>" +
		mention("xmpp:romeo@localhost") + mention("xmpp:nurse@localhost") + mention("xmpp:tybalt@localhost") +
		mention("xmpp:mercutio@localhost") + mention("xmpp:nurse@localhost?message") + "</message>")
	var sid string
	for _, c := range []*xmpptest.Client{juliet, romeo} {
		el := c.NextNamed("message")
		xmpptest.ExpectBody(t, el, room+"/jul", body)
		if n := len(el.ChildElements()); n < 6 || el.Child(nsReference, "reference") == nil {
			t.Fatalf("%s: the references did not come through: %s", c.JID, el)
		}
		sid = stanzaID(t, el)
	}
	ballID := sid
	juliet.Ping() // every notification is routed before this answer
	expectNotice(t, nurse.NextNamed("message"), "nurse@localhost", "jul", body, sid)
	for _, c := range []*xmpptest.Client{nurse, tybalt, romeo} {
		c.Ping() // nothing else came: no second notice, none for tybalt or romeo
	}

	// A message without references mentions the members whose nicks its
	// body writes as words: nurse's registered nick here, in any case
	// and after an '@'. A longer word holding the nick is no mention, and
	// a message with references mentions only whom they name.
	nurse.Send("<iq type='set' id='r' to='" + room + "'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
		field("FORM_TYPE", "http://jabber.org/protocol/muc#register") + field("muc#register_roomnick", "angelica") + "</x></query></iq>")
	expectIQ(t, nurse, "r", "result")
	for _, m := range []struct{ body, refs string }{
		{"angelicas, tybalt", ""},
		{"angelica?", mention("xmpp:tybalt@localhost")},
		{"ask @Angelica!", ""},
	} {
		juliet.Send("<message type='groupchat' to='" + room + "'><body>" + m.body + "</body>" + m.refs + "</message>")
		sid = stanzaID(t, juliet.NextNamed("message"))
		romeo.NextNamed("message")
	}
	juliet.Ping()
	expectNotice(t, nurse.NextNamed("message"), "nurse@localhost", "jul", "ask @Angelica!", sid)
	nurse.Ping()

	// A mention of an occupant's room JID names its real JID: once romeo
	// has left, room/romeo still reaches him.
	romeo.Send("<presence type='unavailable' to='" + room + "/romeo'/>")
	expectPresence(t, romeo, room+"/romeo", "unavailable", "110")
	expectPresence(t, juliet, room+"/romeo", "unavailable")
	juliet.Send("<message type='groupchat' to='" + room + "'><body>where is romeo?</body>" + mention("xmpp:"+room+"/romeo") + "</message>")
	sid = stanzaID(t, juliet.NextNamed("message"))
	expectNotice(t, romeo.NextNamed("message"), "romeo@localhost", "jul", "where is romeo?", sid)
	// So does his nick, written without a reference, once he has left.
	juliet.Send("<message type='groupchat' to='" + room + "'><body>Romeo: come back</body></message>")
	sid = stanzaID(t, juliet.NextNamed("message"))
	expectNotice(t, romeo.NextNamed("message"), "romeo@localhost", "jul", "Romeo: come back", sid)

	// mercutio finds his notification, from offline storage, on login.
	mercutio := xmpptest.Login(t, s, "mercutio", "pw", "r")
	mercutio.Online()
	el := mercutio.NextNamed("message")
	if d := el.Child("urn:xmpp:delay", "delay"); d == nil || d.Attr("from") != xmpptest.Domain {
		t.Fatalf("offline notification without the server's delay: %s", el)
	}
	// The first notification, stored for mercutio; nothing more.
	expectNotice(t, el, "mercutio@localhost", "jul", body, ballID)
	mercutio.Ping()

	// An owner may turn the notifications off.
	configure(t, juliet, room, field("muc#roomconfig_forwardmentions", "0"))
	juliet.Send("<message type='groupchat' to='" + room + "'><body>hush</body>" + mention("xmpp:nurse@localhost") + "</message>")
	juliet.NextNamed("message")
	juliet.Ping()
	nurse.Ping()
}
