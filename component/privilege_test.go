package component_test

import (
	"strings"
	"testing"

	"xmppd/component"
	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// withPrivileges configures the gateway with roster and message
// privileges (XEP-0356), and a second component without any.
func withPrivileges(c *config.Config) {
	withGateway(c)
	c.Components.External[0].Privileges = config.Privileges{Roster: "both", Message: "outgoing"}
	c.Components.External = append(c.Components.External, config.ExternalComponent{Domain: "plain.localhost", Secret: secret})
}

// TestPrivileges: the gateway learns its privileges when it connects,
// reads and changes alice's roster (she gets the roster push), and
// sends a message in her name; a component without privileges is
// refused both, and so is a message in the name of a full JID or of
// another server's account.
func TestPrivileges(t *testing.T) {
	s := xmpptest.Start(t, withPrivileges)
	s.AddUser(t, "alice", xmpptest.Domain, password)
	s.AddUser(t, "bob", xmpptest.Domain, "bob's password")
	gw := connect(t, s)
	adv := expectStanza(t, gw, "message", "localhost")
	perms := map[string]string{}
	for _, p := range adv.Child(component.NSPrivilege, "privilege").ChildElements() {
		perms[p.Attr("access")] = p.Attr("type")
	}
	if perms["roster"] != "both" || perms["message"] != "outgoing" || len(perms) != 2 {
		t.Fatalf("advertised %s, want roster both and message outgoing", adv)
	}
	alice := xmpptest.Login(t, s, "alice", password, "laptop")
	alice.Send("<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/></iq>") // she wants pushes
	alice.NextNamed("iq")
	bob := xmpptest.Login(t, s, "bob", "bob's password", "phone")
	bob.Online()

	gw.Send("<iq type='set' id='s1' from='" + gateway + "' to='alice@localhost'><query xmlns='jabber:iq:roster'>" +
		"<item jid='carol@" + gateway + "' name='Carol' subscription='both'><group>Gateway</group></item></query></iq>")
	if r := expectStanza(t, gw, "iq", "alice@localhost"); r.Attr("type") != "result" || r.Attr("id") != "s1" {
		t.Fatalf("roster set: %s", r)
	}
	push := alice.NextNamed("iq")
	if item := push.Child("jabber:iq:roster", "query").Child("jabber:iq:roster", "item"); item == nil || item.Attr("jid") != "carol@"+gateway ||
		item.Attr("name") != "Carol" || item.Attr("subscription") != "both" {
		t.Fatalf("alice got %s, want the push of carol, subscribed both ways", push)
	}
	gw.Send("<iq type='get' id='g1' from='" + gateway + "' to='alice@localhost'><query xmlns='jabber:iq:roster'/></iq>")
	if r := expectStanza(t, gw, "iq", "alice@localhost"); r.Attr("type") != "result" || !strings.Contains(r.String(), "carol@"+gateway) {
		t.Fatalf("roster get: %s", r)
	}

	gw.Send("<message from='" + gateway + "' to='localhost' id='p1'><privilege xmlns='" + component.NSPrivilege + "'>" +
		"<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@localhost' to='bob@localhost' type='chat' id='fw1'>" +
		"<body>sent from the legacy network</body></message></forwarded></privilege></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@localhost", "sent from the legacy network")

	for _, from := range []string{"alice@localhost/laptop", "mallory@example.net"} {
		gw.Send("<message from='" + gateway + "' to='localhost' id='bad'><privilege xmlns='" + component.NSPrivilege + "'>" +
			"<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='" + from + "' to='bob@localhost'>" +
			"<body>forged</body></message></forwarded></privilege></message>")
		expectError(t, expectStanza(t, gw, "message", "localhost"), "forbidden")
	}

	// Malformed: nothing forwarded, or a forwarded message to no one.
	gw.Send("<message from='" + gateway + "' to='localhost' id='empty'><privilege xmlns='" + component.NSPrivilege + "'/></message>")
	expectError(t, expectStanza(t, gw, "message", "localhost"), "bad-request")
	gw.Send("<message from='" + gateway + "' to='localhost' id='noto'><privilege xmlns='" + component.NSPrivilege + "'>" +
		"<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@localhost'><body>to whom?</body></message>" +
		"</forwarded></privilege></message>")
	expectError(t, expectStanza(t, gw, "message", "localhost"), "jid-malformed")

	plain := xmpptest.ConnectComponent(t, s.ComponentAddr, "plain.localhost", secret)
	plain.Send("<iq type='get' id='g2' from='plain.localhost' to='alice@localhost'><query xmlns='jabber:iq:roster'/></iq>")
	expectError(t, expectStanza(t, plain, "iq", "alice@localhost"), "forbidden")
	plain.Send("<message from='plain.localhost' to='localhost' id='p2'><privilege xmlns='" + component.NSPrivilege + "'>" +
		"<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@localhost' to='bob@localhost'>" +
		"<body>not allowed</body></message></forwarded></privilege></message>")
	expectError(t, expectStanza(t, plain, "message", "localhost"), "forbidden")
	bob.Ping() // nothing more came to bob
}

// expectError checks that el, as the component got it, is an error with
// condition.
func expectError(t *testing.T, el *xmlstream.Element, condition string) {
	t.Helper()
	e := el.Child(component.NS, "error")
	if el.Attr("type") != "error" || e == nil || e.Child("urn:ietf:params:xml:ns:xmpp-stanzas", condition) == nil {
		t.Fatalf("got %s, want a %s error", el, condition)
	}
}
