package push_test

import (
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestInactiveWaitingSessionNotifies: a phone that told the server it is
// inactive (XEP-0352), as Conversations does when its screen is off, and
// then lost its connection, is woken for an OMEMO 2 message without a
// fallback body and for a room's mention notification (XEP-0452), which
// wake a device as a body does.
func TestInactiveWaitingSessionNotifies(t *testing.T) {
	s, _, bob, app := start(t, func(c *config.Config) { c.Push.IncludeBody = true })
	c := xmpptest.Login(t, s, "alice", "alice pw", "tablet")
	sm := c.EnableSM()
	sm.Send(enableIQ("e-n2", "n2"))
	if el := sm.Next(); el.Attr("id") != "e-n2" || el.Attr("type") != "result" {
		t.Fatalf("enable n2: got %s", el)
	}
	c.Send("<inactive xmlns='urn:xmpp:csi:0'/>")
	sm.Send("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
	sm.Next() // the inactive state is taken
	c.Conn.Close()

	for _, payload := range []string{
		"<encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'/><payload>AAAA</payload></encrypted>",
		"<mentions xmlns='urn:xmpp:mmn:0'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='groupchat' from='room@conference.localhost/bob'><body>alice: look</body></message></forwarded></mentions>",
	} {
		bob.Send("<message to='alice@localhost/tablet' type='chat'>" + payload + "</message>")
		bob.Send("<message to='alice@localhost/tablet' type='chat'><body>marker</body></message>")
		if got := pushedBodies(t, app, "n2", "marker"); got[""] != 1 {
			t.Errorf("pushes before the marker %v; want one for %s", got, payload)
		}
	}
}
