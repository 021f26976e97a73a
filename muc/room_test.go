package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// XEP-0045 §10.1, §7.2, §7.6, §7.14: a room is created by entering it,
// stays locked until its owner makes it an instant room, hands out
// presence in the order of §7.2.3, refuses taken and missing nicknames,
// renames with 303, and disappears with its last occupant.
func TestCreateEnterRenameLeave(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")

	juliet.Send("<presence to='" + room + "/jul'><x xmlns='" + nsMUC + "'/></presence>")
	expectPresence(t, juliet, room+"/jul", "", "110", "170", "201")
	expectSubject(t, juliet, "")
	// Locked until configured: nobody else gets in (§10.1.1).
	romeo.Send("<presence to='" + room + "/romeo'><x xmlns='" + nsMUC + "'/></presence>")
	xmpptest.ExpectError(t, romeo.ExpectPresenceFrom(room+"/romeo"), "item-not-found")
	submit(juliet, room, "") // unlocking: no notice of a change
	expectIQ(t, juliet, "cfg", "result")

	enter(t, romeo, room, "romeo", "", []string{"jul"}, 0, "")
	// The owner, a moderator, sees romeo's real JID; romeo does not see hers.
	if it := item(t, expectPresence(t, juliet, room+"/romeo", "")); it.Attr("jid") != "romeo@localhost/r" || it.Attr("role") != "participant" {
		t.Fatalf("romeo's presence to the moderator: %s", it)
	}

	// Nickname taken, nickname missing.
	nurse.Send("<presence to='" + room + "/romeo'><x xmlns='" + nsMUC + "'/></presence>")
	xmpptest.ExpectError(t, nurse.ExpectPresenceFrom(room+"/romeo"), "conflict")
	nurse.Send("<presence to='" + room + "'><x xmlns='" + nsMUC + "'/></presence>")
	xmpptest.ExpectError(t, nurse.ExpectPresenceFrom(room), "jid-malformed")

	// Rename (§7.6): unavailable with 303 and the new nick, then available.
	romeo.Send("<presence to='" + room + "/montague'/>")
	for _, c := range []*xmpptest.Client{juliet, romeo} {
		want := []string{"303"}
		if c == romeo {
			want = []string{"110", "303"}
		}
		if it := item(t, expectPresence(t, c, room+"/romeo", "unavailable", want...)); it.Attr("nick") != "montague" {
			t.Fatalf("%s: rename without the new nick: %s", c.JID, it)
		}
	}
	expectPresence(t, juliet, room+"/montague", "")
	expectPresence(t, romeo, room+"/montague", "", "110")

	// Leaving (§7.14).
	romeo.Send("<presence type='unavailable' to='" + room + "/montague'><status>bye</status></presence>")
	el := expectPresence(t, juliet, room+"/montague", "unavailable")
	if el.Child("jabber:client", "status").Text() != "bye" {
		t.Fatalf("leave without its status: %s", el)
	}
	expectPresence(t, romeo, room+"/montague", "unavailable", "110")

	// The temporary room goes with its last occupant: entering creates it anew.
	juliet.Send("<presence type='unavailable' to='" + room + "/jul'/>")
	expectPresence(t, juliet, room+"/jul", "unavailable", "110")
	nurse.Send("<presence to='" + room + "/nurse'><x xmlns='" + nsMUC + "'/></presence>")
	expectPresence(t, nurse, room+"/nurse", "", "110", "170", "201")
	expectSubject(t, nurse, "")
}

// A session that ends leaves its rooms.
func TestDisconnectLeaves(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	romeo.Conn.Close()
	// The owner, a moderator, learns whose session it was (§7.14).
	if it := item(t, expectPresence(t, juliet, room+"/romeo", "unavailable")); it.Attr("jid") != "romeo@localhost/r" {
		t.Fatalf("romeo's departure to the moderator: %s, want his JID", it)
	}
}

