package muc_test

import (
	"context"
	"testing"

	"xmppd/internal/xmpptest"
)

// TestSubjectNotStored: a subject change the room could not store is
// refused (internal-server-error) and changes nothing: whoever enters
// next still gets the old subject, the one the store keeps for a restart.
func TestSubjectNotStored(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_persistentroom", "1"))
	juliet.Send("<message type='groupchat' to='" + room + "'><subject>feud</subject></message>")
	if el := juliet.NextNamed("message"); el.Child("jabber:client", "subject").Text() != "feud" {
		t.Fatalf("subject change: %s", el)
	}

	// The store refuses to change the room from now on.
	if _, err := s.DB.Exec(context.Background(), `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'refused'; END $$;
		CREATE TRIGGER refuse BEFORE UPDATE ON muc_rooms FOR EACH ROW EXECUTE FUNCTION refuse()`); err != nil {
		t.Fatal(err)
	}
	juliet.Send("<message type='groupchat' id='s' to='" + room + "'><subject>peace</subject></message>")
	xmpptest.ExpectError(t, juliet.NextNamed("message"), "internal-server-error")
	enter(t, romeo, room, "romeo", "", []string{"jul"}, 0, "feud")
}

// TestSubjectWithThreadIsMessage: a groupchat message with a <subject/>
// and a <thread/> is an ordinary message, not a subject change (XEP-0045
// §8.1): the room's subject stays, and a participant may send one.
func TestSubjectWithThreadIsMessage(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	createWithRomeo(t, juliet, romeo)
	romeo.Send("<message type='groupchat' to='" + room + "' id='t'><subject>balcony</subject><thread>t1</thread></message>")
	for _, c := range []*xmpptest.Client{juliet, romeo} {
		el := c.NextNamed("message")
		if el.Attr("type") == "error" || el.Child("jabber:client", "thread") == nil {
			t.Fatalf("%s: got %s, want romeo's threaded message", c.JID, el)
		}
	}
	enter(t, nurse, room, "nurse", "", []string{"jul", "romeo"}, 0, "")
}
