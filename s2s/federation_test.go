package s2s_test

import (
	"context"
	"net"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// federated starts two servers, for a.test and b.test, that reach each
// other's s2s listeners by configured routes, with alice@a.test and
// bob@b.test online. change, if given, is applied to each server's
// configuration (with its host set).
func federated(t testing.TB, change ...func(*config.Config)) (a, b *xmpptest.Server, alice, bob *xmpptest.Client) {
	t.Helper()
	start := func(host string) *xmpptest.Server {
		return xmpptest.Start(t, append([]func(*config.Config){func(c *config.Config) {
			c.Hosts = []string{host}
			c.S2S.Listen = "127.0.0.1:0"
		}}, change...)...)
	}
	a, b = start("a.test"), start("b.test")
	a.S2S().SetRoute("b.test", b.S2SAddr.String())
	b.S2S().SetRoute("a.test", a.S2SAddr.String())
	alice, bob = online(t, a, b)
	return a, b, alice, bob
}

// online creates alice@a.test on a and bob@b.test on b, and returns them
// logged in and available.
func online(t testing.TB, a, b *xmpptest.Server) (alice, bob *xmpptest.Client) {
	t.Helper()
	a.AddUser(t, "alice", "a.test", "alice pw")
	b.AddUser(t, "bob", "b.test", "bob pw")
	alice = xmpptest.LoginAt(t, a, "a.test", "alice", "alice pw", "phone")
	alice.Online()
	bob = xmpptest.LoginAt(t, b, "b.test", "bob", "bob pw", "laptop")
	bob.Online()
	return alice, bob
}

// nextWhere reads c's elements until one satisfies match; anything else
// (roster pushes, presence) is skipped.
func nextWhere(c *xmpptest.Client, what string, match func(*xmlstream.Element) bool) *xmlstream.Element {
	c.T.Helper()
	for i := 0; i < 20; i++ {
		if el := c.Next(); match(el) {
			return el
		}
	}
	c.T.Fatalf("%s: no %s among the next 20 elements", c.JID, what)
	return nil
}

func TestMessagesAndIQsBothWays(t *testing.T) {
	a, b, alice, bob := federated(t)

	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>hello from a</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "hello from a")
	bob.Send("<message to='alice@a.test/phone' type='chat' id='m2'><body>hello from b</body></message>")
	xmpptest.ExpectBody(t, alice.NextNamed("message"), "bob@b.test/laptop", "hello from b")

	// A ping of the remote server, and one of a remote client, which
	// answers itself.
	alice.Send("<iq to='b.test' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := alice.NextNamed("iq"); el.Attr("type") != "result" || el.Attr("from") != "b.test" || el.Attr("id") != "p1" {
		t.Fatalf("ping of b.test: got %s", el)
	}
	alice.Send("<iq to='bob@b.test/laptop' type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>")
	ping := bob.NextNamed("iq")
	if ping.Attr("from") != "alice@a.test/phone" || ping.Attr("id") != "p2" {
		t.Fatalf("bob got %s, want alice's ping", ping)
	}
	bob.Send("<iq to='alice@a.test/phone' type='result' id='p2'/>")
	if el := alice.NextNamed("iq"); el.Attr("type") != "result" || el.Attr("from") != "bob@b.test/laptop" {
		t.Fatalf("alice got %s, want bob's answer", el)
	}

	// An unknown account on the other server bounces back across.
	alice.Send("<message to='nobody@b.test' type='chat' id='m3'><body>anyone?</body></message>")
	xmpptest.ExpectError(t, alice.NextNamed("message"), "service-unavailable")

	// Each server archived its own user's side of the conversation.
	for _, c := range []struct {
		s         *xmpptest.Server
		user, who string
	}{{a, "alice", "bob@b.test"}, {b, "bob", "alice@a.test"}} {
		var n int
		if err := c.s.DB.QueryRow(context.Background(),
			`SELECT count(*) FROM archive_messages WHERE username = $1 AND with_jid = $2`, c.user, c.who).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("%s's archive holds %d messages with %s, want 2", c.user, n, c.who)
		}
	}
}

