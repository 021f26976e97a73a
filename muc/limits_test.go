package muc_test

import (
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
)

// A 1 MiB message to the room is over the stream's stanza limit: the
// sender's stream ends with policy-violation, it leaves the room, and
// the other occupants' sessions go on as before, having seen nothing of
// it.
func TestHugeRoomMessage(t *testing.T) {
	t.Parallel()
	s := start(t)
	if s.Config.Limits.MaxStanzaBytes >= 1<<20 {
		t.Fatalf("the test server takes stanzas of %d bytes", s.Config.Limits.MaxStanzaBytes)
	}
	juliet, romeo, nurse := threeInRoom(t, s)
	// The server stops reading at the limit and closes the stream, so the
	// rest of the write may fail with a reset: only the stream error the
	// server sent before counts.
	romeo.Conn.Write([]byte("<message type='groupchat' to='" + room + "' id='big'><body>" + strings.Repeat("a", 1<<20) + "</body></message>"))
	romeo.ExpectStreamError("policy-violation")
	expectPresence(t, juliet, room+"/romeo", "unavailable")
	expectPresence(t, nurse, room+"/romeo", "unavailable")
	juliet.Send("<message type='groupchat' to='" + room + "' id='after'><body>still here</body></message>")
	el := nurse.NextNamed("message")
	if el.Child("jabber:client", "body").Text() != "still here" {
		t.Fatalf("nurse got %s", el)
	}
	if el := juliet.NextNamed("message"); el.Child("jabber:client", "body").Text() != "still here" {
		t.Fatalf("juliet got %s", el)
	}
	juliet.Ping()
	nurse.Ping()
}

// XEP-0045 §7.2.10: a session of an occupant's user that moves to a nick
// of its own is one occupant more; in a room at its muc#roomconfig_maxusers
// it is refused with service-unavailable and keeps its nick.
func TestSplitNickInFullRoom(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	configure(t, juliet, room, field("muc#roomconfig_maxusers", "2"))
	expectConfigNotice(t, romeo, room)
	phone := xmpptest.Login(t, s, "romeo", "pw", "phone")
	enter(t, phone, room, "romeo", "", []string{"jul"}, 0, "")

	phone.Send("<presence to='" + room + "/montague'/>")
	xmpptest.ExpectError(t, phone.ExpectPresenceFrom(room+"/montague"), "service-unavailable")
	phone.Send("<message type='groupchat' to='" + room + "'><body>still romeo</body></message>")
	xmpptest.ExpectBody(t, juliet.NextNamed("message"), room+"/romeo", "still romeo")
}

// XEP-0045 §7.2.10: entering a room at its muc#roomconfig_maxusers is
// refused with service-unavailable of type wait, as the XEP's example
// has it: a place may free up.
func TestFullRoomErrorIsWait(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	createWithRomeo(t, juliet, romeo)
	configure(t, juliet, room, field("muc#roomconfig_maxusers", "2"))
	expectConfigNotice(t, romeo, room)
	nurse.Send("<presence to='" + room + "/nurse'><x xmlns='" + nsMUC + "'/></presence>")
	if e := xmpptest.ExpectError(t, nurse.ExpectPresenceFrom(room+"/nurse"), "service-unavailable"); e.Attr("type") != "wait" {
		t.Errorf("entering a full room: %s, want type wait", e)
	}
	phone := xmpptest.Login(t, s, "romeo", "pw", "phone")
	enter(t, phone, room, "romeo", "", []string{"jul"}, 0, "")
	phone.Send("<presence to='" + room + "/montague'/>")
	if e := xmpptest.ExpectError(t, phone.ExpectPresenceFrom(room+"/montague"), "service-unavailable"); e.Attr("type") != "wait" {
		t.Errorf("a session taking a nick of its own in a full room: %s, want type wait", e)
	}
}
