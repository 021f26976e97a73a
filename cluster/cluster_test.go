package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/config"
	"xmppd/internal/natstest"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// inCluster has a node join the cluster of the NATS server url, with a
// fast heartbeat so that a silent node is found within two seconds.
func inCluster(url string) func(*config.Config) {
	return func(c *config.Config) {
		c.Cluster.NATS = url
		c.Cluster.HeartbeatMS = 100
		c.Cluster.TimeoutMS = 2000
	}
}

// twoNodes starts two nodes of one cluster on one database, with the
// accounts users.
func twoNodes(t *testing.T, users ...string) (a, b *xmpptest.Server) {
	t.Helper()
	_, a, b = twoNodesOn(t, users...)
	return a, b
}

// twoNodesOn is twoNodes, and returns the NATS server they share too.
func twoNodesOn(t *testing.T, users ...string) (ns *natstest.Server, a, b *xmpptest.Server) {
	t.Helper()
	ns = natstest.Start(t)
	a = xmpptest.Start(t, inCluster(ns.URL()))
	b = xmpptest.Node(t, a)
	for _, u := range users {
		a.AddUser(t, u, xmpptest.Domain, u+" pw")
	}
	return ns, a, b
}

// login logs user in on node s with resource and sends initial presence.
func login(t *testing.T, s *xmpptest.Server, user, resource string) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Login(t, s, user, user+" pw", resource)
	c.Online()
	return c
}

// pair starts two nodes with the accounts alice, bob and others, alice
// online on a and bob on b, each node seeing the other's session.
func pair(t *testing.T, others ...string) (a, b *xmpptest.Server, alice, bob *xmpptest.Client) {
	t.Helper()
	a, b = twoNodes(t, append([]string{"alice", "bob"}, others...)...)
	alice = login(t, a, "alice", "desk")
	bob = login(t, b, "bob", "phone")
	sees(t, a, "bob@localhost/phone", "")
	sees(t, b, "alice@localhost/desk", "")
	return a, b, alice, bob
}

// subscribe has from subscribe to to's presence, and to approve: from
// then gets to's presence.
func subscribe(from, to *xmpptest.Client) {
	from.T.Helper()
	fromBare, toBare := strings.Split(from.JID, "/")[0], strings.Split(to.JID, "/")[0]
	from.Send("<presence to='" + toBare + "' type='subscribe'/>")
	nextPresence(to, fromBare, "subscribe")
	to.Send("<presence to='" + fromBare + "' type='subscribed'/>")
	nextPresence(from, to.JID, "")
}

