package push_test

import (
	"testing"

	"xmppd/config"
	"xmppd/xmlstream"
)

// TestMediatedInvitationWakes: an invitation a room relays (XEP-0045
// §7.8.2), which carries no body, only <x xmlns='muc#user'><invite/>,
// wakes the device of an invitee who is offline, as a direct invitation
// (XEP-0249) does.
func TestMediatedInvitationWakes(t *testing.T) {
	_, alice, bob, app := start(t, func(c *config.Config) { c.Push.IncludeBody = true })
	goOffline(t, alice, bob)
	const room = "r1@conference.localhost"
	bob.Send("<presence to='" + room + "/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	readUntil(bob, func(el *xmlstream.Element) bool {
		return isMessage(el) && el.Child("jabber:client", "subject") != nil
	})
	bob.Send("<iq type='set' id='cfg' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
	readUntil(bob, func(el *xmlstream.Element) bool { return el.Name.Local == "iq" && el.Attr("id") == "cfg" })

	bob.Send("<message to='" + room + "' id='inv'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='alice@localhost'><reason>join us</reason></invite></x></message>")
	bob.Ping()
	bob.Send("<message to='alice@localhost' type='chat'><body>marker</body></message>")
	if got := pushedBodies(t, app, "n1", "marker"); got[""] != 1 {
		t.Errorf("pushes before the marker %v; want one for the room's invitation", got)
	}
}
