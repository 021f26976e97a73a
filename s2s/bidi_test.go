package s2s_test

import (
	"crypto/tls"
	"encoding/base64"
	"net"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

const (
	nsBidi = "urn:xmpp:bidi"
	nsSM   = "urn:xmpp:sm:3"
)

// TestBidirectional: the stream a.test opens to b.test carries b.test's
// stanzas back (XEP-0288), so b.test opens none of its own, whether
// a.test authenticated by dialback or by certificate.
func TestBidirectional(t *testing.T) {
	ca := xmpptest.NewCA(t)
	for _, tc := range []struct {
		name   string
		change []func(*config.Config)
	}{{"dialback", nil}, {"certificate", []func(*config.Config){certifiedBy(t, ca, true)}}} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, alice, bob := federated(t, tc.change...)
			alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>one stream</body></message>")
			xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "one stream")
			bob.Send("<message to='alice@a.test/phone' type='chat' id='m2'><body>both ways</body></message>")
			xmpptest.ExpectBody(t, alice.NextNamed("message"), "bob@b.test/laptop", "both ways")
			bob.Send("<iq to='a.test' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
			if el := bob.NextNamed("iq"); el.Attr("type") != "result" || el.Attr("from") != "a.test" {
				t.Fatalf("bob's ping of a.test: got %s", el)
			}
			if _, out := b.S2S().Streams(); out != 0 {
				t.Errorf("b.test opened %d streams, want none: its stanzas go back over a.test's", out)
			}
			in, out := a.S2S().Streams()
			if out != 1 {
				t.Errorf("a.test opened %d streams, want 1", out)
			}
			// With certificates, b.test checks no dialback key over a
			// connection to a.test either.
			if tc.name == "certificate" && in != 0 {
				t.Errorf("a.test has %d incoming streams, want none", in)
			}
		})
	}
}

// bidiPeer connects to b's listener as domain, with a certificate from
// ca, and authenticates with SASL EXTERNAL; with ask, it asks for
// bidirectionality after STARTTLS, as XEP-0288 says; with askEarly,
// before STARTTLS, where it is void.
func bidiPeer(t *testing.T, b *xmpptest.Server, ca *xmpptest.CA, domain string, ask, askEarly bool) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Dial(t, b.S2SAddr)
	header := "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
		" xmlns:db='jabber:server:dialback' version='1.0' from='" + domain + "' to='b.test'>"
	c.Send(header)
	c.ReadHeader()
	c.Features()
	if askEarly {
		c.Send("<bidi xmlns='" + nsBidi + "'/>")
	}
	c.Send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	c.NextNamed("proceed")
	cfg := xmpptest.TLSConfig("b.test", tls.VersionTLS13)
	cfg.Certificates = clientCert(t, ca, domain)
	tc := tls.Client(c.Conn, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("STARTTLS handshake: %v", err)
	}
	c.Conn = tc
	c.Send(header)
	c.ReadHeader()
	if f := c.Features(); f.Child("urn:xmpp:features:bidi", "bidi") == nil {
		t.Fatalf("features after STARTTLS: %s, want bidi", f)
	}
	if ask {
		c.Send("<bidi xmlns='" + nsBidi + "'/>")
	}
	c.Send("<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>" + base64.StdEncoding.EncodeToString([]byte(domain)) + "</auth>")
	if got := c.Next(); got.Name.Local != "success" {
		t.Fatalf("EXTERNAL as %s: %s, want success", domain, got)
	}
	c.Send(header)
	c.ReadHeader()
	c.Features()
	return c
}

// dialedBy returns a listener that b.test is told domain's server is
// at, and waits, when called, until b.test connects to it.
func dialedBy(t *testing.T, b *xmpptest.Server, domain string) (wait func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	b.S2S().SetRoute(domain, l.Addr().String())
	return func() {
		t.Helper()
		nc, err := l.Accept()
		if err != nil {
			t.Fatalf("waiting for b.test to connect to %s: %v", domain, err)
		}
		nc.Close()
	}
}

