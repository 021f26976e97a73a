package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// invite has c invite to into room through the room.
func invite(c *xmpptest.Client, to, reason string) {
	c.Send("<message to='" + room + "'><x xmlns='" + nsUser + "'><invite to='" + to + "'><reason>" + reason +
		"</reason></invite></x></message>")
}

// expectInvitation checks that el is the room's invitation from from
// with reason and password (absent when ""), and returns its <x/>.
func expectInvitation(t *testing.T, el *xmlstream.Element, from, reason, password string) *xmlstream.Element {
	t.Helper()
	x := el.Child(nsUser, "x")
	var inv, r *xmlstream.Element
	if x != nil {
		inv = x.Child(nsUser, "invite")
	}
	if inv != nil {
		r = inv.Child(nsUser, "reason")
	}
	if el.Name.Local != "message" || el.Attr("from") != room || inv == nil || inv.Attr("from") != from ||
		(r == nil) != (reason == "") || (r != nil && r.Text() != reason) {
		t.Fatalf("got %s, want an invitation from %s (%q) through the room", el, from, reason)
	}
	if pw := x.Child(nsUser, "password"); (password == "") != (pw == nil) || (pw != nil && pw.Text() != password) {
		t.Fatalf("invitation with password %v, want %q: %s", pw, password, el)
	}
	return x
}

// XEP-0045 §7.8.2: in an open room an occupant invites through the room,
// the invitee gets it from the room (or from offline storage) and may
// decline back to the inviter; others may neither invite nor decline.
func TestMediatedInvitation(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse, tybalt := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse"), online(t, s, "tybalt")
	createWithRomeo(t, juliet, romeo)

	invite(romeo, "nurse@localhost", "come to the feast")
	expectInvitation(t, nurse.NextNamed("message"), "romeo@localhost/r", "come to the feast", "")
	nurse.Send("<message to='" + room + "'><x xmlns='" + nsUser + "'><decline to='romeo@localhost/r'><reason>busy</reason></decline></x></message>")
	el := romeo.NextNamed("message")
	var d *xmlstream.Element
	if x := el.Child(nsUser, "x"); x != nil {
		d = x.Child(nsUser, "decline")
	}
	if el.Attr("from") != room || d == nil || d.Attr("from") != "nurse@localhost" || d.Child(nsUser, "reason").Text() != "busy" {
		t.Fatalf("got %s, want nurse's decline through the room", el)
	}
	// Declined once; there is nothing more to decline.
	nurse.Send("<message to='" + room + "'><x xmlns='" + nsUser + "'><decline to='romeo@localhost'/></x></message>")
	xmpptest.ExpectError(t, nurse.NextNamed("message"), "not-acceptable")

	// Not an occupant: no invitations; not a JID: refused.
	invite(tybalt, "nurse@localhost", "brawl")
	xmpptest.ExpectError(t, tybalt.NextNamed("message"), "not-acceptable")
	invite(romeo, "@@", "")
	xmpptest.ExpectError(t, romeo.NextNamed("message"), "jid-malformed")
	romeo.Ping()
	nurse.Ping()

	// An invitation to someone offline waits in offline storage.
	invite(romeo, "mercutio@localhost", "later")
	romeo.Ping()
	mercutio := xmpptest.Login(t, s, "mercutio", "pw", "r")
	mercutio.Online()
	expectInvitation(t, mercutio.NextNamed("message"), "romeo@localhost/r", "later", "")
}

// XEP-0045 §7.8.2, §10.2: in a members-only room only admins and owners
// invite, unless the owner allows occupants to; an invitee becomes a
// member and gets the password; the banned cannot be invited.
func TestMembersOnlyInvitation(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse, tybalt := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse"), online(t, s, "tybalt")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_membersonly", "1")+
		field("muc#roomconfig_passwordprotectedroom", "1")+field("muc#roomconfig_roomsecret", "rosemary"))
	juliet.Send("<iq type='set' id='m' to='" + room + "'><query xmlns='" + nsMUC + "#admin'>" +
		"<item jid='romeo@localhost' affiliation='member'/><item jid='mercutio@localhost' affiliation='outcast'/></query></iq>")
	expectIQ(t, juliet, "m", "result")
	expectInvitation(t, romeo.NextNamed("message"), "juliet@localhost", "", "rosemary") // §9.5
	enter(t, romeo, room, "romeo", "<password>rosemary</password>", []string{"jul"}, 0, "")
	expectPresence(t, juliet, room+"/romeo", "")

	invite(romeo, "nurse@localhost", "please")
	xmpptest.ExpectError(t, romeo.NextNamed("message"), "forbidden")
	invite(juliet, "mercutio@localhost", "no")
	xmpptest.ExpectError(t, juliet.NextNamed("message"), "not-allowed")
	nurse.Ping() // neither invitation went out

	// The owner's invitation makes nurse a member.
	invite(juliet, "nurse@localhost", "please")
	expectInvitation(t, nurse.NextNamed("message"), "juliet@localhost/r", "please", "rosemary")
	enter(t, nurse, room, "nurse", "<password>rosemary</password>", []string{"jul", "romeo"}, 0, "")
	expectPresence(t, juliet, room+"/nurse", "")
	expectPresence(t, romeo, room+"/nurse", "")

	// With invitations allowed, a member's invitation makes a member too.
	configure(t, juliet, room, field("muc#roomconfig_allowinvites", "1"))
	invite(romeo, "tybalt@localhost", "truce")
	expectInvitation(t, tybalt.NextNamed("message"), "romeo@localhost/r", "truce", "rosemary")
	enter(t, tybalt, room, "tybalt", "<password>rosemary</password>", []string{"jul", "romeo", "nurse"}, 0, "")
}

