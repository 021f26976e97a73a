package push_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/server"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	nsPush   = "urn:xmpp:push:0"
	nsPubSub = "http://jabber.org/protocol/pubsub"
	nsData   = "jabber:x:data"
	// appJID stands for the app server: a client that answers the
	// server's publish requests.
	appJID = "app@localhost/pusher"
)

// enableIQ registers node at the app server, with its secret as
// publish-options.
func enableIQ(id, node string) string {
	return "<iq type='set' id='" + id + "'><enable xmlns='" + nsPush + "' jid='" + appJID + "' node='" + node + "'>" +
		"<x xmlns='" + nsData + "' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>" +
		"<field var='secret'><value>s3cr3t-" + node + "</value></field></x></enable></iq>"
}

// start returns a server with alice, bob and the app server's client
// online; alice has enabled push at node n1.
func start(t *testing.T, change ...func(*config.Config)) (s *xmpptest.Server, alice, bob, app *xmpptest.Client) {
	t.Helper()
	return startLogged(t, nil, change...)
}

// startLogged is start with the server logging to log (nil: warnings to
// the test's log).
func startLogged(t *testing.T, log *slog.Logger, change ...func(*config.Config)) (s *xmpptest.Server, alice, bob, app *xmpptest.Client) {
	t.Helper()
	s = xmpptest.StartLogged(t, log, change...)
	for _, u := range []string{"alice", "bob", "app"} {
		s.AddUser(t, u, xmpptest.Domain, u+" pw")
	}
	app = xmpptest.Login(t, s, "app", "app pw", "pusher")
	bob = xmpptest.Login(t, s, "bob", "bob pw", "desk")
	bob.Online()
	alice = xmpptest.Login(t, s, "alice", "alice pw", "phone")
	alice.Send(enableIQ("e1", "n1"))
	if el := alice.NextNamed("iq"); el.Attr("type") != "result" || el.Attr("id") != "e1" {
		t.Fatalf("enable: got %s", el)
	}
	return s, alice, bob, app
}

// goOffline ends alice's stream and returns once her session is gone:
// bob, who had her directed presence, is told (RFC 6121 §4.6.3).
func goOffline(t *testing.T, alice, bob *xmpptest.Client) {
	t.Helper()
	alice.Send("<presence/><presence to='bob@localhost/desk'/>")
	bob.ExpectPresenceFrom(alice.JID)
	alice.Send("</stream:stream>")
	if el := bob.ExpectPresenceFrom(alice.JID); el.Attr("type") != "unavailable" {
		t.Fatalf("bob got %s, want alice's unavailable presence", el)
	}
}

// expectPush reads the app server's next publish request for node and
// answers it with reply (an IQ's type and children), returning its
// <pubsub/>.
func expectPush(t *testing.T, app *xmpptest.Client, node, reply string) *xmlstream.Element {
	t.Helper()
	iq := app.NextNamed("iq")
	ps := iq.Child(nsPubSub, "pubsub")
	if iq.Attr("type") != "set" || iq.Attr("from") != "alice@localhost" || ps == nil || ps.Child(nsPubSub, "publish").Attr("node") != node {
		t.Fatalf("app server got %s, want a publish to node %s from alice@localhost", iq, node)
	}
	app.Send("<iq to='alice@localhost' id='" + iq.Attr("id") + "' " + reply + "</iq>")
	return ps
}

// answerPushes reads a publish to each node of replies, in any order, and
// answers each with its reply.
func answerPushes(t *testing.T, app *xmpptest.Client, replies map[string]string) {
	t.Helper()
	for range replies {
		iq := app.NextNamed("iq")
		node := iq.Child(nsPubSub, "pubsub").Child(nsPubSub, "publish").Attr("node")
		reply, ok := replies[node]
		if !ok {
			t.Fatalf("app server got %s, want a publish to one of %v", iq, replies)
		}
		app.Send("<iq to='alice@localhost' id='" + iq.Attr("id") + "' " + reply + "</iq>")
	}
}