// sees waits until node s mirrors, or holds, the session full with the
// mark, if one is given: the nodes learn of each other's sessions
// asynchronously, as a client on one learns of a contact on another.
func sees(t *testing.T, s *xmpptest.Server, full, mark string) {
	t.Helper()
	j := jid.MustParse(full)
	deadline := time.Now().Add(xmpptest.ReadTimeout)
	for time.Now().Before(deadline) {
		for _, r := range s.Router().AvailableResources(j.Bare()) {
			if r.Equal(j) && (mark == "" || s.Router().HasMark(j, mark)) {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the node at %s never saw %s available (mark %q)", s.C2SAddr, full, mark)
}

// until reads c's elements until one satisfies match, skipping others
// (presence, roster pushes, room subjects).
func until(c *xmpptest.Client, what string, match func(*xmlstream.Element) bool) *xmlstream.Element {
	c.T.Helper()
	for range 30 {
		if el := c.Next(); match(el) {
			return el
		}
	}
	c.T.Fatalf("%s: no %s among the next 30 elements", c.JID, what)
	return nil
}

// nextMessage reads c's elements until a message with a body or a carbon.
func nextMessage(c *xmpptest.Client) *xmlstream.Element {
	c.T.Helper()
	return until(c, "message", func(el *xmlstream.Element) bool {
		return el.Name.Local == "message" && (el.Child("jabber:client", "body") != nil || el.Child("urn:xmpp:carbons:2", "sent") != nil)
	})
}

// nextIQ reads c's elements until an IQ.
func nextIQ(c *xmpptest.Client) *xmlstream.Element {
	c.T.Helper()
	return until(c, "iq", func(el *xmlstream.Element) bool { return el.Name.Local == "iq" })
}

// nextPresence reads c's elements until presence from from of type typ
// ("" for available).
func nextPresence(c *xmpptest.Client, from, typ string) *xmlstream.Element {
	c.T.Helper()
	return until(c, "presence from "+from, func(el *xmlstream.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == from && el.Attr("type") == typ
	})
}

func TestChatAcrossNodes(t *testing.T) {
	_, _, alice, bob := pair(t)

	alice.Send("<message to='bob@localhost' type='chat' id='m1'><body>hi bob</body></message>")
	xmpptest.ExpectBody(t, nextMessage(bob), "alice@localhost/desk", "hi bob")
	bob.Send("<message to='alice@localhost/desk' type='chat' id='m2'><body>hi alice</body></message>")
	xmpptest.ExpectBody(t, nextMessage(alice), "bob@localhost/phone", "hi alice")

	// An IQ to a full JID on the other node, and its answer.
	alice.Send("<iq to='bob@localhost/phone' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := nextIQ(bob); el.Attr("from") != "alice@localhost/desk" || el.Attr("id") != "p1" {
		t.Fatalf("bob got %s, want alice's ping", el)
	}
	bob.Send("<iq to='alice@localhost/desk' type='result' id='p1'/>")
	if el := nextIQ(alice); el.Attr("type") != "result" || el.Attr("from") != "bob@localhost/phone" {
		t.Fatalf("alice got %s, want bob's answer", el)
	}

	// An IQ to a resource that exists nowhere bounces as on one node.
	alice.Send("<iq to='bob@localhost/tablet' type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>")
	xmpptest.ExpectError(t, nextIQ(alice), "service-unavailable")
}

func TestBareJIDReachesTheHighestPriorityOnAnyNode(t *testing.T) {
	a, b := twoNodes(t, "alice", "bob")
	alice := login(t, a, "alice", "desk")
	low := xmpptest.Login(t, a, "bob", "bob pw", "low")
	low.Send("<presence><priority>1</priority></presence>")
	low.ExpectPresenceFrom("bob@localhost/low")
	high := xmpptest.Login(t, b, "bob", "bob pw", "high")
	high.Send("<presence><priority>5</priority></presence>")
	sees(t, a, "bob@localhost/high", "")

	alice.Send("<message to='bob@localhost' type='chat' id='m1'><body>to the best</body></message>")
	xmpptest.ExpectBody(t, nextMessage(high), "alice@localhost/desk", "to the best")
	// low got nothing: the next message it sees is the one sent to it.
	alice.Send("<message to='bob@localhost/low' type='chat' id='m2'><body>to low</body></message>")
	xmpptest.ExpectBody(t, nextMessage(low), "alice@localhost/desk", "to low")
}

func TestCarbonsAndRosterPushesAcrossNodes(t *testing.T) {
	a, b := twoNodes(t, "alice", "bob")
	desk := login(t, a, "alice", "desk")
	phone := login(t, b, "alice", "phone")
	phone.Send("<iq type='set' id='c1'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
	phone.Send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
	for _, id := range []string{"c1", "r1"} {
		if el := nextIQ(phone); el.Attr("id") != id || el.Attr("type") != "result" {
			t.Fatalf("phone got %s, want the result of %s", el, id)
		}
	}
	sees(t, a, "alice@localhost/phone", "carbons")
	sees(t, a, "alice@localhost/phone", "roster")

	// A message desk sends is copied to phone, on the other node.
	desk.Send("<message to='bob@localhost' type='chat' id='m1'><body>from the desk</body></message>")
	sent := nextMessage(phone).Child("urn:xmpp:carbons:2", "sent")
	if sent == nil {
		t.Fatal("phone got no <sent/> carbon")
	}
	fwd := sent.Child("urn:xmpp:forward:0", "forwarded").Child("jabber:client", "message")
	xmpptest.ExpectBody(t, fwd, "alice@localhost/desk", "from the desk")

	// A roster change on desk is pushed to phone.
	desk.Send("<iq type='set' id='r2'><query xmlns='jabber:iq:roster'><item jid='carol@localhost' name='Carol'/></query></iq>")
	push := nextIQ(phone)
	item := push.Child("jabber:iq:roster", "query").Child("jabber:iq:roster", "item")
	if push.Attr("type") != "set" || item == nil || item.Attr("jid") != "carol@localhost" {
		t.Fatalf("phone got %s, want the roster push for carol", push)
	}
}

func TestPresenceAcrossNodes(t *testing.T) {
	_, _, alice, bob := pair(t)

	// alice subscribes to bob's presence and bob approves, across nodes.
	subscribe(alice, bob)

	// bob's presence changes and departure reach alice on the other node.
	bob.Send("<presence><show>away</show></presence>")
	if el := nextPresence(alice, "bob@localhost/phone", ""); el.Child("jabber:client", "show").Text() != "away" {
		t.Fatalf("alice got %s, want bob away", el)
	}
	bob.Send("</stream:stream>")
	nextPresence(alice, "bob@localhost/phone", "unavailable")
}

func TestBlocklistChangeReachesTheOtherNode(t *testing.T) {
	_, b, alice, bob := pair(t, "carol")
	carol := login(t, b, "carol", "phone")

	// b reads alice's blocklist, empty, to deliver bob's message.
	bob.Send("<message to='alice@localhost' type='chat' id='m1'><body>before</body></message>")
	xmpptest.ExpectBody(t, nextMessage(alice), "bob@localhost/phone", "before")

	alice.Send("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='bob@localhost'/></block></iq>")
	if el := nextIQ(alice); el.Attr("id") != "b1" || el.Attr("type") != "result" {
		t.Fatalf("alice got %s, want the block's result", el)
	}
	// a told b to forget alice's list before it sent this, and b handles
	// a's messages in order.
	alice.Send("<message to='carol@localhost' type='chat' id='m2'><body>barrier</body></message>")
	xmpptest.ExpectBody(t, nextMessage(carol), "alice@localhost/desk", "barrier")

	bob.Send("<message to='alice@localhost' type='chat' id='m3'><body>after</body></message>")
	xmpptest.ExpectError(t, until(bob, "error", func(el *xmlstream.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "error"
	}), "service-unavailable")
}

func TestPersonalEventsAcrossNodes(t *testing.T) {
	a, _, alice, bob := pair(t)
	subscribe(bob, alice)

	// bob's client wants moods; only b sees its features, a sees the mark.
	const mood = "http://jabber.org/protocol/mood"
	presence, info := xmpptest.CapsPresence("http://jabber.org/protocol/caps", mood+"+notify")
	bob.Send(presence)
	xmpptest.AnswerDisco(t, bob, info)
	sees(t, a, "bob@localhost/phone", "notify "+mood)

	alice.Send("<iq type='set' id='pub'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='" + mood +
		"'><item id='1'><mood xmlns='" + mood + "'><happy/></mood></item></publish></pubsub></iq>")
	if el := nextIQ(alice); el.Attr("id") != "pub" || el.Attr("type") != "result" {
		t.Fatalf("alice got %s, want the publish's result", el)
	}
	ev := until(bob, "mood event", func(el *xmlstream.Element) bool {
		return el.Name.Local == "message" && el.Child("http://jabber.org/protocol/pubsub#event", "event") != nil
	})
	if ev.Attr("from") != "alice@localhost" || !strings.Contains(ev.String(), "<happy") {
		t.Fatalf("bob got %s, want alice's mood", ev)
	}
}

func TestRoomOnTheOldestNode(t *testing.T) {
	a, b, alice, bob := pair(t)

	const room = "room@conference.localhost"
	join := func(c *xmpptest.Client, nick string) {
		c.T.Helper()
		c.Send("<presence to='" + room + "/" + nick + "'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
		nextPresence(c, room+"/"+nick, "") // self-presence: joined
	}
	// alice creates a persistent room; it lives on a, the oldest node.
	join(alice, "alice")
	alice.Send("<iq type='set' id='cfg' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'>" +
		"<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_persistentroom'><value>1</value></field></x></query></iq>")
	if el := nextIQ(alice); el.Attr("id") != "cfg" || el.Attr("type") != "result" {
		t.Fatalf("alice got %s, want the configuration's result", el)
	}
	join(bob, "bob") // b forwards to a

	bob.Send("<message to='" + room + "' type='groupchat' id='g1'><body>hello room</body></message>")
	for _, c := range []*xmpptest.Client{alice, bob} {
		xmpptest.ExpectBody(t, nextMessage(c), room+"/bob", "hello room")
	}

	// bob leaving his node takes him out of the room on the other one.
	bob.Send("</stream:stream>")
	nextPresence(alice, room+"/bob", "unavailable")

	// When a leaves, b runs the room, as the database has it.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	bob = login(t, b, "bob", "tablet")
	join(bob, "bob")
	// The history, from the archive, and then the new message.
	xmpptest.ExpectBody(t, nextMessage(bob), room+"/bob", "hello room")
	bob.Send("<message to='" + room + "' type='groupchat' id='g2'><body>anyone left?</body></message>")
	xmpptest.ExpectBody(t, nextMessage(bob), room+"/bob", "anyone left?")
}

func TestSilentNodeIsGone(t *testing.T) {
	a, b, alice, bob := pair(t)
	subscribe(alice, bob)

	// b falls silent, as if it crashed: within the timeout a counts bob
	// as gone, tells alice, and keeps his messages for later.
	b.Cluster().Sever()
	nextPresence(alice, "bob@localhost/phone", "unavailable")
	alice.Send("<message to='bob@localhost' type='chat' id='m1'><body>while you were gone</body></message>")
	alice.Ping()
	var n int
	if err := a.DB.QueryRow(t.Context(), "SELECT count(*) FROM offline_messages").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d offline messages, want 1", n)
	}
}

// TestDeletedAccountLeavesRoomsOnTheOldestNode: an account removed
// in-band on b, while its rooms run on a, is no longer an admin there,
// also for a new account of the same name.
func TestDeletedAccountLeavesRoomsOnTheOldestNode(t *testing.T) {
	a, b, alice, bob := pair(t, "nurse")
	const room = "ward@conference.localhost"
	const admin = "http://jabber.org/protocol/muc#admin"
	alice.Send("<presence to='" + room + "/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	nextPresence(alice, room+"/alice", "")
	alice.Send("<iq type='set' id='cfg' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'>" +
		"<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_persistentroom'><value>1</value></field></x></query></iq>")
	if el := nextIQ(alice); el.Attr("id") != "cfg" || el.Attr("type") != "result" {
		t.Fatalf("alice got %s, want the configuration's result", el)
	}
	alice.Send("<iq type='set' id='aff' to='" + room + "'><query xmlns='" + admin + "'><item jid='nurse@localhost' affiliation='admin'/></query></iq>")
	if el := nextIQ(alice); el.Attr("id") != "aff" || el.Attr("type") != "result" {
		t.Fatalf("alice got %s, want the affiliation's result", el)
	}

	nurse := login(t, b, "nurse", "ward")
	nurse.Send("<iq type='set' id='rm'><query xmlns='jabber:iq:register'><remove/></query></iq>")
	if el := nextIQ(nurse); el.Attr("id") != "rm" || el.Attr("type") != "result" {
		t.Fatalf("the nurse got %s, want her account removed", el)
	}
	// b tells a after the removal: a message from b then follows it.
	bob.Send("<message to='alice@localhost/desk' type='chat'><body>after</body></message>")
	xmpptest.ExpectBody(t, nextMessage(alice), "bob@localhost/phone", "after")
	a.AddUser(t, "nurse", xmpptest.Domain, "someone else's")
	alice.Send("<iq type='get' id='admins' to='" + room + "'><query xmlns='" + admin + "'><item affiliation='admin'/></query></iq>")
	if el := nextIQ(alice); el.Attr("type") != "result" || strings.Contains(el.String(), "nurse@localhost") {
		t.Fatalf("the room's admins after the nurse's account was removed on the other node: %s", el)
	}
}
