package component_test

import (
	"strings"
	"testing"

	"xmppd/component"
	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	gateway  = "gw.localhost"
	secret   = "the gateway's secret"
	password = "alice's password"
)

// start starts a server that accepts the component gateway, with the
// account alice.
func start(t *testing.T) *xmpptest.Server {
	t.Helper()
	s := xmpptest.Start(t, withGateway)
	s.AddUser(t, "alice", xmpptest.Domain, password)
	return s
}

// withGateway configures the component gateway.
func withGateway(c *config.Config) {
	c.Components.Listen = "127.0.0.1:0"
	c.Components.External = []config.ExternalComponent{{Domain: gateway, Secret: secret}}
}

// connect connects the gateway component.
func connect(t *testing.T, s *xmpptest.Server) *xmpptest.Client {
	t.Helper()
	return xmpptest.ConnectComponent(t, s.ComponentAddr, gateway, secret)
}

// expectStanza reads c's next element and checks that it is a stanza of
// the component stream's namespace named local, from from.
func expectStanza(t *testing.T, c *xmpptest.Client, local, from string) *xmlstream.Element {
	t.Helper()
	el := c.Next()
	if el.Name.Space != component.NS || el.Name.Local != local || el.Attr("from") != from {
		t.Fatalf("component got %s, want a <%s/> from %s in %s", el, local, from, component.NS)
	}
	return el
}

