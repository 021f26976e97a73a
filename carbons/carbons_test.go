package carbons_test

import (
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	nsCarbons = "urn:xmpp:carbons:2"
	nsForward = "urn:xmpp:forward:0"
	nsClient  = "jabber:client"
)

// juliet is one account with three resources: balcony and chamber have
// carbons enabled, phone has not. Only balcony sent presence, so it alone
// gets messages to the bare JID. romeo is another account.
type juliet struct {
	s                              *xmpptest.Server
	balcony, chamber, phone, romeo *xmpptest.Client
}

func start(t *testing.T) juliet {
	t.Helper()
	s := xmpptest.Start(t)
	for _, u := range []string{"juliet", "romeo"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	j := juliet{
		s:       s,
		balcony: xmpptest.Login(t, s, "juliet", "secret", "balcony"),
		chamber: xmpptest.Login(t, s, "juliet", "secret", "chamber"),
		phone:   xmpptest.Login(t, s, "juliet", "secret", "phone"),
		romeo:   xmpptest.Login(t, s, "romeo", "secret", "orchard"),
	}
	j.balcony.Online()
	toggle(t, j.balcony, "enable")
	toggle(t, j.chamber, "enable")
	return j
}

// toggle sends <enable/> or <disable/> and expects the result of
// XEP-0280 §4-§5: from the bare JID, to the session, without payload.
func toggle(t *testing.T, c *xmpptest.Client, verb string) {
	t.Helper()
	c.Send("<iq type='set' id='" + verb + "'><" + verb + " xmlns='urn:xmpp:carbons:2'/></iq>")
	r := c.NextNamed("iq")
	bare, _, _ := strings.Cut(c.JID, "/")
	if r.Attr("type") != "result" || r.Attr("id") != verb || r.Attr("from") != bare || r.Attr("to") != c.JID || len(r.ChildElements()) != 0 {
		t.Fatalf("%s: %s: got %s, want an empty result from %s", c.JID, verb, r, bare)
	}
}

// expectCarbon reads a carbon copy wrapped in <wrapper/> ("sent" or
// "received"), checks the wrapping of XEP-0280 §7-§8 and XEP-0297, and
// returns the forwarded message.
func expectCarbon(t *testing.T, c *xmpptest.Client, wrapper, typ string) *xmlstream.Element {
	t.Helper()
	m := c.NextNamed("message")
	bare, _, _ := strings.Cut(c.JID, "/")
	if m.Attr("from") != bare || m.Attr("to") != c.JID || m.Attr("type") != typ {
		t.Fatalf("%s: got %s, want a %s carbon from %s of type %q", c.JID, m, wrapper, bare, typ)
	}
	w := m.Child(nsCarbons, wrapper)
	if w == nil || len(m.ChildElements()) != 1 {
		t.Fatalf("%s: got %s, want only a <%s/> carbon", c.JID, m, wrapper)
	}
	fwd := w.Child(nsForward, "forwarded")
	if fwd == nil || len(w.ChildElements()) != 1 {
		t.Fatalf("%s: got %s, want one <forwarded/> in <%s/>", c.JID, m, wrapper)
	}
	inner := fwd.Child(nsClient, "message")
	if inner == nil {
		t.Fatalf("%s: got %s, want a forwarded message", c.JID, m)
	}
	return inner
}

// expectForwarded checks the addresses and body of a forwarded message.
func expectForwarded(t *testing.T, inner *xmlstream.Element, from, to, body string) {
	t.Helper()
	if inner.Attr("from") != from || inner.Attr("to") != to || inner.Child(nsClient, "body").Text() != body {
		t.Fatalf("forwarded %s, want from %s to %s saying %q", inner, from, to, body)
	}
}

// nothing proves that c received nothing so far: the answer to its ping
// is the next thing it reads.
func nothing(cs ...*xmpptest.Client) {
	for _, c := range cs {
		c.Ping()
	}
}

func TestEnableDisable(t *testing.T) {
	j := start(t)

	// XEP-0280 §3: the server announces the feature.
	j.phone.Send("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q := j.phone.NextNamed("iq").Child("http://jabber.org/protocol/disco#info", "query")
	found := false
	for _, f := range q.ChildElements() {
		found = found || (f.Name.Local == "feature" && f.Attr("var") == nsCarbons)
	}
	if !found {
		t.Fatalf("disco#info does not announce %s: %s", nsCarbons, q)
	}

	// §10.1: enabling or disabling twice is not an error.
	toggle(t, j.balcony, "enable")
	toggle(t, j.phone, "disable")

	// §4.1, §5.1: nobody changes another account's carbons.
	for _, verb := range []string{"enable", "disable"} {
		j.romeo.Send("<iq type='set' id='x' to='juliet@localhost'><" + verb + " xmlns='urn:xmpp:carbons:2'/></iq>")
		xmpptest.ExpectError(t, j.romeo.NextNamed("iq"), "not-allowed")
	}

	// Disabling stops the copies to that resource only.
	toggle(t, j.chamber, "disable")
	j.romeo.Send("<message to='juliet@localhost/phone' type='chat'><body>one</body></message>")
	xmpptest.ExpectBody(t, j.phone.NextNamed("message"), "romeo@localhost/orchard", "one")
	expectForwarded(t, expectCarbon(t, j.balcony, "received", "chat"), "romeo@localhost/orchard", "juliet@localhost/phone", "one")
	nothing(j.chamber)

	// A resource that reconnects starts without carbons: its old session's
	// state was forgotten when the new one replaced it.
	toggle(t, j.chamber, "enable")
	old := j.chamber
	j.chamber = xmpptest.Login(t, j.s, "juliet", "secret", "chamber")
	old.ExpectStreamError("conflict")
	j.romeo.Send("<message to='juliet@localhost/phone' type='chat'><body>two</body></message>")
	xmpptest.ExpectBody(t, j.phone.NextNamed("message"), "romeo@localhost/orchard", "two")
	expectForwarded(t, expectCarbon(t, j.balcony, "received", "chat"), "romeo@localhost/orchard", "juliet@localhost/phone", "two")
	nothing(j.chamber)
}

// XEP-0280 §8: what one resource sends is copied to the other enabled
// resources, whether or not the sender enabled carbons, but never to the
// sender itself nor to resources without carbons.
func TestSentCopies(t *testing.T) {
	j := start(t)
	j.balcony.Send("<message to='romeo@localhost/orchard' type='chat' id='s1'><body>Good night, good night!</body><thread>t1</thread></message>")
	xmpptest.ExpectBody(t, j.romeo.NextNamed("message"), "juliet@localhost/balcony", "Good night, good night!")
	inner := expectCarbon(t, j.chamber, "sent", "chat")
	expectForwarded(t, inner, "juliet@localhost/balcony", "romeo@localhost/orchard", "Good night, good night!")
	if inner.Attr("id") != "s1" || inner.Child(nsClient, "thread").Text() != "t1" {
		t.Errorf("forwarded %s, want the whole original message", inner)
	}
	nothing(j.balcony, j.phone)

	j.phone.Send("<message to='romeo@localhost/orchard' type='chat'><body>from the phone</body></message>")
	xmpptest.ExpectBody(t, j.romeo.NextNamed("message"), "juliet@localhost/phone", "from the phone")
	for _, c := range []*xmpptest.Client{j.balcony, j.chamber} {
		expectForwarded(t, expectCarbon(t, c, "sent", "chat"), "juliet@localhost/phone", "romeo@localhost/orchard", "from the phone")
	}
	nothing(j.phone)

	// A normal message with a body keeps its (absent) type.
	j.chamber.Send("<message to='romeo@localhost/orchard'><body>normal</body></message>")
	xmpptest.ExpectBody(t, j.romeo.NextNamed("message"), "juliet@localhost/chamber", "normal")
	expectForwarded(t, expectCarbon(t, j.balcony, "sent", ""), "juliet@localhost/chamber", "romeo@localhost/orchard", "normal")
	nothing(j.chamber, j.phone)
}

// XEP-0280 §7: what the account receives is copied to the enabled
// resources that did not get it, for a bare or a full JID.
func TestReceivedCopies(t *testing.T) {
	j := start(t)
	romeo := "romeo@localhost/orchard"

	// To the bare JID: only balcony is available, chamber gets a copy.
	j.romeo.Send("<message to='juliet@localhost' type='chat'><body>bare</body></message>")
	xmpptest.ExpectBody(t, j.balcony.NextNamed("message"), romeo, "bare")
	expectForwarded(t, expectCarbon(t, j.chamber, "received", "chat"), romeo, "juliet@localhost", "bare")
	nothing(j.balcony, j.phone)

	// To a full JID without carbons: both enabled resources get a copy.
	j.romeo.Send("<message to='juliet@localhost/phone' type='chat'><body>phone</body></message>")
	xmpptest.ExpectBody(t, j.phone.NextNamed("message"), romeo, "phone")
	for _, c := range []*xmpptest.Client{j.balcony, j.chamber} {
		expectForwarded(t, expectCarbon(t, c, "received", "chat"), romeo, "juliet@localhost/phone", "phone")
	}
	nothing(j.phone)

	// To an enabled full JID: it gets the original only.
	j.romeo.Send("<message to='juliet@localhost/chamber' type='normal'><body>chamber</body></message>")
	xmpptest.ExpectBody(t, j.chamber.NextNamed("message"), romeo, "chamber")
	expectForwarded(t, expectCarbon(t, j.balcony, "received", "normal"), romeo, "juliet@localhost/chamber", "chamber")
	nothing(j.chamber, j.phone)
}

// A message between two resources of the account reaches each other
// enabled resource once, and neither the sender nor the recipient twice.
func TestOwnResources(t *testing.T) {
	j := start(t)
	j.balcony.Send("<message to='juliet@localhost/phone' type='chat'><body>note to self</body></message>")
	xmpptest.ExpectBody(t, j.phone.NextNamed("message"), "juliet@localhost/balcony", "note to self")
	expectForwarded(t, expectCarbon(t, j.chamber, "received", "chat"), "juliet@localhost/balcony", "juliet@localhost/phone", "note to self")
	nothing(j.balcony, j.phone, j.chamber)
}

// XEP-0280 §6 and §9, XEP-0334: messages that are not copied. Each is
// followed by one that is, whose copy must be the next thing the enabled
// resources read.
func TestNotCopied(t *testing.T) {
	j := start(t)
	for _, tt := range []struct {
		name string
		from *xmpptest.Client
		send string
		to   *xmpptest.Client // gets the original
	}{
		{"private sent", nil, "<message to='romeo@localhost/orchard' type='chat'><body>p</body><private xmlns='urn:xmpp:carbons:2'/><no-copy xmlns='urn:xmpp:hints'/></message>", nil},
		{"no-copy sent", nil, "<message to='romeo@localhost/orchard' type='chat'><body>n</body><no-copy xmlns='urn:xmpp:hints'/></message>", nil},
		{"private received", j.romeo, "<message to='juliet@localhost/phone' type='chat'><body>p</body><private xmlns='urn:xmpp:carbons:2'/></message>", j.phone},
		{"no-copy received", j.romeo, "<message to='juliet@localhost/phone' type='chat'><body>n</body><no-copy xmlns='urn:xmpp:hints'/></message>", j.phone},
		{"normal without body", j.romeo, "<message to='juliet@localhost/phone'><subject>s</subject></message>", j.phone},
		{"headline", j.romeo, "<message to='juliet@localhost/phone' type='headline'><body>news</body></message>", j.phone},
		{"error", j.romeo, "<message to='juliet@localhost/phone' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", j.phone},
		{"groupchat", j.romeo, "<message to='juliet@localhost/phone' type='groupchat'><body>g</body></message>", j.phone},
		{"MUC private message", j.romeo, "<message to='juliet@localhost/phone' type='chat'><body>pm</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>", j.phone},
		{"a carbon received", j.romeo, "<message to='juliet@localhost/phone' type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='chat'><body>c</body></message></forwarded></received></message>", j.phone},
		{"a carbon sent", nil, "<message to='romeo@localhost/orchard' type='chat'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='chat'><body>c</body></message></forwarded></sent></message>", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			from, to, wrapper, marker := tt.from, tt.to, "received", "<message to='juliet@localhost/phone' type='chat'><body>marker</body></message>"
			if from == nil { // sent by phone to romeo
				from, to, wrapper, marker = j.phone, j.romeo, "sent", "<message to='romeo@localhost/orchard' type='chat'><body>marker</body></message>"
			}
			from.Send(tt.send)
			if got := to.NextNamed("message"); got.Attr("from") != from.JID {
				t.Fatalf("got %s, want the original from %s", got, from.JID)
			}
			from.Send(marker)
			xmpptest.ExpectBody(t, to.NextNamed("message"), from.JID, "marker")
			for _, c := range []*xmpptest.Client{j.balcony, j.chamber} {
				if inner := expectCarbon(t, c, wrapper, "chat"); inner.Child(nsClient, "body").Text() != "marker" {
					t.Fatalf("%s: got a copy of %s, want only the marker's", c.JID, inner)
				}
			}
		})
	}
}

// XEP-0280 §9: the recipient of a private message gets it without
// <private/> (TestNotCopied checks that no copy is made).
func TestPrivateRemovedForRecipient(t *testing.T) {
	j := start(t)
	j.romeo.Send("<message to='juliet@localhost/phone' type='chat'><body>p</body><private xmlns='urn:xmpp:carbons:2'/></message>")
	got := j.phone.NextNamed("message")
	xmpptest.ExpectBody(t, got, j.romeo.JID, "p")
	if got.Child(nsCarbons, "private") != nil {
		t.Fatalf("the recipient got %s, with <private/>", got)
	}
}

// XEP-0280 §7: a resource at a negative priority gets no message to the
// bare JID (RFC 6121 §8.5.2.1.1), nor what waited offline (XEP-0160 §2).
// With carbons enabled it still gets a copy of one that went to offline
// storage because no resource took it: it did not receive it under the
// delivery rules.
func TestStoredOfflineCopiedToNegativePriority(t *testing.T) {
	s := xmpptest.Start(t)
	for _, u := range []string{"juliet", "romeo"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	bot := xmpptest.Login(t, s, "juliet", "secret", "bot")
	bot.Send("<presence><priority>-1</priority></presence>")
	bot.ExpectPresenceFrom("juliet@localhost/bot")
	toggle(t, bot, "enable")
	unready := xmpptest.Login(t, s, "juliet", "secret", "unready") // no presence yet
	toggle(t, unready, "enable")

	romeo.Send("<message to='juliet@localhost' type='chat'><body>anyone?</body></message>")
	expectForwarded(t, expectCarbon(t, bot, "received", "chat"), "romeo@localhost/orchard", "juliet@localhost", "anyone?")
	romeo.Ping() // no error: it was stored

	// The sender has its own message already: it gets no copy.
	bot.Send("<message to='juliet@localhost' type='chat'><body>note to self</body></message>")
	if ms := bot.MessagesBeforePing(); len(ms) > 0 {
		t.Fatalf("bot got %s, a copy of its own message", ms[0])
	}

	// The resource that is not available yet gets the message itself
	// from offline storage with its initial presence, and no copy.
	if ms := unready.MessagesBeforePing(); len(ms) > 0 {
		t.Fatalf("unready got %s before its initial presence", ms[0])
	}
	unready.Send("<presence/>")
	ms := unready.MessagesBeforePing()
	if len(ms) != 2 {
		t.Fatalf("unready got %d messages (%v), want only the two stored", len(ms), ms)
	}
	xmpptest.ExpectBody(t, ms[0], "romeo@localhost/orchard", "anyone?")
	xmpptest.ExpectBody(t, ms[1], "juliet@localhost/bot", "note to self")
	if ms := bot.MessagesBeforePing(); len(ms) > 0 {
		t.Fatalf("bot got %s, a second copy", ms[0])
	}
}
