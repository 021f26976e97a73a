package cluster_test

import (
	"testing"
	"time"

	"xmppd/xmlstream"
)

// TestBusyNodeIsNotGone: the home node spends longer than the timeout on
// one step of what another node sent it, a room's database write that
// waits for a lock (muc allows such a write ten seconds). It is alive,
// and so are its sessions: neither node may count the other as gone, and
// no contact may see a session that never left go offline.
func TestBusyNodeIsNotGone(t *testing.T) {
	a, _, alice, bob := pair(t)
	subscribe(alice, bob)
	subscribe(bob, alice)

	// The rooms are loaded on a before the lock is taken.
	alice.Send("<presence to='loaded@conference.localhost/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	nextPresence(alice, "loaded@conference.localhost/alice", "")

	// A room write on a waits for the lock for twice the timeout (2 s).
	tx, err := a.DB.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE muc_rooms IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	// bob creates a room: b forwards his join to a, whose handling of
	// b's messages waits for the room's row.
	bob.Send("<presence to='slow@conference.localhost/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	time.Sleep(4 * time.Second) // the lock is held: this is what is tested, not a synchronisation
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}

	// Each client gets its contact's message; before it, nothing says
	// the contact went offline.
	bob.Send("<message to='alice@localhost/desk' type='chat' id='m1'><body>still here</body></message>")
	alice.Send("<message to='bob@localhost/phone' type='chat' id='m2'><body>me too</body></message>")
	for _, c := range []struct {
		client  interface{ Next() *xmlstream.Element }
		name    string
		contact string
	}{{alice, "alice", "bob@localhost/phone"}, {bob, "bob", "alice@localhost/desk"}} {
		for range 30 {
			el := c.client.Next()
			if el.Name.Local == "presence" && el.Attr("from") == c.contact && el.Attr("type") == "unavailable" {
				t.Fatalf("%s was told that %s, who never left, went offline: %s", c.name, c.contact, el)
			}
			if el.Name.Local == "message" && el.Child("jabber:client", "body") != nil {
				break
			}
		}
	}
}