// XEP-0249: a direct invitation goes from user to user unchanged.
func TestDirectInvitation(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	create(t, juliet, room, "jul")
	juliet.Send("<message to='romeo@localhost' id='di'><x xmlns='jabber:x:conference' jid='" + room + "' reason='meet me' password='p'/></message>")
	el := romeo.NextNamed("message")
	x := el.Child("jabber:x:conference", "x")
	if el.Attr("from") != "juliet@localhost/r" || el.Attr("id") != "di" || x == nil || x.Attr("jid") != room ||
		x.Attr("reason") != "meet me" || x.Attr("password") != "p" {
		t.Fatalf("got %s, want juliet's direct invitation", el)
	}
}

// XEP-0045 §9.5: a user an admin adds to the member list of a
// members-only room, who was not affiliated with it, gets the room's
// invitation on the admin's behalf, with the reason and the password;
// one who already was a member gets none again.
func TestNewMemberInvited(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_membersonly", "1")+
		field("muc#roomconfig_passwordprotectedroom", "1")+field("muc#roomconfig_roomsecret", "rosemary"))

	adminSet(juliet, "m1", "<item jid='romeo@localhost' affiliation='member'><reason>come to the feast</reason></item>")
	expectIQ(t, juliet, "m1", "result")
	invite(juliet, "romeo@localhost", "again")
	expectInvitation(t, romeo.NextNamed("message"), "juliet@localhost", "come to the feast", "rosemary")
	expectInvitation(t, romeo.NextNamed("message"), "juliet@localhost/r", "again", "rosemary")

	// Already a member: no second invitation before juliet's own.
	adminSet(juliet, "m2", "<item jid='romeo@localhost' affiliation='member'/>")
	expectIQ(t, juliet, "m2", "result")
	invite(juliet, "romeo@localhost", "once more")
	expectInvitation(t, romeo.NextNamed("message"), "juliet@localhost/r", "once more", "rosemary")
	enter(t, romeo, room, "romeo", "<password>rosemary</password>", []string{"jul"}, 0, "")
}

// A mediated invitation (XEP-0045 §7.8.2) from a user the invitee has
// blocked does not reach the invitee (XEP-0191 §3.3), though the room
// sends it: the room only passes it on. Invitations from others still
// come.
func TestInvitationFromBlockedUserDropped(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, tybalt := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "tybalt")
	createWithRomeo(t, juliet, romeo)
	blockItem(t, tybalt, "block", "juliet@localhost")

	juliet.Send("<message to='" + room + "'><x xmlns='" + nsUser + "'><invite to='tybalt@localhost'/></x></message>")
	juliet.Ping() // the invitation has been handled
	romeo.Send("<message to='" + room + "'><x xmlns='" + nsUser + "'><invite to='tybalt@localhost'/></x></message>")
	expectInvitation(t, tybalt.NextNamed("message"), "romeo@localhost/r", "", "")
}

// The invitation a members-only room sends a new member (XEP-0045 §9.5)
// on behalf of an admin the new member has blocked does not reach them
// (XEP-0191 §3.3), as a mediated invitation would not; one on behalf of
// another admin does.
func TestNewMemberInvitationFromBlockedAdminDropped(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, tybalt := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "tybalt")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_membersonly", "1"))
	adminSet(juliet, "a", "<item jid='romeo@localhost' affiliation='admin'/>")
	expectIQ(t, juliet, "a", "result")
	blockItem(t, tybalt, "block", "juliet@localhost")

	adminSet(juliet, "m1", "<item jid='tybalt@localhost' affiliation='member'/>")
	expectIQ(t, juliet, "m1", "result")
	adminSet(juliet, "m2", "<item jid='tybalt@localhost' affiliation='none'/>")
	expectIQ(t, juliet, "m2", "result")
	adminSet(romeo, "m3", "<item jid='tybalt@localhost' affiliation='member'/>")
	expectIQ(t, romeo, "m3", "result")
	expectInvitation(t, tybalt.NextNamed("message"), "romeo@localhost", "", "")
}
