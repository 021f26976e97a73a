package s2s_test

import (
	"net"
	"testing"
	"time"

	"xmppd/internal/xmpptest"
)

// redirectFrom accepts a.test's next stream on l, as peer.test's server,
// and answers its header with <see-other-host/> naming to.
func redirectFrom(t *testing.T, l net.Listener, to string) {
	t.Helper()
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &xmpptest.Client{T: t, Conn: nc}
	c.ReadHeader()
	c.Send(peerHeader + "<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>" + to +
		"</see-other-host></stream:error></stream:stream>")
}

// TestSeeOtherHost: a.test follows peer.test's server's <see-other-host/>
// (RFC 6120 §4.9.3.19) to the host and port it names, with the same
// policies (STARTTLS, dialback for a.test to peer.test), and delivers
// there; a second redirect on the same attempt is not followed: the
// message bounces instead of a.test going round in circles.
func TestSeeOtherHost(t *testing.T) {
	first, other := listen(t), listen(t)
	for _, l := range []net.Listener{first, other} {
		// A bound, not a timing: a.test connects at once, or not at all.
		l.(*net.TCPListener).SetDeadline(time.Now().Add(time.Minute))
	}
	_, alice := aliceRoutedTo(t, first)
	alice.Send("<message to='pat@peer.test' type='chat' id='m1'><body>redirected</body></message>")
	redirectFrom(t, first, other.Addr().String())
	peer := smReceiver(t, other)
	expectMessageAndRequest(t, peer, "redirected")

	alice.Send("<message to='pat@peer.test' type='chat' id='m2'><body>going round</body></message>")
	if m := peer.NextNamed("message"); m.Attr("id") != "m2" {
		t.Fatalf("got %s, want m2", m)
	}
	peer.Conn.Close() // unacknowledged, m1 and m2 go again on a new stream, redirected twice
	redirectFrom(t, first, first.Addr().String())
	redirectFrom(t, first, first.Addr().String())
	for {
		el := alice.NextNamed("message")
		if el.Attr("id") == "m2" {
			xmpptest.ExpectError(t, el, "remote-server-timeout")
			return
		}
	}
}
