package cluster_test

import (
	"cmp"
	"context"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"xmppd/cluster"
	"xmppd/internal/natstest"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// TestReplacedOnAnotherNode: alice's client comes back on node b, with
// the resource of a session that node a still holds (it has not noticed
// that the old connection died). bob, her contact, must see her new
// session online: a ends the old session with conflict, and its
// unavailable presence reaches bob, before b binds the new one and
// announces it. a is busy meanwhile, its loop waiting for the database,
// so that it acts on what b tells it late, as a loaded node may: after
// bob heard of the new session, unless b waits for a's answer.
func TestReplacedOnAnotherNode(t *testing.T) {
	ns, a, b := twoNodesOn(t, "alice", "bob", "carol", "dave")
	const desk = "alice@localhost/desk"
	old := login(t, a, "alice", "desk")
	carol := login(t, a, "carol", "desk")
	bob := login(t, b, "bob", "phone")
	subscribe(bob, old)
	sees(t, b, "carol@localhost/desk", "")
	sees(t, a, "bob@localhost/phone", "")

	watch, _ := a.Cluster().Watch(t, ns.URL())
	release := busy(t, a, ns)
	again := xmpptest.Dial(t, b.C2SAddr)
	again.Authenticated("alice", "alice pw")
	again.Send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>desk</resource></bind></iq>")
	end := next(t, watch, func(m *nats.Msg) bool {
		return m.Header.Get("to") == desk && m.Header.Get("op") != cluster.OpDeliver
	})

	var saw []string // the presence types from desk bob gets, in order
	record := func(el *xmlstream.Element) {
		if el.Name.Local == "presence" && el.Attr("from") == desk {
			saw = append(saw, cmp.Or(el.Attr("type"), "available"))
		}
	}
	online := func() {
		if el := again.NextNamed("iq"); el.Attr("id") != "bind1" || el.Attr("type") != "result" {
			t.Fatalf("alice's new session got %s, want bound", el)
		}
		again.JID = desk
		again.Online()
		until(bob, "alice's new presence", func(el *xmlstream.Element) bool {
			record(el)
			return el.Name.Local == "presence" && el.Attr("from") == desk && el.Attr("type") == ""
		})
	}
	if end.Reply == "" {
		// b bound without waiting for a, which acts late.
		online()
		release()
	} else {
		release()
		online()
	}

	// What a sends bob comes before carol's answer to bob, which a routes
	// after all b told it before bob's question.
	bob.Send("<message to='carol@localhost/desk' type='chat' id='q'><body>still there?</body></message>")
	xmpptest.ExpectBody(t, nextMessage(carol), "bob@localhost/phone", "still there?")
	carol.Send("<message to='bob@localhost/phone' type='chat' id='r'><body>yes</body></message>")
	until(bob, "carol's answer", func(el *xmlstream.Element) bool {
		record(el)
		return el.Name.Local == "message" && el.Attr("from") == "carol@localhost/desk"
	})
	if saw[len(saw)-1] != "available" {
		t.Fatalf("bob got %v from %s: her new session looks offline", saw, desk)
	}
}

// TestBoundOnBothNodesAtOnce: alice's clients bind the same resource on
// node a and then on node b, each before the other node has heard of
// the other session (both nodes' loops wait for the database). As on one
// node, the newer session replaces the older (RFC 6120 §7.7.2.2): the
// older ends with conflict, and the newer stays, on both nodes' tables.
func TestBoundOnBothNodesAtOnce(t *testing.T) {
	ns, a, b := twoNodesOn(t, "alice", "carol", "dave", "erin")
	carol := login(t, a, "carol", "desk")
	releaseA := busyWith(t, a, ns, "dave")
	releaseB := busyWith(t, b, ns, "erin")
	older := xmpptest.Login(t, a, "alice", "alice pw", "desk")
	newer := xmpptest.Login(t, b, "alice", "alice pw", "desk")
	releaseA()
	releaseB()

	older.ExpectStreamError("conflict")
	newer.Online()
	sees(t, a, "alice@localhost/desk", "")
	// b handles what a sent it in order: the older session's state
	// first, then carol's message.
	carol.Send("<message to='alice@localhost/desk' type='chat' id='m1'><body>which one?</body></message>")
	xmpptest.ExpectBody(t, nextMessage(newer), "carol@localhost/desk", "which one?")
	newer.Ping()
}

// busyWith is busy, with the row of user's account locked: two nodes can
// be busy at once.
func busyWith(t *testing.T, s *xmpptest.Server, ns *natstest.Server, user string) (release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { tx.Rollback(ctx) }) }
	t.Cleanup(release)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE domain = $1 AND username = $2 FOR UPDATE`, xmpptest.Domain, user); err != nil {
		t.Fatal(err)
	}
	s.Cluster().DeliverFrom(t, ns.URL(), user+"@localhost/gone",
		"<message xmlns='jabber:client' type='chat' from='"+user+"@localhost/elsewhere' to='"+user+"@localhost/gone'><body>keeps the node busy</body></message>")
	return release
}
