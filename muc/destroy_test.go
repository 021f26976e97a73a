package muc_test

import (
	"context"
	"testing"

	"xmppd/internal/xmpptest"
)

// TestDestroyNotStored: when the store cannot delete a persistent room,
// its destruction fails (internal-server-error) and the room stays, with
// its occupants: it is not gone for now only to come back with its
// affiliations and archive at the next restart.
func TestDestroyNotStored(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_persistentroom", "1"))
	enter(t, romeo, room, "romeo", "", []string{"jul"}, 0, "")
	expectPresence(t, juliet, room+"/romeo", "")

	// The store refuses to delete the room from now on.
	if _, err := s.DB.Exec(context.Background(), `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'refused'; END $$;
		CREATE TRIGGER refuse BEFORE DELETE ON muc_rooms FOR EACH ROW EXECUTE FUNCTION refuse()`); err != nil {
		t.Fatal(err)
	}
	juliet.Send("<iq type='set' id='d' to='" + room + "'><query xmlns='" + nsMUC + "#owner'><destroy/></query></iq>")
	xmpptest.ExpectError(t, juliet.NextNamed("iq"), "internal-server-error")

	// Still there, romeo with it.
	juliet.Send("<message type='groupchat' to='" + room + "'><body>still here?</body></message>")
	xmpptest.ExpectBody(t, romeo.NextNamed("message"), room+"/jul", "still here?")
}