// summary returns the notification's fields by name.
func summary(t *testing.T, ps *xmlstream.Element) map[string]string {
	t.Helper()
	n := ps.Child(nsPubSub, "publish").Child(nsPubSub, "item").Child(nsPush, "notification")
	if n == nil {
		t.Fatalf("no notification in %s", ps)
	}
	fields := map[string]string{}
	for _, f := range n.Child(nsData, "x").ChildElements() {
		fields[f.Attr("var")] = f.Child(nsData, "value").Text()
	}
	return fields
}

func TestOfflineMessageNotifies(t *testing.T) {
	s, alice, bob, app := start(t)
	alice.Send("<iq type='get' id='d1' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	info := alice.NextNamed("iq").Child("http://jabber.org/protocol/disco#info", "query")
	found := false
	for _, f := range info.ChildElements() {
		found = found || f.Name.Local == "feature" && f.Attr("var") == nsPush
	}
	if !found {
		t.Errorf("the account's disco#info lacks %s: %s", nsPush, info)
	}
	goOffline(t, alice, bob)

	bob.Send("<message to='alice@localhost' type='chat' id='m1'><body>are you there?</body></message>")
	ps := expectPush(t, app, "n1", "type='result'>")
	fields := summary(t, ps)
	if fields["FORM_TYPE"] != "urn:xmpp:push:summary" || fields["message-count"] != "1" {
		t.Errorf("summary %v, want the push summary form with one message", fields)
	}
	if _, ok := fields["last-message-body"]; ok {
		t.Errorf("summary %v carries the body, which is off by default", fields)
	}
	if _, ok := fields["last-message-sender"]; ok {
		t.Errorf("summary %v carries the sender, which is off by default", fields)
	}
	var secret string
	for _, f := range ps.Child(nsPubSub, "publish-options").Child(nsData, "x").ChildElements() {
		if f.Attr("var") == "secret" {
			secret = f.Child(nsData, "value").Text()
		}
	}
	if secret != "s3cr3t-n1" {
		t.Errorf("publish-options %s, want the secret alice gave", ps.Child(nsPubSub, "publish-options"))
	}

	// Each message is notified.
	bob.Send("<message to='alice@localhost' type='chat' id='m2'><body>hello?</body></message>")
	expectPush(t, app, "n1", "type='result'>")
	var n int
	if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM push_registrations WHERE username = 'alice'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d registrations (%v), want 1", n, err)
	}
}

func TestSummaryWithSenderAndBody(t *testing.T) {
	_, alice, bob, app := start(t, func(c *config.Config) { c.Push.IncludeSender, c.Push.IncludeBody = true, true })
	goOffline(t, alice, bob)
	// A chat state alone wakes nobody: the first notification is the
	// message's.
	bob.Send("<message to='alice@localhost' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>")
	bob.Send("<message to='alice@localhost' type='chat' id='m1'><body>lunch?</body></message>")
	fields := summary(t, expectPush(t, app, "n1", "type='result'>"))
	if fields["last-message-sender"] != "bob@localhost/desk" || fields["last-message-body"] != "lunch?" {
		t.Errorf("summary %v, want bob's full JID and the body", fields)
	}
}

// waitingTablet logs alice in as "tablet" with resumable stream
// management, enables push at nodes for that session, and loses the
// connection: the session waits to be resumed. It returns the session's
// stream management, to resume it with.
func waitingTablet(t *testing.T, s *xmpptest.Server, nodes ...string) *xmpptest.SM {
	t.Helper()
	c := xmpptest.Login(t, s, "alice", "alice pw", "tablet")
	sm := c.EnableSM()
	for _, n := range nodes {
		sm.Send(enableIQ("e-"+n, n))
		if el := sm.Next(); el.Attr("id") != "e-"+n || el.Attr("type") != "result" {
			t.Fatalf("enable %s: got %s", n, el)
		}
	}
	c.Conn.Close()
	return sm
}

func TestWaitingSessionNotifies(t *testing.T) {
	s, _, bob, app := start(t)
	// A second client of alice's, with resumable stream management,
	// enables push for itself and loses its connection.
	waitingTablet(t, s, "n2")

	// Whether the message finds the session waiting or is written to
	// the lost connection and left unacknowledged, its session's
	// registration is notified, and only that one.
	bob.Send("<message to='alice@localhost/tablet' type='chat' id='m1'><body>wake up</body></message>")
	expectPush(t, app, "n2", "type='result'>")
}

