package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// Registering with a room (XEP-0045 §7.10) reserves a nickname and makes
// the user a member; nobody else may take that nickname, also after a
// restart; the room tells the user their nickname (§7.2.4).
func TestRegistration(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_persistentroom", "1"))

	romeo.Send("<iq type='get' id='g' to='" + room + "'><query xmlns='jabber:iq:register'/></iq>")
	q := expectIQ(t, romeo, "g", "result").Child("jabber:iq:register", "query")
	if x := q.Child("jabber:x:data", "x"); x == nil || x.Attr("type") != "form" {
		t.Fatalf("registration form: %s", q)
	}
	register := func(c *xmpptest.Client, nick, want string) {
		t.Helper()
		c.Send("<iq type='set' id='r' to='" + room + "'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
			field("FORM_TYPE", "http://jabber.org/protocol/muc#register") + field("muc#register_roomnick", nick) + "</x></query></iq>")
		el := c.NextNamed("iq")
		if want == "" {
			if el.Attr("type") != "result" {
				t.Fatalf("%s: registering %q: %s", c.JID, nick, el)
			}
			return
		}
		xmpptest.ExpectError(t, el, want)
	}
	register(romeo, "montague", "")
	register(nurse, "montague", "conflict")
	register(nurse, "", "not-acceptable")

	romeo.Send("<iq type='get' id='g2' to='" + room + "'><query xmlns='jabber:iq:register'/></iq>")
	q = expectIQ(t, romeo, "g2", "result").Child("jabber:iq:register", "query")
	if q.Child("jabber:iq:register", "registered") == nil || q.Child("jabber:iq:register", "username").Text() != "montague" {
		t.Fatalf("registered: %s", q)
	}
	juliet.Send("<iq type='get' id='m' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item affiliation='member'/></query></iq>")
	if it := expectIQ(t, juliet, "m", "result").Child(nsMUC+"#admin", "query").Child(nsMUC+"#admin", "item"); it == nil || it.Attr("jid") != "romeo@localhost" {
		t.Fatalf("member list after registration: %v", it)
	}

	s = xmpptest.Restart(t, s)
	romeo, nurse = online(t, s, "romeo"), online(t, s, "nurse")
	nurse.Send("<presence to='" + room + "/montague'><x xmlns='" + nsMUC + "'/></presence>")
	xmpptest.ExpectError(t, nurse.NextNamed("presence"), "conflict")
	romeo.Send("<iq type='get' id='n' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'/></iq>")
	id := expectIQ(t, romeo, "n", "result").Child("http://jabber.org/protocol/disco#info", "query").Child("http://jabber.org/protocol/disco#info", "identity")
	if id == nil || id.Attr("name") != "montague" {
		t.Fatalf("reserved nickname after a restart: %v", id)
	}
	enter(t, romeo, room, "montague", "", nil, 0, "")
}

// TestUnregister: a user cancels their registration with a room with
// <remove/> (XEP-0077 §3.2, which XEP-0045 §7.10 builds on), as Prosody
// allows: the nickname is free again and the user no longer a member; a
// user with nothing registered is told registration-required.
func TestUnregister(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_persistentroom", "1"))
	register := func(c *xmpptest.Client, nick string) {
		t.Helper()
		c.Send("<iq type='set' id='r' to='" + room + "'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
			field("FORM_TYPE", "http://jabber.org/protocol/muc#register") + field("muc#register_roomnick", nick) + "</x></query></iq>")
		expectIQ(t, c, "r", "result")
	}
	remove := func(c *xmpptest.Client) *xmlstream.Element {
		t.Helper()
		c.Send("<iq type='set' id='u' to='" + room + "'><query xmlns='jabber:iq:register'><remove/></query></iq>")
		return c.NextNamed("iq")
	}
	register(romeo, "montague")
	if el := remove(romeo); el.Attr("type") != "result" {
		t.Fatalf("cancelling the registration: %s", el)
	}
	romeo.Send("<iq type='get' id='g' to='" + room + "'><query xmlns='jabber:iq:register'/></iq>")
	if q := expectIQ(t, romeo, "g", "result").Child("jabber:iq:register", "query"); q.Child("jabber:iq:register", "registered") != nil {
		t.Fatalf("still registered: %s", q)
	}
	juliet.Send("<iq type='get' id='m' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item affiliation='member'/></query></iq>")
	if it := expectIQ(t, juliet, "m", "result").Child(nsMUC+"#admin", "query").Child(nsMUC+"#admin", "item"); it != nil {
		t.Fatalf("member list after cancelling: %s", it)
	}
	register(nurse, "montague")
	xmpptest.ExpectError(t, remove(romeo), "registration-required")
}
