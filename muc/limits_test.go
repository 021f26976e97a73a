package muc_test

import (
	"strings"
	"testing"
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