// TestChat: messages and IQs between an account and a component's JIDs,
// both ways; the account's archive keeps the conversation, and the
// server's disco#items lists the component.
func TestChat(t *testing.T) {
	s := start(t)
	gw := connect(t, s)
	alice := xmpptest.Login(t, s, "alice", password, "laptop")

	alice.Send("<message to='bob@" + gateway + "' type='chat' id='m1'><body>hello bob</body></message>")
	m := expectStanza(t, gw, "message", alice.JID)
	if m.Attr("to") != "bob@"+gateway || m.Child(component.NS, "body").Text() != "hello bob" {
		t.Fatalf("component got %s", m)
	}
	gw.Send("<message from='bob@" + gateway + "/phone' to='" + alice.JID + "' type='chat' id='r1'><body>hello alice</body></message>")
	xmpptest.ExpectBody(t, alice.Next(), "bob@"+gateway+"/phone", "hello alice")

	alice.Send("<iq type='get' id='info' to='" + gateway + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	iq := expectStanza(t, gw, "iq", alice.JID)
	gw.Send("<iq type='result' id='" + iq.Attr("id") + "' from='" + gateway + "' to='" + alice.JID + "'>" +
		"<query xmlns='http://jabber.org/protocol/disco#info'><identity category='gateway' type='irc' name='IRC'/></query></iq>")
	res := alice.NextNamed("iq")
	if res.Attr("type") != "result" || res.Attr("from") != gateway ||
		res.Child("http://jabber.org/protocol/disco#info", "query").Child("http://jabber.org/protocol/disco#info", "identity") == nil {
		t.Fatalf("alice got %s, want the component's disco#info", res)
	}

	// The component asks the server, without 'from': it comes from its domain.
	gw.Send("<iq type='get' id='ping' to='" + xmpptest.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	if pong := expectStanza(t, gw, "iq", xmpptest.Domain); pong.Attr("type") != "result" || pong.Attr("to") != gateway {
		t.Fatalf("component got %s, want the ping's result", pong)
	}

	alice.Send("<iq type='get' id='items' to='" + xmpptest.Domain + "'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	items := alice.NextNamed("iq")
	if !strings.Contains(items.String(), "jid=\""+gateway+"\"") && !strings.Contains(items.String(), "jid='"+gateway+"'") {
		t.Fatalf("the server's disco#items %s do not list %s", items, gateway)
	}

	if n := archived(t, alice, "bob@"+gateway); n != 2 {
		t.Fatalf("alice's archive holds %d messages with bob@%s, want 2", n, gateway)
	}
}

// archived counts the messages with with in c's archive (XEP-0313).
func archived(t *testing.T, c *xmpptest.Client, with string) int {
	t.Helper()
	c.Send("<iq type='set' id='mam'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>" +
		"<field var='with'><value>" + with + "</value></field></x></query></iq>")
	for n := 0; ; {
		el := c.Next()
		switch {
		case el.Name.Local == "message" && el.Child("urn:xmpp:mam:2", "result") != nil:
			n++
		case el.Name.Local == "iq" && el.Attr("id") == "mam":
			return n
		default:
			t.Fatalf("got %s during the archive query", el)
		}
	}
}

// TestPresence: a contact at the component asks to subscribe, the
// account approves, and the contact's presence reaches it; the account's
// next login probes the contact through the component.
func TestPresence(t *testing.T) {
	s := start(t)
	gw := connect(t, s)
	alice := xmpptest.Login(t, s, "alice", password, "laptop")
	alice.Online()
	// Initial presence is handled, its pending requests delivered, before
	// the ping's answer: the request below comes once.
	barrier(t, alice)
	bob := "bob@" + gateway

	gw.Send("<presence from='" + bob + "' to='alice@" + xmpptest.Domain + "' type='subscribe'/>")
	if p := alice.NextNamed("presence"); p.Attr("from") != bob || p.Attr("type") != "subscribe" {
		t.Fatalf("alice got %s, want bob's subscription request", p)
	}
	alice.Send("<presence to='" + bob + "' type='subscribed'/>")
	if p := expectStanza(t, gw, "presence", "alice@"+xmpptest.Domain); p.Attr("type") != "subscribed" || p.Attr("to") != bob {
		t.Fatalf("component got %s, want alice's approval", p)
	}
	// The approval is followed by alice's current presence.
	if p := expectStanza(t, gw, "presence", alice.JID); p.Attr("type") != "" {
		t.Fatalf("component got %s, want alice's available presence", p)
	}
	gw.Send("<presence from='" + bob + "/phone' to='alice@" + xmpptest.Domain + "'><show>away</show></presence>")
	if p := alice.ExpectPresenceFrom(bob + "/phone"); p.Child("jabber:client", "show").Text() != "away" {
		t.Fatalf("alice got %s, want bob away", p)
	}

	alice.Send("<presence to='" + bob + "' type='subscribe'/>")
	if p := expectStanza(t, gw, "presence", "alice@"+xmpptest.Domain); p.Attr("type") != "subscribe" || p.Attr("to") != bob {
		t.Fatalf("component got %s, want alice's subscription request", p)
	}
	gw.Send("<presence from='" + bob + "' to='alice@" + xmpptest.Domain + "' type='subscribed'/>")
	barrier(t, alice)

	// A new session probes bob and tells him it is there.
	tablet := xmpptest.Login(t, s, "alice", password, "tablet")
	tablet.Online()
	got := map[string]string{}
	for range 2 {
		p := gw.NextNamed("presence")
		got[p.Attr("from")+" "+p.Attr("type")] = p.Attr("to")
	}
	want := map[string]string{tablet.JID + " probe": bob, tablet.JID + " ": bob}
	if len(got) != 2 || got[tablet.JID+" probe"] != bob || got[tablet.JID+" "] != bob {
		t.Fatalf("component got presence %v, want %v", got, want)
	}
}

// barrier pings the server and reads c's elements up to the answer.
func barrier(t *testing.T, c *xmpptest.Client) {
	t.Helper()
	c.Send("<iq type='get' id='barrier'><ping xmlns='urn:xmpp:ping'/></iq>")
	for el := c.Next(); el.Attr("id") != "barrier"; el = c.Next() {
	}
}

// TestNotConnected: stanzas for a component that is not connected are
// answered with service-unavailable, before it connects and after it
// leaves; once connected it gets the next ones.
func TestNotConnected(t *testing.T) {
	s := start(t)
	alice := xmpptest.Login(t, s, "alice", password, "laptop")
	alice.Send("<message to='bob@" + gateway + "' type='chat' id='m1'><body>anyone?</body></message>")
	xmpptest.ExpectError(t, alice.NextNamed("message"), "service-unavailable")
	alice.Send("<iq to='" + gateway + "' type='get' id='i1'><ping xmlns='urn:xmpp:ping'/></iq>")
	xmpptest.ExpectError(t, alice.NextNamed("iq"), "service-unavailable")

	gw := connect(t, s)
	alice.Send("<message to='bob@" + gateway + "' type='chat' id='m2'><body>now?</body></message>")
	if m := expectStanza(t, gw, "message", alice.JID); m.Attr("id") != "m2" {
		t.Fatalf("component got %s, want m2 alone", m)
	}

	gw.Send("</stream:stream>")
	if _, err := gw.NextErr(); err != xmlstream.ErrStreamEnd {
		t.Fatalf("after the component's end of stream: %v, want the server's end of stream", err)
	}
	alice.Send("<message to='bob@" + gateway + "' type='chat' id='m3'><body>gone?</body></message>")
	xmpptest.ExpectError(t, alice.NextNamed("message"), "service-unavailable")

	again := connect(t, s)
	alice.Send("<message to='bob@" + gateway + "' type='chat' id='m4'><body>back</body></message>")
	if m := expectStanza(t, again, "message", alice.JID); m.Attr("id") != "m4" {
		t.Fatalf("component got %s, want m4", m)
	}
}

// TestBadInput: each faulty component stream gets its stream error and
// is closed; the connected component and the account go on working.
func TestBadInput(t *testing.T) {
	s := start(t)
	gw := connect(t, s)
	alice := xmpptest.Login(t, s, "alice", password, "laptop")

	header := func(ns, to string) string {
		return "<stream:stream xmlns='" + ns + "' xmlns:stream='http://etherx.jabber.org/streams' to='" + to + "'>"
	}
	refused := []struct{ name, header, condition string }{
		{"client namespace", header("jabber:client", gateway), "invalid-namespace"},
		{"unknown domain", header(component.NS, "other.localhost"), "host-unknown"},
		{"a host's domain", header(component.NS, xmpptest.Domain), "host-unknown"},
		{"no domain", "<stream:stream xmlns='" + component.NS + "' xmlns:stream='http://etherx.jabber.org/streams'>", "improper-addressing"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			c := xmpptest.Dial(t, s.ComponentAddr)
			c.Send(tc.header)
			c.ExpectStreamError(tc.condition)
		})
	}
	authenticated := []struct{ name, send, condition string }{
		{"wrong secret", "<handshake>" + strings.Repeat("0", 40) + "</handshake>", "not-authorized"},
		{"stanza before the handshake", "<message to='alice@localhost'><body>x</body></message>", "not-authorized"},
		{"second connection", "HANDSHAKE", "conflict"},
	}
	for _, tc := range authenticated {
		t.Run(tc.name, func(t *testing.T) {
			c := xmpptest.OpenComponent(t, s.ComponentAddr, gateway)
			if tc.send == "HANDSHAKE" {
				tc.send = xmpptest.Handshake(c.Header.ID, secret)
			}
			c.Send(tc.send)
			c.ExpectStreamError(tc.condition)
		})
	}
	// Faults after the handshake need the domain free: each case runs on
	// a stream of its own, once the previous one has ended.
	gw.Send("</stream:stream>")
	gw.NextErr()
	after := []struct{ name, send, condition string }{
		{"spoofed from", "<message from='mallory@" + xmpptest.Domain + "' to='" + alice.JID + "'><body>x</body></message>", "invalid-from"},
		{"no to", "<message from='bob@" + gateway + "'><body>x</body></message>", "improper-addressing"},
		{"invalid to", "<message from='bob@" + gateway + "' to='@@'><body>x</body></message>", "improper-addressing"},
		{"not a stanza", "<foo/>", "unsupported-stanza-type"},
		{"not well-formed", "<message to='" + alice.JID + "'><body>x</message>", "not-well-formed"},
		{"doctype", "<!DOCTYPE foo>", "restricted-xml"},
	}
	for _, tc := range after {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, s)
			c.Send(tc.send)
			c.ExpectStreamError(tc.condition)
		})
	}

	gw = connect(t, s)
	gw.Send("<message from='bob@" + gateway + "' to='" + alice.JID + "' type='chat'><body>still here</body></message>")
	xmpptest.ExpectBody(t, alice.Next(), "bob@"+gateway, "still here")
}