// TestRefusedNotificationDisables: an app server that answers a publish
// with an error that will not change, of type cancel (it no longer knows
// the node) or modify (it finds the request bad), will answer the same to
// the next: the registration is disabled (XEP-0357 §7.1), and the next
// message goes to the other alone.
func TestRefusedNotificationDisables(t *testing.T) {
	for _, refusal := range []string{
		"<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
		"<error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
	} {
		s, alice, bob, app := start(t)
		alice.Send(enableIQ("e2", "n2"))
		alice.NextNamed("iq")
		goOffline(t, alice, bob)

		// Both registrations are notified at once: n1's app server
		// refuses, n2's accepts. The next message, notified after the
		// first, goes to n2 alone.
		bob.Send("<message to='alice@localhost' type='chat' id='m1'><body>hi</body></message>")
		answerPushes(t, app, map[string]string{"n1": "type='error'>" + refusal, "n2": "type='result'>"})
		bob.Send("<message to='alice@localhost' type='chat' id='m2'><body>again</body></message>")
		expectPush(t, app, "n2", "type='result'>")
		var nodes []string
		rows, err := s.DB.Query(context.Background(), `SELECT node FROM push_registrations WHERE username = 'alice'`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			rows.Scan(&n)
			nodes = append(nodes, n)
		}
		if len(nodes) != 1 || nodes[0] != "n2" {
			t.Errorf("after %s: registrations %v, want only n2", refusal, nodes)
		}
	}
}

func TestEnableAndDisableRequests(t *testing.T) {
	s, alice, _, _ := start(t)
	for _, tc := range []struct{ name, iq, condition string }{
		{"no node", "<iq type='set' id='x'><enable xmlns='" + nsPush + "' jid='" + appJID + "'/></iq>", "bad-request"},
		{"no jid", "<iq type='set' id='x'><enable xmlns='" + nsPush + "' node='n'/></iq>", "bad-request"},
		{"bad jid", "<iq type='set' id='x'><enable xmlns='" + nsPush + "' jid='@@' node='n'/></iq>", "jid-malformed"},
		{"another account", "<iq type='set' id='x' to='bob@localhost'><enable xmlns='" + nsPush + "' jid='" + appJID + "' node='n'/></iq>", "forbidden"},
		{"disable without jid", "<iq type='set' id='x'><disable xmlns='" + nsPush + "'/></iq>", "bad-request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice.Send(tc.iq)
			xmpptest.ExpectError(t, alice.NextNamed("iq"), tc.condition)
		})
	}
	alice.Send(enableIQ("e2", "n2"))
	alice.NextNamed("iq")
	count := func() (n int) {
		if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM push_registrations WHERE username = 'alice'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("%d registrations, want 2", n)
	}
	alice.Send("<iq type='set' id='d1'><disable xmlns='" + nsPush + "' jid='" + appJID + "' node='n1'/></iq>")
	alice.NextNamed("iq")
	if n := count(); n != 1 {
		t.Fatalf("%d registrations after disabling n1, want 1", n)
	}
	alice.Send("<iq type='set' id='d2'><disable xmlns='" + nsPush + "' jid='" + appJID + "'/></iq>")
	if el := alice.NextNamed("iq"); el.Attr("type") != "result" {
		t.Fatalf("disable: got %s", el)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d registrations after disabling the service, want 0", n)
	}
}

