package cluster_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"xmppd/cluster"
	"xmppd/internal/natstest"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// TestLeavingNodeHandlesWhatArrived stops node a while two messages for
// its client carol wait in its inbox, its loop being busy. a stops
// listening, handles them (carol is gone: they are stored offline), says
// that they are safe, and only then says goodbye: each is stored once.
// That is alice's, sent without stream management, which b does not hold,
// and bob's, which b holds until a says it is safe and would route again
// after a's goodbye.
func TestLeavingNodeHandlesWhatArrived(t *testing.T) {
	ns, a, b := twoNodesOn(t, "alice", "bob", "carol", "dave")
	login(t, a, "carol", "desk")
	alice := login(t, b, "alice", "desk")
	bob := xmpptest.Login(t, b, "bob", "bob pw", "phone")
	bobSM := bob.EnableSM()
	bob.Online()
	sees(t, b, "carol@localhost/desk", "")

	watch, stopWatching := a.Cluster().Watch(t, ns.URL())
	release := busy(t, a, ns)
	alice.Send("<message to='carol@localhost/desk' type='chat' id='m1'><body>one</body></message>")
	bobSM.Send("<message to='carol@localhost/desk' type='chat' id='m2'><body>two</body></message>")
	for range 2 {
		next(t, watch, func(m *nats.Msg) bool {
			return m.Header.Get("op") == cluster.OpDeliver && m.Header.Get("to") == "carol@localhost/desk"
		})
	}
	stopWatching()

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- a.Shutdown(ctx)
	}()
	// a's loop goes on once a no longer listens: what it handles then is
	// what had arrived.
	deadline := time.Now().Add(xmpptest.ReadTimeout)
	for ns.GlobalAccount().SubscriptionInterest(a.Cluster().Subject()) {
		if time.Now().After(deadline) {
			t.Fatal("node a never stopped listening")
		}
		time.Sleep(5 * time.Millisecond)
	}
	release()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	// bob's message is safe once a said so, or b stored it after a left.
	if h := bobSM.Handled(); h != 2 {
		until(bob, "<a h='2'/>", func(el *xmlstream.Element) bool { return el.Name.Local == "a" && el.Attr("h") == "2" })
	}

	rows, err := b.DB.Query(t.Context(), "SELECT convert_from(stanza, 'UTF8') FROM offline_messages WHERE username = 'carol' ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for rows.Next() {
		var st string
		if err := rows.Scan(&st); err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{"one", "two"} {
			if strings.Contains(st, "<body>"+body+"</body>") {
				bodies = append(bodies, body)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(bodies)
	if !slices.Equal(bodies, []string{"one", "two"}) {
		t.Fatalf("carol's offline messages: %q, want each of one and two once", bodies)
	}
}

// busy keeps node s's loop busy until release: it has s store a message
// for dave, from a connection to the NATS server ns, while the row of
// dave's account, which the stored message refers to, is locked.
func busy(t *testing.T, s *xmpptest.Server, ns *natstest.Server) (release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { tx.Rollback(ctx) }) }
	t.Cleanup(release)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE domain = $1 AND username = 'dave' FOR UPDATE`, xmpptest.Domain); err != nil {
		t.Fatal(err)
	}
	s.Cluster().DeliverFrom(t, ns.URL(), "dave@localhost/gone",
		"<message xmlns='jabber:client' type='chat' from='dave@localhost/elsewhere' to='dave@localhost/gone'><body>keeps the node busy</body></message>")
	return release
}

// next returns the first message of ch that satisfies match.
func next(t *testing.T, ch <-chan *nats.Msg, match func(*nats.Msg) bool) *nats.Msg {
	t.Helper()
	deadline := time.After(xmpptest.ReadTimeout)
	for {
		select {
		case m := <-ch:
			if match(m) {
				return m
			}
		case <-deadline:
			t.Fatal("no such message from NATS")
			return nil
		}
	}
}

// TestLeavingNodeKeepsToItsTime: a node whose loop waits on the database
// when it stops handles what had arrived only for as long as its
// shutdown's context allows, then leaves.
func TestLeavingNodeKeepsToItsTime(t *testing.T) {
	ns := natstest.Start(t)
	a := xmpptest.Start(t, inCluster(ns.URL()))
	xmpptest.Node(t, a)
	a.AddUser(t, "dave", xmpptest.Domain, "dave pw")
	busy(t, a, ns)

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // its time is up at once
	stopped := make(chan struct{})
	go func() {
		a.Shutdown(ctx)
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(xmpptest.ReadTimeout):
		t.Fatal("node a still stops, waiting on the database, after its shutdown's context ended")
	}
}
