package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// A locked room, created and not yet configured, does not exist for
// anyone but its owner (XEP-0045 §10.1.1): messages to it or to its
// occupants get item-not-found, as to a room that is not there.
func TestLockedRoomAnswersMessagesAsMissing(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	juliet.Send("<presence to='" + room + "/jul'><x xmlns='" + nsMUC + "'/></presence>")
	expectPresence(t, juliet, room+"/jul", "", "110", "170", "201")
	expectSubject(t, juliet, "")
	for _, msg := range []string{
		"<message type='groupchat' to='" + room + "' id='g'><body>hello</body></message>",
		"<message to='" + room + "' id='n'><x xmlns='" + nsUser + "'><invite to='nurse@localhost'/></x></message>",
		"<message type='chat' to='" + room + "/jul' id='c'><body>psst</body></message>",
	} {
		romeo.Send(msg)
		el := romeo.NextNamed("message")
		if el.Attr("type") != "error" {
			t.Fatalf("%s: got %s, want an error", msg, el)
		}
		xmpptest.ExpectError(t, el, "item-not-found")
	}
}
