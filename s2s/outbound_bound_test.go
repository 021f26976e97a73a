package s2s_test

import (
	"net"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestOutgoingStreamsBounded: a.test opens at most
// limits.server_outgoing_streams streams to other servers at once; a
// stanza for yet another server is bounced with resource-constraint
// (RFC 6120 §8.3.3.18), while the domains that have a stream keep it.
// Once a stream ends, a new domain gets one again.
func TestOutgoingStreamsBounded(t *testing.T) {
	silent := map[string]net.Listener{"x1.test": listen(t), "x2.test": listen(t), "x3.test": listen(t)}
	for _, l := range silent {
		// A bound, not a timing: a.test connects at once, or not at all.
		l.(*net.TCPListener).SetDeadline(time.Now().Add(time.Minute))
	}
	a := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"a.test"}
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.Routes = map[string]string{}
		for d, l := range silent {
			c.S2S.Routes[d] = l.Addr().String()
		}
		c.Limits.ServerOutgoingStreams = 2
	})
	a.AddUser(t, "alice", "a.test", "alice pw")
	alice := xmpptest.LoginAt(t, a, "a.test", "alice", "alice pw", "phone")

	alice.Send("<message to='pat@x1.test' type='chat' id='m1'><body>one</body></message>")
	alice.Send("<message to='pat@x2.test' type='chat' id='m2'><body>two</body></message>")
	x1, err := silent["x1.test"].Accept() // the first stream is connecting
	if err != nil {
		t.Fatal(err)
	}
	if _, err := silent["x2.test"].Accept(); err != nil {
		t.Fatal(err)
	}
	alice.Send("<message to='pat@x3.test' type='chat' id='m3'><body>three</body></message>")
	bounce := alice.NextNamed("message")
	if bounce.Attr("id") != "m3" {
		t.Fatalf("got %s, want the bounce of the message to x3.test", bounce)
	}
	if e := xmpptest.ExpectError(t, bounce, "resource-constraint"); e.Attr("type") != "wait" {
		t.Errorf("error %s, want type wait", e)
	}

	// x1.test's server hangs up: its stream ends, and frees a place.
	x1.Close()
	if b := alice.NextNamed("message"); b.Attr("id") != "m1" {
		t.Fatalf("got %s, want the bounce of the message to x1.test", b)
	}
	alice.Send("<message to='pat@x3.test' type='chat' id='m4'><body>three again</body></message>")
	if _, err := silent["x3.test"].Accept(); err != nil {
		t.Fatalf("a.test did not connect to x3.test once a place was free: %v", err)
	}
}