func TestSubscriptionAcrossServers(t *testing.T) {
	_, _, alice, bob := federated(t)

	alice.Send("<presence to='bob@b.test' type='subscribe'/>")
	nextWhere(bob, "alice's subscription request", func(el *xmlstream.Element) bool {
		return el.Name.Local == "presence" && el.Attr("type") == "subscribe" && el.Attr("from") == "alice@a.test"
	})
	bob.Send("<presence to='alice@a.test' type='subscribed'/>")
	nextWhere(alice, "bob's approval", func(el *xmlstream.Element) bool {
		return el.Name.Local == "presence" && el.Attr("type") == "subscribed" && el.Attr("from") == "bob@b.test"
	})
	// Having approved, bob's server sends bob's presence to alice
	// (RFC 6121 §3.1.5).
	nextWhere(alice, "bob's presence", func(el *xmlstream.Element) bool {
		return el.Name.Local == "presence" && el.Attr("type") == "" && el.Attr("from") == "bob@b.test/laptop"
	})
	alice.Send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
	roster := nextWhere(alice, "the roster", func(el *xmlstream.Element) bool { return el.Attr("id") == "r1" })
	item := roster.Child("jabber:iq:roster", "query").Child("jabber:iq:roster", "item")
	if item == nil || item.Attr("jid") != "bob@b.test" || item.Attr("subscription") != "to" {
		t.Fatalf("alice's roster: %s, want bob@b.test with subscription 'to'", roster)
	}
}

