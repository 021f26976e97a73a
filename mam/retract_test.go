package mam_test

import (
	"testing"
)

// TestRetractRoomPrivateMessage: XEP-0424 §7: a retraction is processed
// only when it comes from the original message's sender: its bare JID in
// a one-to-one chat, its occupant (full) JID in a room. Private messages
// from a room's occupants all come from the room's bare JID; one occupant
// must not turn another occupant's private message in juliet's archive
// into a tombstone.
func TestRetractRoomPrivateMessage(t *testing.T) {
	t.Parallel()
	rooms, juliet := roomsOf(t)
	rooms.Send("<message type='chat' from='verona@rooms.localhost/romeo' to='juliet@localhost/balcony' id='p1'><body>secret</body>" +
		"<origin-id xmlns='urn:xmpp:sid:0' id='o1'/><x xmlns='http://jabber.org/protocol/muc#user'/></message>")
	juliet.NextNamed("message")
	rooms.Send("<message type='chat' from='verona@rooms.localhost/mallory' to='juliet@localhost/balcony' id='r1'>" +
		"<retract xmlns='urn:xmpp:message-retract:1' id='o1'/><body>retracted</body><store xmlns='urn:xmpp:hints'/>" +
		"<x xmlns='http://jabber.org/protocol/muc#user'/></message>")
	juliet.NextNamed("message")
	if got, _ := query(juliet, "", form("with", "verona@rooms.localhost/romeo")); bodies(got) != "secret" {
		t.Errorf("romeo's private message after mallory's retraction: %q, want it kept", bodies(got))
	}
	// Romeo himself may retract it.
	rooms.Send("<message type='chat' from='verona@rooms.localhost/romeo' to='juliet@localhost/balcony' id='r2'>" +
		"<retract xmlns='urn:xmpp:message-retract:1' id='o1'/><body>retracted</body><store xmlns='urn:xmpp:hints'/>" +
		"<x xmlns='http://jabber.org/protocol/muc#user'/></message>")
	juliet.NextNamed("message")
	if got, _ := query(juliet, "", form("with", "verona@rooms.localhost/romeo")); bodies(got) != "-,retracted" {
		t.Errorf("romeo's private message after his retraction: %q, want a tombstone", bodies(got))
	}
}
