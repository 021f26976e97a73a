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
// privileges (XEP-0356), a second component without any, and a third
// that reads rosters but wants no roster pushes.
func withPrivileges(c *config.Config) {
	withGateway(c)
	c.Components.External[0].Privileges = config.Privileges{Roster: "both", Message: "outgoing"}
	noPush := false
	c.Components.External = append(c.Components.External, config.ExternalComponent{Domain: "plain.localhost", Secret: secret},
		config.ExternalComponent{Domain: "quiet.localhost", Secret: secret, Privileges: config.Privileges{Roster: "get", RosterPush: &noPush}})
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
		perms[p.Attr("access")] = p.Attr("type") + " " + p.Attr("push")
	}
	if perms["roster"] != "both true" || perms["message"] != "outgoing " || len(perms) != 2 {
		t.Fatalf("advertised %s, want roster both with pushes and message outgoing", adv)
	}
	quiet := xmpptest.ConnectComponent(t, s.ComponentAddr, "quiet.localhost", secret)
	if p := expectStanza(t, quiet, "message", "localhost").Child(component.NSPrivilege, "privilege").Child(component.NSPrivilege, "perm"); p.Attr("push") != "false" {
		t.Fatalf("quiet's roster permission %s, want push='false'", p)
	}
	alice := xmpptest.Login(t, s, "alice", password, "laptop")
	alice.Send("<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/></iq>") // she wants pushes
	alice.NextNamed("iq")
	bob := xmpptest.Login(t, s, "bob", "bob's password", "phone")
	bob.Online()

	gw.Send("<iq type='set' id='s1' from='" + gateway + "' to='alice@localhost'><query xmlns='jabber:iq:roster'>" +
		"<item jid='carol@" + gateway + "' name='Carol' subscription='both'><group>Gateway</group></item></query></iq>")
	// The gateway reads rosters: it gets the push too (XEP-0356 §4.2).
	if r := expectStanza(t, gw, "iq", "alice@localhost"); r.Attr("type") != "set" || r.Attr("to") != gateway ||
		!strings.Contains(r.String(), "carol@"+gateway) || r.Child("jabber:iq:roster", "query").Attr("ver") == "" {
		t.Fatalf("got %s, want alice's roster push", r)
	}
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
	quiet.Send("<iq type='get' id='qp' from='quiet.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if r := expectStanza(t, quiet, "iq", "localhost"); r.Attr("id") != "qp" {
		t.Fatalf("quiet got %s, want no roster push before its ping's answer", r)
	}
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

// withIQPrivilege configures the gateway with the iq privilege for PEP
// (pubsub both ways, pubsub#owner set), and a second component without.
func withIQPrivilege(c *config.Config) {
	withGateway(c)
	c.Components.External[0].Privileges = config.Privileges{IQ: map[string]string{
		"http://jabber.org/protocol/pubsub": "both", "http://jabber.org/protocol/pubsub#owner": "set"}}
	c.Components.External = append(c.Components.External, config.ExternalComponent{Domain: "plain.localhost", Secret: secret})
}

// privilegedIQ is the IQ a component sends as account, wrapping one of
// type typ with payload.
func privilegedIQ(id, from, account, typ, payload string) string {
	return "<iq type='" + typ + "' id='" + id + "' from='" + from + "' to='" + account + "'><privileged_iq xmlns='" + component.NSPrivilege + "'>" +
		"<iq xmlns='jabber:client' type='" + typ + "' id='inner-" + id + "' from='" + account + "' to='" + account + "'>" + payload + "</iq>" +
		"</privileged_iq></iq>"
}

