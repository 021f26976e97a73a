package cluster_test

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/natstest"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// TestCachesDroppedAfterNATSCameBack: node b's connection to NATS is cut
// while alice, on node a, blocks bob, so b never hears that her
// blocklist changed. Once b is back on NATS, it must not go on judging
// bob's messages by the list it had cached (XEP-0191 §3.3).
func TestCachesDroppedAfterNATSCameBack(t *testing.T) {
	a, b, p := cuttableNodes(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		a.AddUser(t, u, xmpptest.Domain, u+" pw")
	}
	alice := login(t, a, "alice", "desk")
	bob := login(t, b, "bob", "phone")
	carol := login(t, b, "carol", "phone")
	sees(t, b, "alice@localhost/desk", "")
	sees(t, a, "carol@localhost/phone", "")

	// b reads alice's blocklist, empty, to deliver bob's message.
	bob.Send("<message to='alice@localhost' type='chat' id='m1'><body>before</body></message>")
	xmpptest.ExpectBody(t, nextMessage(alice), "bob@localhost/phone", "before")

	p.cutNode(t)
	alice.Send("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='bob@localhost'/></block></iq>")
	if el := nextIQ(alice); el.Attr("id") != "b1" || el.Attr("type") != "result" {
		t.Fatalf("alice got %s, want the block's result", el)
	}
	p.mendNode(t)

	// A message a sends after b is back reaches b's sessions.
	alice.Send("<message to='carol@localhost/phone' type='chat' id='m2'><body>barrier</body></message>")
	xmpptest.ExpectBody(t, nextMessage(carol), "alice@localhost/desk", "barrier")

	bob.Send("<message to='alice@localhost' type='chat' id='m3'><body>after</body></message>")
	xmpptest.ExpectError(t, until(bob, "error", func(el *xmlstream.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "error"
	}), "service-unavailable")
}

// waitFor polls cond until it holds, failing the test after
// xmpptest.ReadTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(xmpptest.ReadTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cuttableNodes starts node a and node b of a cluster, b reaching NATS
// through a proxy that can cut it off; neither counts the other as gone
// during a cut.
func cuttableNodes(t *testing.T) (a, b *xmpptest.Server, p *proxy) {
	t.Helper()
	ns := natstest.Start(t)
	slow := func(c *config.Config) { c.Cluster.TimeoutMS = 60000 }
	a = xmpptest.Start(t, inCluster(ns.URL()), slow)
	p = startProxy(t, ns.URL())
	p.nats = ns
	b = xmpptest.Node(t, a, func(c *config.Config) { c.Cluster.NATS = p.url })
	return a, b, p
}

// cutNode cuts the node behind p from NATS, and waits until NATS saw it
// go; mendNode lets it back, and waits until it subscribed again.
func (p *proxy) cutNode(t *testing.T) {
	t.Helper()
	p.subs = p.nats.NumSubscriptions()
	p.cut()
	waitFor(t, "NATS to drop the node", func() bool { return p.nats.NumSubscriptions() < p.subs })
}

func (p *proxy) mendNode(t *testing.T) {
	t.Helper()
	p.mend()
	waitFor(t, "the node to subscribe again", func() bool { return p.nats.NumSubscriptions() >= p.subs })
}

// proxy forwards TCP connections to a NATS server, and can cut them and
// refuse new ones for a while, as a network that fails.
type proxy struct {
	url      string
	upstream string
	nats     *natstest.Server // for cutNode and mendNode
	subs     uint32           // NATS's subscriptions before the cut
	mu       sync.Mutex
	down     bool
	conns    map[net.Conn]bool
}

// startProxy listens on 127.0.0.1 and forwards to the NATS server at
// natsURL until the test ends.
func startProxy(t *testing.T, natsURL string) *proxy {
	t.Helper()
	u, err := url.Parse(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{url: "nats://" + l.Addr().String(), upstream: u.Host, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		l.Close()
		p.cut()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *proxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() {
		io.Copy(up, c)
		up.Close()
	}()
	io.Copy(c, up)
	c.Close()
}

// cut closes the connections and refuses new ones until mend.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// mend lets connections through again.
func (p *proxy) mend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