// TestWhatWakesADevice: besides a body, an incoming call (XEP-0353), a
// mention in a room (XEP-0452, as muc sends it), and an OMEMO 2 message
// without a fallback body are notified; a chat state is not.
func TestWhatWakesADevice(t *testing.T) {
	_, alice, bob, app := start(t)
	goOffline(t, alice, bob)
	for _, payload := range []string{
		"<propose xmlns='urn:xmpp:jingle-message:0' id='call1'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/></propose><store xmlns='urn:xmpp:hints'/>",
		"<mentions xmlns='urn:xmpp:mmn:0'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='groupchat' from='room@conference.localhost/bob'><body>alice: look</body></message></forwarded></mentions>",
		"<encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'/><payload>AAAA</payload></encrypted>",
	} {
		bob.Send("<message to='alice@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
		bob.Send("<message to='alice@localhost' type='chat' id='p'>" + payload + "</message>")
		expectPush(t, app, "n1", "type='result'>")
	}
}

// TestPushKeptOnFederationTrouble: a registration at an app server that
// cannot be reached for now (a remote-server-not-found of this server's
// own) is kept; only the app server's own refusal removes one.
func TestPushKeptOnFederationTrouble(t *testing.T) {
	s, alice, bob, app := start(t, func(c *config.Config) {
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.Routes = map[string]string{"push.example.net": "127.0.0.1:1"} // refused
	})
	alice.Send("<iq type='set' id='e2'><enable xmlns='" + nsPush + "' jid='push.example.net' node='far'/></iq>")
	alice.NextNamed("iq")
	goOffline(t, alice, bob)
	bob.Send("<message to='alice@localhost' type='chat' id='m1'><body>one</body></message>")
	expectPush(t, app, "n1", "type='result'>")
	bob.Send("<message to='alice@localhost' type='chat' id='m2'><body>two</body></message>")
	expectPush(t, app, "n1", "type='result'>") // after the first message's notifications
	var n int
	if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM push_registrations WHERE username = 'alice'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d registrations (%v), want both", n, err)
	}
}

// TestSlowAppServer: the app server does not answer n1's publish, and
// n2's is sent at once all the same.
func TestSlowAppServer(t *testing.T) {
	_, alice, bob, app := start(t)
	alice.Send(enableIQ("e2", "n2"))
	alice.NextNamed("iq")
	goOffline(t, alice, bob)
	bob.Send("<message to='alice@localhost' type='chat' id='m1'><body>hi</body></message>")
	nodes := map[string]bool{}
	for range 2 {
		iq := app.NextNamed("iq") // n1's is never answered
		nodes[iq.Child(nsPubSub, "pubsub").Child(nsPubSub, "publish").Attr("node")] = true
	}
	if !nodes["n1"] || !nodes["n2"] {
		t.Fatalf("publishes to %v, want n1 and n2", nodes)
	}
}

// TestDeviceWithoutSession: while alice's desk is online, her phone,
// which enabled push, is notified of the messages the desk gets once the
// phone has no session, and not while it has one.
func TestDeviceWithoutSession(t *testing.T) {
	s, phone, bob, app := start(t, func(c *config.Config) { c.Push.IncludeBody = true })
	desk := xmpptest.Login(t, s, "alice", "alice pw", "desk")
	desk.Online()
	bob.Send("<message to='alice@localhost' type='chat'><body>first</body></message>")
	xmpptest.ExpectBody(t, desk.NextNamed("message"), "bob@localhost/desk", "first")

	goOffline(t, phone, bob)
	desk.ExpectPresenceFrom(phone.JID) // available, then gone
	desk.ExpectPresenceFrom(phone.JID)
	bob.Send("<message to='alice@localhost' type='chat'><body>second</body></message>")
	xmpptest.ExpectBody(t, desk.NextNamed("message"), "bob@localhost/desk", "second")
	if body := summary(t, expectPush(t, app, "n1", "type='result'>"))["last-message-body"]; body != "second" {
		t.Errorf("notified of %q; want only the message that came after the phone left", body)
	}
	// The desk's own message to its account wakes nobody.
	desk.Send("<message to='alice@localhost' type='chat'><body>note to self</body></message>")
	bob.Send("<message to='alice@localhost' type='chat'><body>third</body></message>")
	if body := summary(t, expectPush(t, app, "n1", "type='result'>"))["last-message-body"]; body != "third" {
		t.Errorf("notified of %q; want the message from bob", body)
	}
}

// TestRefusedWhileWaiting: the app server refuses one of the two nodes a
// waiting session enabled; later messages go to the other alone.
func TestRefusedWhileWaiting(t *testing.T) {
	s, _, bob, app := start(t)
	waitingTablet(t, s, "n2", "n3")

	bob.Send("<message to='alice@localhost/tablet' type='chat' id='m1'><body>wake up</body></message>")
	answerPushes(t, app, map[string]string{
		"n2": "type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>",
		"n3": "type='result'>",
	})
	for _, id := range []string{"m2", "m3"} {
		bob.Send("<message to='alice@localhost/tablet' type='chat' id='" + id + "'><body>still there?</body></message>")
		expectPush(t, app, "n3", "type='result'>")
	}
}

