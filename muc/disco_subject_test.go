package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// roomInfoSubject has c ask for the room's disco#info and returns its
// muc#roominfo_subject field, or nil when there is none.
func roomInfoSubject(t *testing.T, c *xmpptest.Client, name string) *xmlstream.Element {
	t.Helper()
	c.Send("<iq type='get' id='info' to='" + name + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q := expectIQ(t, c, "info", "result").Child("http://jabber.org/protocol/disco#info", "query")
	x := q.Child("jabber:x:data", "x")
	if x == nil {
		t.Fatalf("%s: no muc#roominfo form in %s", c.JID, q)
	}
	for _, f := range x.ChildElements() {
		if f.Name.Local == "field" && f.Attr("var") == "muc#roominfo_subject" {
			return f
		}
	}
	return nil
}

// A hidden members-only room tells its subject in disco#info (XEP-0045
// §6.4) only to those who may enter it: its members, not strangers.
func TestHiddenRoomInfoKeepsSubject(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_publicroom", "0")+field("muc#roomconfig_membersonly", "1"))
	juliet.Send("<message type='groupchat' to='" + room + "'><subject>the secret wedding</subject></message>")
	juliet.NextNamed("message")
	juliet.Send("<iq type='set' id='m' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item jid='romeo@localhost' affiliation='member'/></query></iq>")
	expectIQ(t, juliet, "m", "result")
	romeo.NextNamed("message") // the invitation of a new member (§9.5)

	if f := roomInfoSubject(t, nurse, room); f != nil {
		t.Errorf("a stranger learns the hidden room's subject: %s", f)
	}
	if f := roomInfoSubject(t, romeo, room); f == nil || f.Child("jabber:x:data", "value").Text() != "the secret wedding" {
		t.Errorf("a member's disco#info subject: %v", f)
	}
}
