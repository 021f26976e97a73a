package roster_test

import (
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const nsRoster = "jabber:iq:roster"

// start returns a server with the accounts juliet, romeo and nurse.
func start(t testing.TB) *xmpptest.Server {
	s := xmpptest.Start(t)
	for _, u := range []string{"juliet", "romeo", "nurse"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	return s
}

// online logs user/resource in, requests the roster (so the resource is
// interested in pushes) and sends initial presence; it returns the client
// and the roster.
func online(t testing.TB, s *xmpptest.Server, user, resource string) (*xmpptest.Client, *xmlstream.Element) {
	t.Helper()
	c := xmpptest.Login(t, s, user, "secret", resource)
	ros := getRoster(c, "")
	c.Online()
	c.Ping() // the initial presence's probes and requests are out
	return c, ros
}

// getRoster sends a roster get with the version ver ("" for none) and
// returns the result's query (nil when empty).
func getRoster(c *xmpptest.Client, ver string) *xmlstream.Element {
	c.T.Helper()
	v := ""
	if ver != "" {
		v = " ver='" + ver + "'"
	}
	c.Send("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'" + v + "/></iq>")
	res := c.NextNamed("iq")
	if res.Attr("type") != "result" || res.Attr("id") != "roster" {
		c.T.Fatalf("%s: roster get: got %s", c.JID, res)
	}
	return res.Child(nsRoster, "query")
}

// expectPush reads a roster push and checks its item: jid, subscription
// and ask ("" for none).
func expectPush(c *xmpptest.Client, contact, subscription, ask string) *xmlstream.Element {
	c.T.Helper()
	el := c.NextNamed("iq")
	q := el.Child(nsRoster, "query")
	if el.Attr("type") != "set" || q == nil || q.Attr("ver") == "" {
		c.T.Fatalf("%s: got %s, want a roster push", c.JID, el)
	}
	it := q.Child(nsRoster, "item")
	if it == nil || it.Attr("jid") != contact || it.Attr("subscription") != subscription || it.Attr("ask") != ask {
		c.T.Fatalf("%s: got push %s, want %s subscription=%s ask=%q", c.JID, el, contact, subscription, ask)
	}
	return it
}

// expectPresence reads a presence and checks its sender and type ("" for
// available).
func expectPresence(c *xmpptest.Client, from, typ string) *xmlstream.Element {
	c.T.Helper()
	el := c.NextNamed("presence")
	if el.Attr("from") != from || el.Attr("type") != typ {
		c.T.Fatalf("%s: got %s, want presence from %s of type %q", c.JID, el, from, typ)
	}
	return el
}

// expectNothing proves nothing else was queued for c: the ping's answer
// is the next element.
func expectNothing(c *xmpptest.Client) {
	c.T.Helper()
	c.Ping()
}

// subscribe makes a and b subscribed both ways; both are online and
// interested, and have consumed everything the handshake sent them.
func subscribe(t testing.TB, a, b *xmpptest.Client) {
	t.Helper()
	ab, bb := bare(a.JID), bare(b.JID)
	a.Send("<presence to='" + bb + "' type='subscribe'/>")
	expectPush(a, bb, "none", "subscribe")
	expectPresence(b, ab, "subscribe")
	b.Send("<presence to='" + ab + "' type='subscribed'/>")
	expectPush(b, ab, "from", "")
	expectPresence(a, bb, "subscribed")
	expectPush(a, bb, "to", "")
	expectPresence(a, b.JID, "")
	b.Send("<presence to='" + ab + "' type='subscribe'/>")
	expectPush(b, ab, "from", "subscribe")
	expectPresence(a, bb, "subscribe")
	a.Send("<presence to='" + bb + "' type='subscribed'/>")
	expectPush(a, bb, "both", "")
	expectPresence(b, ab, "subscribed")
	expectPush(b, ab, "both", "")
	expectPresence(b, a.JID, "")
	expectNothing(a)
	expectNothing(b)
}

func bare(full string) string {
	if i := strings.IndexByte(full, '/'); i >= 0 {
		return full[:i]
	}
	return full
}