// XEP-0045 §6.1-§6.4: the service and its public rooms are discoverable.
func TestDisco(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet := online(t, s, "juliet")
	create(t, juliet, room, "jul")
	create(t, juliet, "hidden@"+service, "jul")
	configure(t, juliet, "hidden@"+service, field("muc#roomconfig_publicroom", "0"))
	configure(t, juliet, room, field("muc#roomconfig_roomname", "Fair Verona"))

	juliet.Send("<iq type='get' id='i1' to='" + service + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q := expectIQ(t, juliet, "i1", "result").Child("http://jabber.org/protocol/disco#info", "query")
	id := q.Child("http://jabber.org/protocol/disco#info", "identity")
	if id == nil || id.Attr("category") != "conference" || id.Attr("type") != "text" || !hasFeature(q, nsMUC) {
		t.Fatalf("service info: %s", q)
	}
	juliet.Send("<iq type='get' id='i2' to='" + service + "'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	items := expectIQ(t, juliet, "i2", "result").Child("http://jabber.org/protocol/disco#items", "query").ChildElements()
	if len(items) != 1 || items[0].Attr("jid") != room || items[0].Attr("name") != "Fair Verona" {
		t.Fatalf("public rooms: %v", items)
	}
	juliet.Send("<iq type='get' id='i3' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q = expectIQ(t, juliet, "i3", "result").Child("http://jabber.org/protocol/disco#info", "query")
	for _, f := range []string{nsMUC, nsMUC + "#stable_id", "urn:xmpp:mam:2", "muc_public", "muc_temporary", "muc_open", "muc_semianonymous"} {
		if !hasFeature(q, f) {
			t.Fatalf("room info without %s: %s", f, q)
		}
	}
}

// When the server stops, every occupant learns it leaves the room
// because of the shutdown (status 332) before its stream ends.
func TestShutdownNotice(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet := online(t, s, "juliet")
	create(t, juliet, room, "jul")
	xmpptest.Restart(t, s)
	expectPresence(t, juliet, room+"/jul", "unavailable", "110", "332")
	juliet.ExpectStreamError("system-shutdown")
}

// TestJoinAgain: a session in the room that sends its join presence again
// (a client that believes it dropped out, XEP-0410 §3.2) gets the whole
// join again, occupants, itself, history and subject; the others see a
// presence update, not a new occupant.
func TestJoinAgain(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	juliet.Send("<message type='groupchat' to='" + room + "'><body>hi</body></message>")
	juliet.NextNamed("message")
	romeo.NextNamed("message")

	hist := enter(t, romeo, room, "romeo", "", []string{"jul"}, 1, "")
	if b := hist[0].Child("jabber:client", "body"); b == nil || b.Text() != "hi" {
		t.Fatalf("history on joining again: %s", hist[0])
	}
	expectPresence(t, juliet, room+"/romeo", "")
	// A presence update without the MUC element is only that.
	romeo.Send("<presence to='" + room + "/romeo'><show>away</show></presence>")
	expectPresence(t, romeo, room+"/romeo", "", "110")
	expectPresence(t, juliet, room+"/romeo", "")
}

// TestRenameOneSession: romeo is in the room from two sessions under one
// nick; when one of them changes nick, only that one moves, and the room
// sees a new occupant: the other keeps its nick and is not told of a
// change of its own.
func TestRenameOneSession(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	phone := xmpptest.Login(t, s, "romeo", "pw", "phone")
	enter(t, phone, room, "romeo", "", []string{"jul"}, 0, "")

	phone.Send("<presence to='" + room + "/montague'/>")
	if it := item(t, expectPresence(t, phone, room+"/romeo", "unavailable", "110", "303")); it.Attr("nick") != "montague" {
		t.Fatalf("the renamed session's notice: %s", it)
	}
	expectPresence(t, phone, room+"/romeo", "")
	expectPresence(t, phone, room+"/montague", "", "110")
	expectPresence(t, juliet, room+"/montague", "")
	expectPresence(t, romeo, room+"/montague", "")

	for sender, nick := range map[*xmpptest.Client]string{romeo: "romeo", phone: "montague"} {
		sender.Send("<message type='groupchat' to='" + room + "'><body>from " + nick + "</body></message>")
		if m := juliet.NextNamed("message"); m.Attr("from") != room+"/"+nick {
			t.Fatalf("juliet got %s, want it from %s", m, nick)
		}
	}
}

// TestRenameIntoOwnNick: romeo's phone and tablet are in the room as
// montague, his desktop as romeo; when the others take the nick romeo
// too (clients following a bookmark's nick), each joins the desktop's
// occupant, as it would on entering: the nick is not in use by someone
// else (XEP-0045 §7.6). Each sees its nick change and its new occupant;
// the room sees montague renamed to romeo once its last session went,
// and then romeo's presence.
func TestRenameIntoOwnNick(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	phone := xmpptest.Login(t, s, "romeo", "pw", "phone")
	enter(t, phone, room, "montague", "", []string{"jul", "romeo"}, 0, "")
	expectPresence(t, juliet, room+"/montague", "")
	expectPresence(t, romeo, room+"/montague", "")
	tablet := xmpptest.Login(t, s, "romeo", "pw", "tablet")
	enter(t, tablet, room, "montague", "", []string{"jul", "romeo"}, 0, "")

	// The phone stays montague: the tablet alone moves.
	tablet.Send("<presence to='" + room + "/romeo'/>")
	if it := item(t, expectPresence(t, tablet, room+"/montague", "unavailable", "110", "303")); it.Attr("nick") != "romeo" {
		t.Fatalf("the tablet's notice: %s", it)
	}
	expectPresence(t, tablet, room+"/montague", "")
	expectPresence(t, tablet, room+"/romeo", "", "110")

	phone.Send("<presence to='" + room + "/romeo'/>")
	if it := item(t, expectPresence(t, phone, room+"/montague", "unavailable", "110", "303")); it.Attr("nick") != "romeo" {
		t.Fatalf("the renamed session's notice: %s", it)
	}
	expectPresence(t, phone, room+"/romeo", "", "110")
	for _, c := range []*xmpptest.Client{juliet, romeo, tablet} {
		if it := item(t, expectPresence(t, c, room+"/montague", "unavailable", "303")); it.Attr("nick") != "romeo" {
			t.Fatalf("%s: montague's rename: %s", c.JID, it)
		}
	}
	// Those who are not romeo see the nick the rename went to.
	expectPresence(t, juliet, room+"/romeo", "")

	phone.Send("<message type='groupchat' to='" + room + "'><body>one of us</body></message>")
	for _, c := range []*xmpptest.Client{juliet, romeo, phone, tablet} {
		xmpptest.ExpectBody(t, c.NextNamed("message"), room+"/romeo", "one of us")
	}
}

// A presence without the MUC element creates the room for a
// "groupchat 1.0" client, which knows nothing of configuring it: the
// room is an instant room at once, not locked (XEP-0045 §10.1.1: MUST
// NOT lock the room), so that others may enter it.
func TestCreateWithoutMUCElement(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	juliet.Send("<presence to='" + room + "/jul'/>")
	expectPresence(t, juliet, room+"/jul", "", "110", "170", "201")
	expectSubject(t, juliet, "")

	enter(t, romeo, room, "romeo", "", []string{"jul"}, 0, "")
	expectPresence(t, juliet, room+"/romeo", "")
}

// An owner who leaves a room before configuring it takes the room with
// them: the room is destroyed, and the owner's unavailable presence says
// so with <destroy/> (XEP-0045 §10.1.3), so that the client does not
// wait for a room it could enter again.
func TestLeaveLockedRoom(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	juliet.Send("<presence to='" + room + "/jul'><x xmlns='" + nsMUC + "'/></presence>")
	expectPresence(t, juliet, room+"/jul", "", "110", "170", "201")
	expectSubject(t, juliet, "")

	juliet.Send("<presence type='unavailable' to='" + room + "/jul'/>")
	p := expectPresence(t, juliet, room+"/jul", "unavailable", "110")
	if p.Child(nsUser, "x").Child(nsUser, "destroy") == nil {
		t.Fatalf("got %s, want <destroy/> in the owner's unavailable presence", p)
	}
	juliet.Send("<iq type='get' id='i' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	xmpptest.ExpectError(t, expectIQ(t, juliet, "i", "error"), "item-not-found")

	// The name is free: romeo creates a new room.
	romeo.Send("<presence to='" + room + "/romeo'><x xmlns='" + nsMUC + "'/></presence>")
	expectPresence(t, romeo, room+"/romeo", "", "110", "170", "201")
}