// readUntil reads c's elements until ok says one is the awaited one.
func readUntil(c *xmpptest.Client, ok func(*xmlstream.Element) bool) *xmlstream.Element {
	c.T.Helper()
	for {
		if el := c.Next(); ok(el) {
			return el
		}
	}
}

func isMessage(el *xmlstream.Element) bool { return el.Name.Local == "message" }

// pushedBodies answers the app server's publishes to node until one
// carries the body last, and counts the bodies of those before it.
func pushedBodies(t *testing.T, app *xmpptest.Client, node, last string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for {
		body := summary(t, expectPush(t, app, node, "type='result'>"))["last-message-body"]
		if body == last {
			return got
		}
		got[body]++
	}
}

// TestPrivateMessageToNickOfTwoSessions: a room's private message to a
// nick alice holds from two sessions reaches both, and wakes her phone,
// which has no session, once.
func TestPrivateMessageToNickOfTwoSessions(t *testing.T) {
	s, phone, bob, app := start(t, func(c *config.Config) { c.Push.IncludeBody = true })
	goOffline(t, phone, bob)
	const room = "r1@conference.localhost"
	isSubject := func(el *xmlstream.Element) bool { return isMessage(el) && el.Child("jabber:client", "subject") != nil }
	bob.Send("<presence to='" + room + "/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	readUntil(bob, isSubject)
	bob.Send("<iq type='set' id='cfg' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
	readUntil(bob, func(el *xmlstream.Element) bool { return el.Name.Local == "iq" && el.Attr("id") == "cfg" })
	var sessions []*xmpptest.Client
	for _, res := range []string{"desk", "laptop"} {
		c := xmpptest.Login(t, s, "alice", "alice pw", res)
		c.Send("<presence to='" + room + "/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
		readUntil(c, isSubject)
		sessions = append(sessions, c)
	}
	bob.Send("<message to='" + room + "/alice' type='chat'><body>pm</body></message>")
	var ids []string
	for _, c := range sessions {
		el := readUntil(c, isMessage)
		xmpptest.ExpectBody(t, el, room+"/bob", "pm")
		if sid := el.Child("urn:xmpp:sid:0", "stanza-id"); sid != nil {
			ids = append(ids, sid.Attr("id"))
		}
	}
	if len(ids) != 2 || ids[0] != ids[1] {
		t.Errorf("stanza ids %q; want alice's archive to keep the message once, both copies with its id", ids)
	}
	if body := summary(t, expectPush(t, app, "n1", "type='result'>"))["last-message-body"]; body != "pm" {
		t.Fatalf("push of %q, want pm", body)
	}
	bob.Send("<message to='alice@localhost' type='chat'><body>marker</body></message>")
	if got := pushedBodies(t, app, "n1", "marker"); got["pm"] != 0 {
		t.Errorf("the phone was woken %d more time(s) for the one private message", got["pm"])
	}
}

// TestExpiredSessionNotifiedOnce: a waiting session's registration is
// notified of a message; when the session is not resumed, the message
// goes to the account's other session, and nobody is notified again.
func TestExpiredSessionNotifiedOnce(t *testing.T) {
	s, phone, bob, app := start(t, func(c *config.Config) {
		c.Push.IncludeBody = true
		c.C2S.ResumeSeconds = 1
	})
	phone.Online()
	waitingTablet(t, s, "n2")
	bob.Send("<message to='alice@localhost/tablet' type='chat' id='m1'><body>wake up</body></message>")
	if b := summary(t, expectPush(t, app, "n2", "type='result'>"))["last-message-body"]; b != "wake up" {
		t.Fatalf("push of %q, want wake up", b)
	}
	readUntil(phone, isMessage) // the session expired; the phone gets the message
	bob.Send("<message to='alice@localhost' type='chat'><body>marker</body></message>")
	if got := pushedBodies(t, app, "n2", "marker"); got["wake up"] != 0 {
		t.Errorf("the tablet was woken %d more time(s) for the message it was notified of", got["wake up"])
	}
}

// TestUnarchivedMessageWakesNobody: a device without a session is woken
// to read the archive; a message no archive kept wakes it for nothing.
func TestUnarchivedMessageWakesNobody(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(*config.Config)
		hint   string
	}{
		"no-store":     {func(c *config.Config) { c.Push.IncludeBody = true }, "<no-store xmlns='urn:xmpp:hints'/>"},
		"archives off": {func(c *config.Config) { c.Push.IncludeBody, c.Archive.Enabled = true, false }, ""},
	} {
		t.Run(name, func(t *testing.T) {
			s, phone, bob, app := start(t, tc.change)
			desk := xmpptest.Login(t, s, "alice", "alice pw", "desk")
			desk.Online()
			goOffline(t, phone, bob)
			bob.Send("<message to='alice@localhost' type='chat'><body>unarchived</body>" + tc.hint + "</message>")
			readUntil(desk, isMessage)
			goOffline(t, desk, bob) // the marker goes offline, and wakes the phone
			bob.Send("<message to='alice@localhost' type='chat'><body>marker</body></message>")
			if got := pushedBodies(t, app, "n1", "marker"); got["unarchived"] != 0 {
				t.Errorf("the phone was woken for a message it cannot read from any archive")
			}
		})
	}
}

// TestNotificationsFold: while the phone's app server has not answered a
// notification, the messages alice's desk gets are folded into one, of
// the last of them, instead of one waiting notification each.
func TestNotificationsFold(t *testing.T) {
	s, phone, bob, app := start(t, func(c *config.Config) { c.Push.IncludeBody = true })
	desk := xmpptest.Login(t, s, "alice", "alice pw", "desk")
	desk.Online()
	goOffline(t, phone, bob)
	bob.Send("<message to='alice@localhost' type='chat'><body>first</body></message>")
	readUntil(desk, isMessage)
	pending := app.NextNamed("iq") // not answered yet
	for i := range 50 {
		bob.Send("<message to='alice@localhost' type='chat'><body>m" + strconv.Itoa(i) + "</body></message>")
		readUntil(desk, isMessage)
	}
	bob.Ping() // bob's messages are routed one after the other: all of them were
	app.Send("<iq to='alice@localhost' id='" + pending.Attr("id") + "' type='result'/>")
	if body := summary(t, expectPush(t, app, "n1", "type='result'>"))["last-message-body"]; body != "m49" {
		t.Errorf("the next notification is of %q; want one of the last message, m49", body)
	}
}

// TestDeletedAccountForgotten: the registrations of a deleted account do
// not outlive it in memory: a new account of its name wakes the device it
// registered (here written to the database, as another node of a cluster
// would), not the old owner's.
func TestDeletedAccountForgotten(t *testing.T) {
	s, alice, bob, app := start(t, func(c *config.Config) { c.Push.IncludeBody = true })
	goOffline(t, alice, bob)
	bob.Send("<message to='alice@localhost' type='chat'><body>to the old alice</body></message>")
	expectPush(t, app, "n1", "type='result'>") // alice's registrations are remembered

	ctx := context.Background()
	if err := server.DeleteAccount(ctx, s.Config, slog.New(slog.DiscardHandler), &server.Database{Pool: s.DB}, jid.MustParse("alice@localhost")); err != nil {
		t.Fatal(err)
	}
	s.AddUser(t, "alice", xmpptest.Domain, "new pw")
	if _, err := s.DB.Exec(ctx, `INSERT INTO push_registrations (domain, username, service, node) VALUES ('localhost', 'alice', $1, 'n9')`, appJID); err != nil {
		t.Fatal(err)
	}
	bob.Send("<message to='alice@localhost' type='chat'><body>to the new alice</body></message>")
	if body := summary(t, expectPush(t, app, "n9", "type='result'>"))["last-message-body"]; body != "to the new alice" {
		t.Errorf("push of %q, want the new alice's message", body)
	}
}

// TestRegistrationsAfterRestart: a restarted server knows which accounts
// have registrations (Load) and wakes their devices without a session.
func TestRegistrationsAfterRestart(t *testing.T) {
	s, _, _, _ := start(t, func(c *config.Config) { c.Push.IncludeBody = true })
	s = xmpptest.Restart(t, s)
	app := xmpptest.Login(t, s, "app", "app pw", "pusher")
	bob := xmpptest.Login(t, s, "bob", "bob pw", "desk")
	bob.Online()
	desk := xmpptest.Login(t, s, "alice", "alice pw", "desk")
	desk.Online()
	bob.Send("<message to='alice@localhost' type='chat'><body>after the restart</body></message>")
	readUntil(desk, isMessage)
	if body := summary(t, expectPush(t, app, "n1", "type='result'>"))["last-message-body"]; body != "after the restart" {
		t.Errorf("push of %q, want the message", body)
	}
}

// TestNothingToShowWakesNobody: a message stored for alice while she is
// offline with an empty or blank body wakes no device: the first
// notification the app server gets is the marker's.
func TestNothingToShowWakesNobody(t *testing.T) {
	_, alice, bob, app := start(t, func(c *config.Config) { c.Push.IncludeBody = true })
	goOffline(t, alice, bob)
	bob.Send("<message to='alice@localhost' type='chat'><body/></message>")
	bob.Send("<message to='alice@localhost' type='chat'><body>  </body><thread>t1</thread></message>")
	bob.Send("<message to='alice@localhost' type='chat'><body>marker</body></message>")
	if got := pushedBodies(t, app, "n1", "marker"); len(got) != 0 {
		t.Errorf("pushes before the marker %v; want none for bodies with nothing to show", got)
	}
}

// TestOfflineNotificationsFold: while the app server has not answered
// the notification of a message stored for alice, who is offline, the
// many that follow it are folded into one, of the last of them, counting
// all the messages stored, instead of one notification each.
func TestOfflineNotificationsFold(t *testing.T) {
	_, alice, bob, app := start(t, func(c *config.Config) { c.Push.IncludeBody = true })
	goOffline(t, alice, bob)
	burstFolds(t, bob, app, "alice@localhost", "n1")
}

// burstFolds has bob send a burst of 51 messages to to, whose
// notifications go to app's node, while the first notification waits
// for app's answer: the 50 that follow it must fold into one, of the
// last, counting all 51, and nothing more is sent before the
// notification of a marker after them.
func burstFolds(t *testing.T, bob, app *xmpptest.Client, to, node string) {
	t.Helper()
	bob.Send("<message to='" + to + "' type='chat'><body>first</body></message>")
	pending := app.NextNamed("iq") // not answered yet
	for i := range 50 {
		bob.Send("<message to='" + to + "' type='chat'><body>m" + strconv.Itoa(i) + "</body></message>")
	}
	bob.Ping() // bob's messages are routed one after the other: all of them are counted
	app.Send("<iq to='alice@localhost' id='" + pending.Attr("id") + "' type='result'/>")
	fields := summary(t, expectPush(t, app, node, "type='result'>"))
	if fields["last-message-body"] != "m49" || fields["message-count"] != "51" {
		t.Errorf("the next notification is of %q counting %s; want one of the last message, m49, counting 51", fields["last-message-body"], fields["message-count"])
	}
	bob.Send("<message to='" + to + "' type='chat'><body>marker</body></message>")
	if got := pushedBodies(t, app, node, "marker"); len(got) != 0 {
		t.Errorf("notifications %v before the marker's; want the burst folded into one", got)
	}
}

// TestOfflineMessageCount: the summary's message-count is the number of
// messages stored for alice since she was last online, and starts again
// once she was.
func TestOfflineMessageCount(t *testing.T) {
	s, alice, bob, app := start(t)
	goOffline(t, alice, bob)
	for i, want := range []string{"1", "2", "3"} {
		bob.Send("<message to='alice@localhost' type='chat'><body>m" + strconv.Itoa(i) + "</body></message>")
		if got := summary(t, expectPush(t, app, "n1", "type='result'>"))["message-count"]; got != want {
			t.Errorf("message-count %s after %d messages; want %s", got, i+1, want)
		}
	}
	// Alice comes online, which delivers the three, and leaves again.
	alice = xmpptest.Login(t, s, "alice", "alice pw", "phone")
	goOffline(t, alice, bob)
	bob.Send("<message to='alice@localhost' type='chat'><body>again</body></message>")
	if got := summary(t, expectPush(t, app, "n1", "type='result'>"))["message-count"]; got != "1" {
		t.Errorf("message-count %s for the first message since alice was online; want 1", got)
	}
}