func TestUnreachableServerBounces(t *testing.T) {
	a, _, alice, _ := federated(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	a.S2S().SetRoute("gone.test", closed)

	alice.Send("<message to='carol@gone.test' type='chat' id='m1'><body>there?</body></message>")
	if e := xmpptest.ExpectError(t, alice.NextNamed("message"), "remote-server-not-found"); e.Attr("type") != "cancel" {
		t.Errorf("error %s, want type cancel", e)
	}
	alice.Send("<iq to='gone.test' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
	xmpptest.ExpectError(t, alice.NextNamed("iq"), "remote-server-not-found")
}

// TestPushToRemoteAppServer has alice's push notifications (XEP-0357) go
// to an app server on the other server, as they do for real phones.
func TestPushToRemoteAppServer(t *testing.T) {
	_, b, alice, bob := federated(t)
	b.AddUser(t, "app", "b.test", "app pw")
	app := xmpptest.LoginAt(t, b, "b.test", "app", "app pw", "pusher")
	alice.Send("<iq type='set' id='e1'><enable xmlns='urn:xmpp:push:0' jid='app@b.test/pusher' node='n1'/></iq>")
	if el := alice.NextNamed("iq"); el.Attr("type") != "result" {
		t.Fatalf("enable: got %s", el)
	}
	alice.Send("<presence to='bob@b.test/laptop'/>")
	bob.ExpectPresenceFrom("alice@a.test/phone")
	alice.Send("</stream:stream>")
	if el := bob.ExpectPresenceFrom("alice@a.test/phone"); el.Attr("type") != "unavailable" {
		t.Fatalf("bob got %s, want alice's unavailable presence", el)
	}

	bob.Send("<message to='alice@a.test' type='chat' id='m1'><body>wake up</body></message>")
	iq := app.NextNamed("iq")
	if iq.Attr("from") != "alice@a.test" || iq.Child("http://jabber.org/protocol/pubsub", "pubsub") == nil {
		t.Fatalf("app server got %s, want alice's notification", iq)
	}
	app.Send("<iq type='result' to='alice@a.test' id='" + iq.Attr("id") + "'/>")
}

const (
	nsEvent = "http://jabber.org/protocol/pubsub#event"
	mood    = "http://jabber.org/protocol/mood"
	other   = "urn:example:other"
)

// subscribeAcross has from subscribe to toJID's presence, and to approve.
func subscribeAcross(from, to *xmpptest.Client, fromJID, toJID string) {
	from.Send("<presence to='" + toJID + "' type='subscribe'/>")
	nextWhere(to, "a subscription request", func(el *xmlstream.Element) bool {
		return el.Name.Local == "presence" && el.Attr("type") == "subscribe"
	})
	to.Send("<presence to='" + fromJID + "' type='subscribed'/>")
	nextWhere(from, "the approval", func(el *xmlstream.Element) bool {
		return el.Name.Local == "presence" && el.Attr("type") == "subscribed"
	})
}

// publishItem publishes the item id to c's node.
func publishItem(c *xmpptest.Client, node, id string) {
	c.Send("<iq type='set' id='" + id + "'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='" + node +
		"'><item id='" + id + "'><x xmlns='" + node + "'/></item></publish></pubsub></iq>")
	nextWhere(c, "the publish result", func(el *xmlstream.Element) bool { return el.Attr("id") == id && el.Attr("type") == "result" })
}

// nextMessage reads c's next message. On the way it answers every
// disco#info query, from its own server or from a contact's, with info
// (its caps' features), and skips everything else.
func nextMessage(c *xmpptest.Client, info string) *xmlstream.Element {
	c.T.Helper()
	for i := 0; i < 30; i++ {
		el := c.Next()
		switch {
		case el.Name.Local == "iq" && el.Attr("type") == "get":
			c.Send("<iq type='result' id='" + el.Attr("id") + "' to='" + el.Attr("from") + "'>" + info + "</iq>")
		case el.Name.Local == "message":
			return el
		}
	}
	c.T.Fatalf("%s: no message", c.JID)
	return nil
}

// expectItem reads c's next message, which must be alice's notification
// of the item id of node.
func expectItem(c *xmpptest.Client, info, node, id string) {
	c.T.Helper()
	m := nextMessage(c, info)
	items := m.Child(nsEvent, "event").Child(nsEvent, "items")
	if m.Attr("from") != "alice@a.test" || items.Attr("node") != node || items.Child(nsEvent, "item").Attr("id") != id {
		c.T.Fatalf("%s got %s, want alice's item %s of %s", c.JID, m, id, node)
	}
}

// expectChat reads c's next message, which must be the chat message id:
// no notification came before it.
func expectChat(c *xmpptest.Client, info, id string) {
	c.T.Helper()
	if m := nextMessage(c, info); m.Attr("id") != id {
		c.T.Fatalf("%s got %s, want the chat message %s and no notification before it", c.JID, m, id)
	}
}

// TestPEPAcrossServers: alice@a.test's personal events reach bob@b.test's
// resources that asked for them (XEP-0163 §4.3.1), learnt from the
// capabilities in the presence b.test sends a.test, and only those.
func TestPEPAcrossServers(t *testing.T) {
	_, b, alice, laptop := federated(t)
	subscribeAcross(alice, laptop, "alice@a.test", "bob@b.test")
	subscribeAcross(laptop, alice, "bob@b.test", "alice@a.test")
	publishItem(alice, mood, "m1")
	publishItem(alice, other, "o1")

	// Each resource gets the last item of the node it asked for.
	moodCaps, moodInfo := xmpptest.CapsPresence("http://jabber.org/protocol/caps", mood+"+notify")
	laptop.Send(moodCaps)
	expectItem(laptop, moodInfo, mood, "m1")
	tablet := xmpptest.LoginAt(t, b, "b.test", "bob", "bob pw", "tablet")
	otherCaps, otherInfo := xmpptest.CapsPresence("http://jabber.org/protocol/caps", other+"+notify")
	tablet.Send(otherCaps)
	expectItem(tablet, otherInfo, other, "o1")

	// A new mood goes to the laptop only: the tablet's next message is
	// the chat message alice sends after it, on the same stream.
	publishItem(alice, mood, "m2")
	expectItem(laptop, moodInfo, mood, "m2")
	alice.Send("<message to='bob@b.test/tablet' type='chat' id='c1'><body>after the mood</body></message>")
	expectChat(tablet, otherInfo, "c1")

	// Gone, the laptop is forgotten: back, it gets the last mood again;
	// then it stops asking for moods and gets none.
	laptop.Send("<presence type='unavailable'/>")
	laptop.Send(moodCaps)
	expectItem(laptop, moodInfo, mood, "m2")
	laptop.Send(otherCaps)
	expectItem(laptop, otherInfo, other, "o1")
	publishItem(alice, mood, "m3")
	alice.Send("<message to='bob@b.test/laptop' type='chat' id='c2'><body>after the mood</body></message>")
	expectChat(laptop, otherInfo, "c2")
}

// TestPEPAcrossServersAfterApproval: bob's capabilities reach a.test
// before he is alice's subscriber; when alice approves him, a.test learns
// them again and sends him her last mood.
func TestPEPAcrossServersAfterApproval(t *testing.T) {
	_, _, alice, bob := federated(t)
	subscribeAcross(alice, bob, "alice@a.test", "bob@b.test")
	publishItem(alice, mood, "m1")
	moodCaps, moodInfo := xmpptest.CapsPresence("http://jabber.org/protocol/caps", mood+"+notify")
	bob.Send(moodCaps)
	alice.ExpectPresenceFrom("bob@b.test/laptop")
	subscribeAcross(bob, alice, "bob@b.test", "alice@a.test")
	expectItem(bob, moodInfo, mood, "m1")
}
