package server_test

import (
	"fmt"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// The [muc] flood limit of the configuration reaches the rooms: with a
// burst of 2 and almost no refill, an occupant's third message at once is
// refused with resource-constraint (type wait), and the first two pass.
func TestMUCFloodLimitFromConfig(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) {
		c.MUC.FloodRate = 0.001 // one message in 1000 s: nothing refills during the test
		c.MUC.FloodBurst = 2
	})
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	const room = "flood@conference." + xmpptest.Domain
	juliet.Send("<presence to='" + room + "/jul'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	next(t, juliet, "the room's subject", func(el *xmlstream.Element) bool {
		return el.Name.Local == "message" && el.Child("jabber:client", "subject") != nil
	})
	juliet.Send("<iq type='set' id='cfg' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'>" +
		"<x xmlns='jabber:x:data' type='submit'/></query></iq>")
	if el := next(t, juliet, "the configuration result", func(el *xmlstream.Element) bool {
		return el.Name.Local == "iq" && el.Attr("id") == "cfg"
	}); el.Attr("type") != "result" {
		t.Fatalf("configuring the room: %s", el)
	}
	for i := 1; i <= 3; i++ {
		juliet.Send(fmt.Sprintf("<message type='groupchat' id='m%d' to='%s'><body>message %d</body></message>", i, room, i))
	}
	for i := 1; i <= 3; i++ {
		el := next(t, juliet, "a groupchat message or error", func(el *xmlstream.Element) bool {
			return el.Name.Local == "message" && el.Attr("id") == fmt.Sprintf("m%d", i)
		})
		e := el.Child("jabber:client", "error")
		switch {
		case i < 3 && (el.Attr("type") != "groupchat" || e != nil):
			t.Errorf("message %d within the burst: got %s, want it reflected", i, el)
		case i == 3 && (el.Attr("type") != "error" || e == nil || e.Attr("type") != "wait" ||
			e.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "resource-constraint") == nil):
			t.Errorf("message 3 beyond the burst: got %s, want a resource-constraint error (type wait)", el)
		}
	}
}

// next reads c's elements until match accepts one, skipping the others.
func next(t *testing.T, c *xmpptest.Client, what string, match func(*xmlstream.Element) bool) *xmlstream.Element {
	t.Helper()
	for range 50 {
		if el := c.Next(); match(el) {
			return el
		}
	}
	t.Fatalf("%s: no %s in 50 elements", c.JID, what)
	return nil
}
