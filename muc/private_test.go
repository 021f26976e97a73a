package muc_test

import (
	"strconv"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// A private message that the router bounces while delivering it (here:
// the recipient's session is full, and the message asks not to be stored
// offline) comes back to the room as an error from the occupant; the room
// must not be holding its own lock then, or it deadlocks and answers
// nobody again.
func TestPrivateMessageBounceDoesNotDeadlockRoom(t *testing.T) {
	t.Parallel()
	s := xmpptest.Start(t, func(c *config.Config) {
		c.Offline.Quota = 1
		c.Limits.SessionQueue = 101
	})
	for _, u := range users {
		s.AddUser(t, u, xmpptest.Domain, "pw")
	}
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	romeo.EnableSM() // romeo never acknowledges: his queue fills up

	for i := range 110 {
		juliet.Send("<message type='chat' to='" + room + "/romeo' id='pm" + strconv.Itoa(i) + "'><body>psst</body>" +
			"<no-store xmlns='urn:xmpp:hints'/></message>")
	}
	// The room still answers.
	juliet.Send("<iq type='get' id='alive' to='" + room + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	for {
		el := juliet.Next()
		if el.Name.Local == "iq" && el.Attr("id") == "alive" {
			if el.Attr("type") != "result" {
				t.Fatalf("got %s, want the ping's result", el)
			}
			return
		}
	}
}

// An error that comes back for a private message (the recipient's client
// or server refused it) reaches its sender, from the recipient's room
// JID with the message's id (XEP-0045 §7.5); an error for nothing the
// room sent goes nowhere.
func TestPrivateMessageError(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)

	juliet.Send("<message type='chat' to='" + room + "/romeo' id='pm1'><body>psst</body></message>")
	xmpptest.ExpectBody(t, romeo.NextNamed("message"), room+"/jul", "psst")
	// One without an id: errors for such messages cannot be told apart.
	juliet.Send("<message type='chat' to='" + room + "/romeo'><body>no id</body></message>")
	xmpptest.ExpectBody(t, romeo.NextNamed("message"), room+"/jul", "no id")
	for _, id := range []string{"", "pm1", "made-up"} {
		romeo.Send("<message type='error' to='" + room + "/jul' id='" + id + "'><body>psst</body>" +
			"<error type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
	}
	romeo.Send("<message type='groupchat' to='" + room + "'><body>after</body></message>")
	el := juliet.NextNamed("message")
	if el.Attr("from") != room+"/romeo" || el.Attr("id") != "pm1" {
		t.Fatalf("got %s, want the error for pm1 from %s", el, room+"/romeo")
	}
	xmpptest.ExpectError(t, el, "not-acceptable")
	xmpptest.ExpectBody(t, juliet.NextNamed("message"), room+"/romeo", "after")
}

// TestRefusedPrivateMessageKeepsRecipient: romeo blocks juliet's room JID
// (XEP-0191, as Conversations' block dialog allows), so his server
// answers her private message with service-unavailable. The error goes
// back to juliet (XEP-0045 §7.5), with the id she gave or none, but it
// answers that one message: it does not say that romeo's session is
// gone, and he stays in the room. Otherwise anyone romeo blocked could
// remove him from the room with one such message.
func TestRefusedPrivateMessageKeepsRecipient(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"pm1", ""} {
		t.Run("id "+id, func(t *testing.T) {
			t.Parallel()
			s := start(t)
			juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
			createWithRomeo(t, juliet, romeo)
			romeo.Send("<iq type='set' id='b' to='romeo@localhost'><block xmlns='urn:xmpp:blocking'><item jid='" + room + "/jul'/></block></iq>")
			expectIQ(t, romeo, "b", "result")

			idAttr := ""
			if id != "" {
				idAttr = " id='" + id + "'"
			}
			juliet.Send("<message type='chat' to='" + room + "/romeo'" + idAttr + "><body>psst</body></message>")
			el := juliet.NextNamed("message")
			if el.Attr("from") != room+"/romeo" || el.Attr("id") != id {
				t.Fatalf("got %s, want the error for the message with id %q from %s", el, id, room+"/romeo")
			}
			xmpptest.ExpectError(t, el, "service-unavailable")
			// He is still in the room: what he says reaches juliet. (He
			// does not see what she says: he blocked her.)
			romeo.Send("<message type='groupchat' to='" + room + "'><body>still here</body></message>")
			xmpptest.ExpectBody(t, romeo.NextNamed("message"), room+"/romeo", "still here")
			xmpptest.ExpectBody(t, juliet.NextNamed("message"), room+"/romeo", "still here")
		})
	}
}