// TestNamespacedFromDropped: a 'from' in some namespace, which clients
// built on encoding/xml would take for the stanza's, does not reach the
// account.
func TestNamespacedFromDropped(t *testing.T) {
	s := start(t)
	gw := connect(t, s)
	alice := xmpptest.Login(t, s, "alice", password, "laptop")
	gw.Send("<message from='bob@" + gateway + "' to='" + alice.JID + "' type='chat' xmlns:c='jabber:client' c:from='admin@localhost'><body>trust me</body></message>")
	m := alice.NextNamed("message")
	for _, a := range m.Attrs {
		if a.Name.Local == "from" && a.Value != "bob@"+gateway {
			t.Fatalf("alice got %s: a second from", m)
		}
	}
}

// TestDomainCase: a component that names its domain in other letter case
// in its header is the configured component: domains compare without
// regard to case (RFC 7622 §3.2).
func TestDomainCase(t *testing.T) {
	s := start(t)
	c := xmpptest.Dial(t, s.ComponentAddr)
	c.Send("<stream:stream xmlns='" + component.NS + "' xmlns:stream='http://etherx.jabber.org/streams' to='GW.LocalHost'>")
	c.ReadHeader()
	if c.Header.From != gateway {
		t.Fatalf("server's header %+v, want from %s", c.Header, gateway)
	}
	c.Send(xmpptest.Handshake(c.Header.ID, secret))
	if el := c.Next(); el.Name.Local != "handshake" {
		t.Fatalf("got %s, want <handshake/>", el)
	}
}

// TestHandshakeTimeout: a component that does not complete its handshake
// in time gets the connection-timeout stream error (RFC 6120 §4.9.3.4),
// as clients and servers do, rather than a silent close.
func TestHandshakeTimeout(t *testing.T) {
	s := xmpptest.Start(t, withGateway, func(c *config.Config) { c.Limits.NegotiationSeconds = 1 })
	c := xmpptest.OpenComponent(t, s.ComponentAddr, gateway)
	c.ExpectStreamError("connection-timeout")
}
