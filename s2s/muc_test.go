package s2s_test

import (
	"context"
	"strings"
	"testing"

	"xmppd/xmlstream"
)

const nsMUC = "http://jabber.org/protocol/muc"

// TestRemoteOccupant: bob@b.test enters a room of conference.a.test that
// alice created; each sees the other's presence and messages, which the
// room sends bob over the servers' streams, and alice sees him leave.
func TestRemoteOccupant(t *testing.T) {
	a, b, alice, bob := federated(t)
	b.S2S().SetRoute("conference.a.test", a.S2SAddr.String())
	const room = "verona@conference.a.test"
	is := func(name, from string) func(*xmlstream.Element) bool {
		return func(el *xmlstream.Element) bool { return el.Name.Local == name && el.Attr("from") == from }
	}

	alice.Send("<presence to='" + room + "/alice'><x xmlns='" + nsMUC + "'/></presence>")
	nextWhere(alice, "her presence in the new room", is("presence", room+"/alice"))
	alice.Send("<iq type='set' id='cfg' to='" + room + "'><query xmlns='" + nsMUC + "#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
	nextWhere(alice, "the room configured", func(el *xmlstream.Element) bool { return el.Name.Local == "iq" && el.Attr("id") == "cfg" })

	bob.Send("<presence to='" + room + "/bob'><x xmlns='" + nsMUC + "'/></presence>")
	nextWhere(bob, "alice's presence in the room", is("presence", room+"/alice"))
	if self := nextWhere(bob, "his own presence in the room", is("presence", room+"/bob")); self.Attr("type") != "" {
		t.Fatalf("bob's own presence: %s", self)
	}
	nextWhere(bob, "the subject", func(el *xmlstream.Element) bool {
		return el.Name.Local == "message" && el.Child("jabber:client", "subject") != nil
	})
	nextWhere(alice, "bob's presence in the room", is("presence", room+"/bob"))

	bob.Send("<message type='groupchat' to='" + room + "'><body>from afar</body></message>")
	for _, c := range []*xmlstream.Element{nextWhere(alice, "bob's message", is("message", room+"/bob")), nextWhere(bob, "his message reflected", is("message", room+"/bob"))} {
		if c.Child("jabber:client", "body").Text() != "from afar" {
			t.Fatalf("got %s, want bob's message", c)
		}
	}
	alice.Send("<message type='groupchat' to='" + room + "'><body>welcome</body></message>")
	if m := nextWhere(bob, "alice's message", is("message", room+"/alice")); m.Child("jabber:client", "body").Text() != "welcome" {
		t.Fatalf("got %s, want alice's message", m)
	}

	// A private message through the room reaches him.
	alice.Send("<message type='chat' to='" + room + "/bob'><body>psst</body></message>")
	if m := nextWhere(bob, "alice's private message", is("message", room+"/alice")); m.Child("jabber:client", "body").Text() != "psst" {
		t.Fatalf("got %s, want alice's private message", m)
	}

	// The room's archive answers him: its results come before the end of
	// the query.
	bob.Send("<iq type='set' id='mam' to='" + room + "'><query xmlns='urn:xmpp:mam:2'/></iq>")
	var results int
	for el := nextWhere(bob, "the archive's answer", func(el *xmlstream.Element) bool { return el.Attr("from") == room }); el.Name.Local == "message"; el = bob.Next() {
		results++
	}
	if results != 2 {
		t.Fatalf("bob got %d archived messages before the query's answer, want 2", results)
	}

	bob.Send("<presence type='unavailable' to='" + room + "/bob'/>")
	nextWhere(bob, "his own exit", is("presence", room+"/bob"))
	if p := nextWhere(alice, "bob's exit", is("presence", room+"/bob")); p.Attr("type") != "unavailable" {
		t.Fatalf("got %s, want bob's exit", p)
	}
}

// TestRemoteOccupantToldOfShutdown: when a.test stops, bob@b.test, in one
// of its rooms, is told he left it because the service shut down (332),
// before the streams between the servers end.
func TestRemoteOccupantToldOfShutdown(t *testing.T) {
	a, b, alice, bob := federated(t)
	b.S2S().SetRoute("conference.a.test", a.S2SAddr.String())
	const room = "verona@conference.a.test"
	alice.Send("<presence to='" + room + "/alice'><x xmlns='" + nsMUC + "'/></presence>")
	nextWhere(alice, "her presence in the new room", func(el *xmlstream.Element) bool { return el.Attr("from") == room+"/alice" })
	alice.Send("<iq type='set' id='cfg' to='" + room + "'><query xmlns='" + nsMUC + "#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
	nextWhere(alice, "the room configured", func(el *xmlstream.Element) bool { return el.Name.Local == "iq" && el.Attr("id") == "cfg" })
	bob.Send("<presence to='" + room + "/bob'><x xmlns='" + nsMUC + "'/></presence>")
	nextWhere(bob, "the subject", func(el *xmlstream.Element) bool {
		return el.Name.Local == "message" && el.Child("jabber:client", "subject") != nil
	})

	// Without local clients, the client streams end at once.
	alice.Send("</stream:stream>")
	for {
		if _, err := alice.NextErr(); err != nil {
			break
		}
	}
	go a.Shutdown(context.Background())
	p := nextWhere(bob, "his exit", func(el *xmlstream.Element) bool { return el.Name.Local == "presence" && el.Attr("from") == room+"/bob" })
	if x := p.Child(nsMUC+"#user", "x"); p.Attr("type") != "unavailable" || x == nil || !strings.Contains(x.String(), "'332'") {
		t.Fatalf("got %s, want his exit with status 332", p)
	}
}
