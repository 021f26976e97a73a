package cluster_test

import (
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/natstest"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// TestExternalComponent: a component connected to one node serves the
// accounts on the other; it cannot connect twice, and once it leaves,
// its stanzas are answered with service-unavailable on every node.
func TestExternalComponent(t *testing.T) {
	const gateway, secret = "gw.localhost", "the gateway's secret"
	nats := natstest.Start(t)
	a := xmpptest.Start(t, inCluster(nats.URL()), func(c *config.Config) {
		c.Components.Listen = "127.0.0.1:0"
		c.Components.External = []config.ExternalComponent{{Domain: gateway, Secret: secret}}
	})
	b := xmpptest.Node(t, a)
	a.AddUser(t, "alice", xmpptest.Domain, "alice pw")
	alice := login(t, a, "alice", "desk")

	gw := xmpptest.ConnectComponent(t, b.ComponentAddr, gateway, secret)
	heldElsewhere(t, a, gateway, true)
	alice.Send("<message to='bob@" + gateway + "' type='chat' id='m1'><body>hello bob</body></message>")
	if m := gw.NextNamed("message"); m.Attr("from") != alice.JID || m.Attr("id") != "m1" {
		t.Fatalf("component got %s, want alice's message", m)
	}
	gw.Send("<message from='bob@" + gateway + "/irc' to='" + alice.JID + "' type='chat'><body>hello alice</body></message>")
	xmpptest.ExpectBody(t, nextMessage(alice), "bob@"+gateway+"/irc", "hello alice")

	twice := xmpptest.OpenComponent(t, a.ComponentAddr, gateway)
	twice.Send(xmpptest.Handshake(twice.Header.ID, secret))
	twice.ExpectStreamError("conflict")

	gw.Send("</stream:stream>")
	gw.NextErr()
	heldElsewhere(t, a, gateway, false)
	alice.Send("<message to='bob@" + gateway + "' type='chat' id='m2'><body>gone?</body></message>")
	xmpptest.ExpectError(t, until(alice, "the error", func(el *xmlstream.Element) bool { return el.Attr("id") == "m2" }), "service-unavailable")
}

// heldElsewhere waits until node s knows whether another node holds the
// stream of domain's component: the nodes learn it from heartbeats.
func heldElsewhere(t *testing.T, s *xmpptest.Server, domain string, want bool) {
	t.Helper()
	deadline := time.Now().Add(xmpptest.ReadTimeout)
	for s.Cluster().HeldElsewhere(domain) != want {
		if time.Now().After(deadline) {
			t.Fatalf("the node at %s never learnt that another node holds %s: %v", s.C2SAddr, domain, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
