package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// XEP-0424 §4, §5.1: an occupant's retraction of their own message, by
// the room's stanza id, leaves a tombstone in the room's archive, so the
// text is no longer handed to those who enter; a retraction of someone
// else's message changes nothing.
func TestRetractOwnMessageTombstone(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	createWithRomeo(t, juliet, romeo)
	say := func(c *xmpptest.Client, payload string) string {
		t.Helper()
		c.Send("<message type='groupchat' to='" + room + "'>" + payload + "</message>")
		juliet.NextNamed("message")
		el := romeo.NextNamed("message")
		sid := el.Child("urn:xmpp:sid:0", "stanza-id")
		if sid == nil {
			t.Fatalf("no stanza id: %s", el)
		}
		return sid.Attr("id")
	}
	retract := func(id string) string {
		return "<retract xmlns='urn:xmpp:message-retract:1' id='" + id + "'/><body>retracted</body>"
	}
	secret := say(romeo, "<body>my password</body>")
	keep := say(romeo, "<body>keep</body>")
	say(juliet, retract(keep)) // not hers: nothing changes
	say(romeo, retract(secret))

	hist := enter(t, nurse, room, "nurse", "", []string{"jul", "romeo"}, 4, "")
	var kept bool
	for _, el := range hist {
		switch b := el.Child("jabber:client", "body"); {
		case b != nil && b.Text() == "my password":
			t.Fatalf("the retracted message is still in the history: %s", el)
		case b != nil && b.Text() == "keep":
			kept = true
		}
	}
	if !kept || hist[0].Child("urn:xmpp:message-retract:1", "retracted") == nil {
		t.Fatalf("history: %v, want a tombstone first and the message juliet could not retract", hist)
	}
}
