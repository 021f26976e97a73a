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

// TestDestroyPassword: the password of the alternate venue that the owner
// gives in <destroy/> reaches the occupants with it (XEP-0045 §10.9), so
// that their clients can enter the new room, as with Prosody.
func TestDestroyPassword(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)

	juliet.Send("<iq type='set' id='d' to='" + room + "'><query xmlns='" + nsMUC + "#owner'>" +
		"<destroy jid='mantua@" + service + "'><reason>moving</reason><password>exile</password></destroy></query></iq>")
	for _, c := range []struct {
		client *xmpptest.Client
		nick   string
	}{{juliet, "jul"}, {romeo, "romeo"}} {
		p := expectPresence(t, c.client, room+"/"+c.nick, "unavailable", "110")
		d := p.Child(nsUser, "x").Child(nsUser, "destroy")
		if d == nil || d.Attr("jid") != "mantua@"+service || text(d.Child(nsUser, "password")) != "exile" {
			t.Errorf("%s got %s, want <destroy/> naming mantua with its password", c.nick, p)
		}
	}
	expectIQ(t, juliet, "d", "result")
}