// TestPrivilegedIQ: a gateway with the iq privilege publishes a bookmark
// in alice's PEP and reads it back, as Slidge does for its group chats;
// the answers come forwarded inside <privilege/>. Alice sees the
// bookmark. What the privilege does not allow, or that is not what XEP-0356
// describes, is refused.
func TestPrivilegedIQ(t *testing.T) {
	s := xmpptest.Start(t, withIQPrivilege)
	s.AddUser(t, "alice", xmpptest.Domain, password)
	s.AddUser(t, "bob", xmpptest.Domain, "bob's password")
	gw := connect(t, s)
	adv := expectStanza(t, gw, "message", "localhost")
	perm := adv.Child(component.NSPrivilege, "privilege").Child(component.NSPrivilege, "perm")
	if perm == nil || perm.Attr("access") != "iq" || len(perm.ChildElements()) != 2 ||
		perm.ChildElements()[0].Attr("ns") != "http://jabber.org/protocol/pubsub" || perm.ChildElements()[0].Attr("type") != "both" {
		t.Fatalf("advertised %s, want the iq privilege for pubsub and pubsub#owner", adv)
	}

	bookmark := "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:bookmarks:1'>" +
		"<item id='room@" + gateway + "'><conference xmlns='urn:xmpp:bookmarks:1' name='Legacy group' autojoin='true'/></item></publish>" +
		"<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>" +
		"<field var='pubsub#persist_items'><value>true</value></field><field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options></pubsub>"
	gw.Send(privilegedIQ("p1", gateway, "alice@localhost", "set", bookmark))
	res := expectStanza(t, gw, "iq", "alice@localhost")
	fwd := res.Child(component.NSPrivilege, "privilege").Child("urn:xmpp:forward:0", "forwarded")
	if res.Attr("type") != "result" || res.Attr("id") != "p1" || fwd.Child("jabber:client", "iq") == nil ||
		fwd.Child("jabber:client", "iq").Attr("type") != "result" || fwd.Child("jabber:client", "iq").Attr("id") != "inner-p1" {
		t.Fatalf("publish: got %s, want a result forwarding the inner one", res)
	}
	gw.Send(privilegedIQ("p2", gateway, "alice@localhost", "get",
		"<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub>"))
	if res := expectStanza(t, gw, "iq", "alice@localhost"); res.Attr("type") != "result" || !strings.Contains(res.String(), "Legacy group") {
		t.Fatalf("items: got %s, want alice's bookmark", res)
	}
	alice := xmpptest.Login(t, s, "alice", password, "laptop")
	items := alice.Result("get", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub>")
	if !strings.Contains(items.String(), "room@"+gateway) {
		t.Fatalf("alice's bookmarks: %s", items)
	}

	// An error of the inner IQ comes back as the error.
	gw.Send(privilegedIQ("p3", gateway, "alice@localhost", "get",
		"<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='no-such-node'/></pubsub>"))
	expectError(t, expectStanza(t, gw, "iq", "alice@localhost"), "item-not-found")

	for _, c := range []struct{ iq, condition string }{
		// a type the privilege does not give
		{privilegedIQ("b1", gateway, "alice@localhost", "get", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='urn:xmpp:bookmarks:1'/></pubsub>"), "forbidden"},
		// a namespace it does not name
		{privilegedIQ("b2", gateway, "alice@localhost", "get", "<query xmlns='jabber:iq:roster'/>"), "forbidden"},
		// in the name of another account than the one addressed
		{strings.Replace(privilegedIQ("b3", gateway, "alice@localhost", "get", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub>"),
			"from='alice@localhost' to='alice@localhost'>", "from='bob@localhost' to='bob@localhost'>", 1), "forbidden"},
		// of another type than the wrapping IQ
		{strings.Replace(privilegedIQ("b4", gateway, "alice@localhost", "get", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub>"),
			"type='get' id='inner", "type='set' id='inner", 1), "bad-request"},
		// without an id to answer it by
		{strings.Replace(privilegedIQ("b8", gateway, "alice@localhost", "get", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub>"),
			" id='inner-b8'", "", 1), "bad-request"},
		// nothing wrapped
		{"<iq type='get' id='b5' from='" + gateway + "' to='alice@localhost'><privileged_iq xmlns='" + component.NSPrivilege + "'/></iq>", "bad-request"},
	} {
		gw.Send(c.iq)
		expectError(t, expectStanza(t, gw, "iq", "alice@localhost"), c.condition)
	}
	plain := xmpptest.ConnectComponent(t, s.ComponentAddr, "plain.localhost", secret)
	plain.Send(privilegedIQ("b6", "plain.localhost", "alice@localhost", "get", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub>"))
	expectError(t, expectStanza(t, plain, "iq", "alice@localhost"), "forbidden")
	// A client cannot send one either.
	alice.Send(privilegedIQ("b7", "alice@localhost/laptop", "alice@localhost", "get", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub>"))
	xmpptest.ExpectError(t, alice.NextNamed("iq"), "forbidden")
}