// TestBidiOnRequest: b.test sends over a peer's stream only when the peer
// asked for it after STARTTLS; otherwise, and once that stream ended, it
// connects to the peer's server itself.
func TestBidiOnRequest(t *testing.T) {
	ca := xmpptest.NewCA(t)
	_, b, _, bob := federated(t, certifiedBy(t, ca, false), func(c *config.Config) { c.S2S.RequireTLS = false })

	// Asked before STARTTLS only: a request an attacker could have
	// injected, and void.
	early := dialedBy(t, b, "c.test")
	bidiPeer(t, b, ca, "c.test", false, true)
	bob.Send("<message to='carol@c.test' type='chat' id='c1'><body>not over your stream</body></message>")
	early()
	xmpptest.ExpectError(t, bob.NextNamed("message"), "remote-server-timeout") // nobody answered there

	// Asked: bob's message comes over the peer's stream.
	again := dialedBy(t, b, "d.test")
	d := bidiPeer(t, b, ca, "d.test", true, false)
	bob.Send("<message to='dan@d.test' type='chat' id='d1'><body>over your stream</body></message>")
	if m := d.NextNamed("message"); m.Attr("from") != "bob@b.test/laptop" || m.Attr("to") != "dan@d.test" {
		t.Fatalf("d.test got %s, want bob's message", m)
	}
	d.Send("<message from='dan@d.test/x' to='bob@b.test' type='chat' id='d2'><body>and back</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "dan@d.test/x", "and back")

	// The peer ends its stream: b.test connects itself.
	d.Send("</stream:stream>")
	bob.Send("<message to='dan@d.test' type='chat' id='d3'><body>still there?</body></message>")
	again()
}

// TestBidiBeforeTLS: with require_tls, asking for bidirectionality on a
// plain stream is a policy violation, as dialback would be.
func TestBidiBeforeTLS(t *testing.T) {
	_, b, _, _ := federated(t, func(c *config.Config) { c.S2S.RequireTLS = true })
	c := openPeer(t, b, "c.test", "b.test", false)
	c.Send("<bidi xmlns='" + nsBidi + "'/>")
	c.ExpectStreamError("policy-violation")
}

// TestBidiOutgoing plays a server that offers bidirectionality to a.test:
// a.test asks for it, then takes the peer's stanzas from its domain over
// its own stream, declines to authenticate another domain of the peer's
// there, and ends the stream on a stanza from a domain not authenticated.
func TestBidiOutgoing(t *testing.T) {
	alice, peer := bidiFromA(t, 0)
	peer.Send("<message from='pat@peer.test/desk' to='alice@a.test/phone' type='chat' id='p2'><body>back on your stream</body></message>")
	xmpptest.ExpectBody(t, alice.NextNamed("message"), "pat@peer.test/desk", "back on your stream")
	peer.Send("<db:result from='conference.peer.test' to='a.test'>a key</db:result>")
	if r := peer.Next(); r.Name.Local != "result" || r.Attr("type") != "error" || r.Attr("from") != "a.test" || r.Attr("to") != "conference.peer.test" {
		t.Fatalf("got %s, want a dialback error for conference.peer.test", r)
	}
	peer.Send("<message from='mallory@other.test' to='alice@a.test' type='chat' id='p3'><body>forged</body></message>")
	peer.ExpectStreamError("invalid-from")
}

// TestBidiFloodPaused: b.test's stanzas come over the stream a.test
// opened, and a.test's rate limit for a server applies to them as to a
// stream b.test opened (TestFloodingServerIsPaused).
func TestBidiFloodPaused(t *testing.T) {
	a, _, alice, bob := federated(t, func(c *config.Config) { c.Limits.ServerBytesPerSecond = 5000 })
	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>open</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "open")
	a.AddUser(t, "carol", "a.test", "carol pw")
	carol := xmpptest.LoginAt(t, a, "a.test", "carol", "carol pw", "desk")
	xmpptest.ExpectFloodPaused(t, bob, alice, carol, "b", 30, "b15")
}

// TestBidiOneWay: for seconds on end only b.test sends, over the stream
// a.test opened, past four times the idle time after which b.test would
// take a silent peer's stream for dead: its own writes keep it alive, and
// b.test never needs a stream of its own.
func TestBidiOneWay(t *testing.T) {
	ca := xmpptest.NewCA(t)
	_, b, alice, bob := federated(t, certifiedBy(t, ca, true), func(c *config.Config) { c.S2S.IdleSeconds = 1 })
	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>open</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "open")
	for start := time.Now(); time.Since(start) < 5*time.Second; {
		bob.Send("<message to='alice@a.test/phone' type='chat'><body>one way</body></message>")
		xmpptest.ExpectBody(t, alice.NextNamed("message"), "bob@b.test/laptop", "one way")
	}
	if _, out := b.S2S().Streams(); out != 0 {
		t.Errorf("b.test opened %d streams, want none", out)
	}
}

