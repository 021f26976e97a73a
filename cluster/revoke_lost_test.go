package cluster_test

import (
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// TestRevocationReachesANodeCutFromNATS: juliet changes her password on
// node a while node b, where her phone is bound, is cut from NATS. Once b
// is back, it must still end the phone's session, which logged in with
// the old password.
func TestRevocationReachesANodeCutFromNATS(t *testing.T) {
	a, b, p := cuttableNodes(t)
	a.AddUser(t, "juliet", xmpptest.Domain, "juliet pw")
	desk := login(t, a, "juliet", "desk")
	phone := login(t, b, "juliet", "phone")
	sees(t, a, "juliet@localhost/phone", "")

	p.cutNode(t)
	desk.Send("<iq type='set' id='p1' to='localhost'><query xmlns='jabber:iq:register'><username>juliet</username><password>new pass</password></query></iq>")
	if el := nextIQ(desk); el.Attr("id") != "p1" || el.Attr("type") != "result" {
		t.Fatalf("password change: %s", el)
	}
	p.mend()

	el := until(phone, "stream error", func(el *xmlstream.Element) bool { return el.Name.Local == "error" })
	if el.Child("urn:ietf:params:xml:ns:xmpp-streams", "reset") == nil {
		t.Fatalf("phone got %s, want the stream error reset", el)
	}
	nextPresence(desk, "juliet@localhost/phone", "unavailable")
	desk.Ping() // the session that changed it stays
}
