package cluster_test

import (
	"testing"

	"xmppd/config"
	"xmppd/internal/natstest"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// TestRevocationReachesANodeCutFromNATS: juliet changes her password on
// node a while node b, where her phone is bound, is cut from NATS. Once b
// is back, it must still end the phone's session, which logged in with
// the old password.
func TestRevocationReachesANodeCutFromNATS(t *testing.T) {
	ns := natstest.Start(t)
	slow := func(c *config.Config) { c.Cluster.TimeoutMS = 60000 } // the cut must not count as gone
	a := xmpptest.Start(t, inCluster(ns.URL()), slow)
	p := startProxy(t, ns.URL())
	b := xmpptest.Node(t, a, func(c *config.Config) { c.Cluster.NATS = p.url })
	a.AddUser(t, "juliet", xmpptest.Domain, "juliet pw")
	desk := login(t, a, "juliet", "desk")
	phone := login(t, b, "juliet", "phone")
	sees(t, a, "juliet@localhost/phone", "")

	subs := ns.NumSubscriptions()
	p.cut()
	waitFor(t, "NATS to drop node b", func() bool { return ns.NumSubscriptions() < subs })
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