// TestBidiIdleCloseReadsOn: when a.test closes its idle bidirectional
// stream, it reads on until the peer closes its side (RFC 6120 §4.4), so
// a stanza the peer sent meanwhile still arrives.
func TestBidiIdleCloseReadsOn(t *testing.T) {
	alice, peer := bidiFromA(t, 1)
	if _, err := peer.NextErr(); err == nil {
		t.Fatal("a.test sent more, want the end of its idle stream")
	}
	peer.Send("<message from='pat@peer.test/desk' to='alice@a.test/phone' type='chat'><body>just in time</body></message></stream:stream>")
	xmpptest.ExpectBody(t, alice.NextNamed("message"), "pat@peer.test/desk", "just in time")
}

// bidiReceiver accepts a.test's stream on l as peer.test's server, which
// offers bidirectionality: it checks that a.test asks for it before its
// dialback key, and takes the key as valid.
func bidiReceiver(t *testing.T, l net.Listener) *xmpptest.Client {
	t.Helper()
	peer := peerServer(t, l, &tls.Config{Certificates: clientCert(t, xmpptest.NewCA(t), "peer.test")})
	peer.Send(peerHeader + "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/><bidi xmlns='urn:xmpp:features:bidi'/></stream:features>")
	if el := peer.Next(); el.Name.Space != nsBidi || el.Name.Local != "bidi" {
		t.Fatalf("a.test sent %s, want its request for bidirectionality before authenticating", el)
	}
	if el := peer.Next(); el.Name.Local != "result" || el.Attr("from") != "a.test" {
		t.Fatalf("a.test sent %s, want its dialback key", el)
	}
	peer.Send("<db:result from='peer.test' to='a.test' type='valid'/>")
	return peer
}

// bidiFromA starts a.test (its streams idle out after idleSeconds, 0 for
// the default), which routes peer.test to a listener that plays
// peer.test's server (bidiReceiver), and has alice send pat@peer.test a
// message, which opens a.test's stream; it returns alice and the peer,
// which got the message.
func bidiFromA(t *testing.T, idleSeconds int) (alice, peer *xmpptest.Client) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	a := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"a.test"}
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.Routes = map[string]string{"peer.test": l.Addr().String()}
		if idleSeconds > 0 {
			c.S2S.IdleSeconds = idleSeconds
		}
	})
	a.AddUser(t, "alice", "a.test", "alice pw")
	alice = xmpptest.LoginAt(t, a, "a.test", "alice", "alice pw", "phone")
	alice.Send("<message to='pat@peer.test' type='chat' id='p1'><body>hello</body></message>")
	peer = bidiReceiver(t, l)
	if m := peer.NextNamed("message"); m.Attr("from") != "alice@a.test/phone" {
		t.Fatalf("got %s, want alice's message", m)
	}
	return alice, peer
}

// TestStanzaOnOneWayStream: without bidirectionality (XEP-0288), the
// stream a.test opened carries stanzas one way only (XEP-0220 §2.3), and
// the peer authenticated no domain of its own on it: a.test ends the
// stream with not-authorized (RFC 6120 §4.9.3.12) at a stanza from the
// peer, rather than dropping it unsaid.
func TestStanzaOnOneWayStream(t *testing.T) {
	l := listen(t)
	_, alice := aliceRoutedTo(t, l)
	alice.Send("<message to='pat@peer.test' type='chat'><body>one way</body></message>")
	peer := smReceiver(t, l)
	expectMessageAndRequest(t, peer, "one way")
	peer.Send("<message from='pat@peer.test' to='alice@a.test/phone' type='chat'><body>back</body></message>")
	el := peer.Next()
	if el.Name.Space == nsSM && el.Name.Local == "a" {
		el = peer.Next() // a.test's last count, before it ends the stream
	}
	if el.Name.Local != "error" || el.Child("urn:ietf:params:xml:ns:xmpp-streams", "not-authorized") == nil {
		t.Fatalf("got %s, want a not-authorized stream error", el)
	}
}
