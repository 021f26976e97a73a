package s2s_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// openPeer connects to s's s2s listener as a server claiming from, opens
// a stream to to and reads the features; with encrypt, after STARTTLS.
func openPeer(t *testing.T, s *xmpptest.Server, from, to string, encrypt bool) *xmpptest.Client {
	t.Helper()
	c, f := openPeerWith(t, s, from, to, encrypt, nil)
	if encrypt && f.Child("urn:xmpp:features:dialback", "dialback") == nil {
		t.Fatalf("features after STARTTLS: %s, want dialback", f)
	}
	return c
}

// openPeerWith is openPeer presenting certs, if any, as the TLS client's
// certificate; it returns the last features.
func openPeerWith(t *testing.T, s *xmpptest.Server, from, to string, encrypt bool, certs []tls.Certificate) (*xmpptest.Client, *xmlstream.Element) {
	t.Helper()
	c := xmpptest.Dial(t, s.S2SAddr)
	header := "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
		" xmlns:db='jabber:server:dialback' version='1.0' from='" + from + "' to='" + to + "'>"
	c.Send(header)
	c.ReadHeader()
	f := c.Features()
	if encrypt {
		c.Send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		c.NextNamed("proceed")
		cfg := xmpptest.TLSConfig(to, tls.VersionTLS13)
		cfg.Certificates = certs
		tc := tls.Client(c.Conn, cfg)
		if err := tc.Handshake(); err != nil {
			t.Fatalf("STARTTLS handshake: %v", err)
		}
		c.Conn = tc
		c.Send(header)
		c.ReadHeader()
		f = c.Features()
	}
	return c, f
}

// key computes the XEP-0185 dialback key independently of package s2s.
func key(secret []byte, receiving, originating, id string) string {
	h := sha256.Sum256(secret)
	mac := hmac.New(sha256.New, []byte(hex.EncodeToString(h[:])))
	mac.Write([]byte(receiving + " " + originating + " " + id))
	return hex.EncodeToString(mac.Sum(nil))
}

func TestRefusedStreams(t *testing.T) {
	a, b, alice, bob := federated(t)

	t.Run("client namespace", func(t *testing.T) {
		c := xmpptest.Dial(t, b.S2SAddr)
		c.Open("b.test") // a jabber:client header
		c.ExpectStreamError("invalid-namespace")
	})
	t.Run("unknown host", func(t *testing.T) {
		c := xmpptest.Dial(t, b.S2SAddr)
		c.Send("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='elsewhere.test'>")
		c.ExpectStreamError("host-unknown")
	})
	t.Run("not well-formed", func(t *testing.T) {
		c := openPeer(t, b, "a.test", "b.test", true)
		c.Send("<message to='bob@b.test'><body>x</bod></message>")
		c.ExpectStreamError("not-well-formed")
	})
	t.Run("stanza before dialback", func(t *testing.T) {
		c := openPeer(t, b, "a.test", "b.test", true)
		c.Send("<message from='alice@a.test' to='bob@b.test' type='chat'><body>unproven</body></message>")
		c.ExpectStreamError("not-authorized")
	})
	t.Run("stanza without addresses before dialback", func(t *testing.T) {
		// Not processed at all before authentication, its addresses
		// neither (RFC 6120 §4.9.3.12).
		c := openPeer(t, b, "a.test", "b.test", true)
		c.Send("<message type='chat'><body>unproven</body></message>")
		c.ExpectStreamError("not-authorized")
	})
	t.Run("dialback before STARTTLS", func(t *testing.T) {
		c := openPeer(t, b, "a.test", "b.test", false)
		c.Send("<db:result from='a.test' to='b.test'>00</db:result>")
		c.ExpectStreamError("policy-violation")
	})
	t.Run("forged key", func(t *testing.T) {
		// b.test asks a.test's real server, which denies the key: the
		// peer tried to spoof a.test, and its stream is closed after the
		// verdict (XEP-0220 §2.2.1).
		c := openPeer(t, b, "a.test", "b.test", true)
		c.Send("<db:result from='a.test' to='b.test'>" + key([]byte("not a.test's secret"), "b.test", "a.test", c.Header.ID) + "</db:result>")
		if el := c.NextNamed("result"); el.Attr("type") != "invalid" || el.Attr("from") != "b.test" || el.Attr("to") != "a.test" {
			t.Fatalf("got %s, want an invalid verdict", el)
		}
		c.ExpectStreamError("not-authorized")
	})
	t.Run("verify with a wrong key", func(t *testing.T) {
		c := openPeer(t, b, "a.test", "b.test", true)
		c.Send("<db:verify from='a.test' to='b.test' id='abc'>0123</db:verify>")
		if el := c.NextNamed("verify"); el.Attr("type") != "invalid" || el.Attr("id") != "abc" {
			t.Fatalf("got %s, want an invalid verdict", el)
		}
		c.Send("<db:verify from='a.test' to='elsewhere.test' id='abc'>0123</db:verify>")
		if el := c.NextNamed("verify"); el.Attr("type") != "error" {
			t.Fatalf("got %s, want an error for a domain b.test does not serve", el)
		}
	})

	// A peer with a.test's secret proves a.test for real, and may then
	// send only as a.test, only to b.test, and with both addresses.
	var secret []byte
	if err := a.DB.QueryRow(context.Background(), `SELECT secret FROM server_secret`).Scan(&secret); err != nil {
		t.Fatal(err)
	}
	authenticated := func(t *testing.T) *xmpptest.Client {
		c := openPeer(t, b, "a.test", "b.test", true)
		c.Send("<db:result from='a.test' to='b.test'>" + key(secret, "b.test", "a.test", c.Header.ID) + "</db:result>")
		if el := c.NextNamed("result"); el.Attr("type") != "valid" {
			t.Fatalf("got %s, want a valid verdict", el)
		}
		c.Send("<message from='alice@a.test/x' to='bob@b.test' type='chat'><body>proven</body></message>")
		xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/x", "proven")
		return c
	}
	for _, tc := range []struct{ name, stanza, condition string }{
		{"spoofed from", "<message from='mallory@c.test' to='bob@b.test'><body>x</body></message>", "invalid-from"},
		{"another host", "<message from='alice@a.test' to='bob@elsewhere.test'><body>x</body></message>", "host-unknown"},
		{"no to", "<message from='alice@a.test'><body>x</body></message>", "improper-addressing"},
		{"bad from", "<message from='@@' to='bob@b.test'><body>x</body></message>", "improper-addressing"},
		{"bad to", "<message from='alice@a.test' to='@b.test'><body>x</body></message>", "improper-addressing"},
		{"not a stanza", "<foo xmlns='urn:example'/>", "unsupported-stanza-type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := authenticated(t)
			c.Send(tc.stanza)
			c.ExpectStreamError(tc.condition)
		})
	}

	// The real servers still talk.
	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>still here</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "still here")
}

// TestStartTLSAfterAuthentication: with require_tls off, a peer may
// authenticate on a plain stream, but not then ask for STARTTLS, when
// stanzas may already be on their way both ways (XEP-0288).
func TestStartTLSAfterAuthentication(t *testing.T) {
	a, b, _, bob := federated(t, func(c *config.Config) { c.S2S.RequireTLS = false })
	var secret []byte
	if err := a.DB.QueryRow(context.Background(), `SELECT secret FROM server_secret`).Scan(&secret); err != nil {
		t.Fatal(err)
	}
	c := openPeer(t, b, "a.test", "b.test", false)
	c.Send("<db:result from='a.test' to='b.test'>" + key(secret, "b.test", "a.test", c.Header.ID) + "</db:result>")
	if el := c.NextNamed("result"); el.Attr("type") != "valid" {
		t.Fatalf("got %s, want a valid verdict", el)
	}
	c.Send("<message from='alice@a.test/x' to='bob@b.test' type='chat'><body>plain</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/x", "plain")
	c.Send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	c.ExpectStreamError("policy-violation")
}

// TestRestartKeepsAddresses: the header that restarts a stream after
// STARTTLS names the same domains as the first; one that names others
// (here another domain b.test's server serves) ends the stream with
// improper-addressing, as Prosody does, instead of leaving what was
// negotiated for the one and the header for the other.
func TestRestartKeepsAddresses(t *testing.T) {
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test", "c.test"}
		c.S2S.Listen = "127.0.0.1:0"
	})
	for _, tc := range []struct{ name, from, to string }{
		{"to", "a.test", "c.test"},
		{"from", "x.test", "b.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := xmpptest.Dial(t, b.S2SAddr)
			header := func(from, to string) string {
				return "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
					" xmlns:db='jabber:server:dialback' version='1.0' from='" + from + "' to='" + to + "'>"
			}
			c.Send(header("a.test", "b.test"))
			c.ReadHeader()
			c.Features()
			c.Send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
			c.NextNamed("proceed")
			tlsConn := tls.Client(c.Conn, xmpptest.TLSConfig("b.test", tls.VersionTLS13))
			if err := tlsConn.Handshake(); err != nil {
				t.Fatalf("STARTTLS handshake: %v", err)
			}
			c.Conn = tlsConn
			c.Send(header(tc.from, tc.to))
			c.ReadHeader()
			c.ExpectStreamError("improper-addressing")
		})
	}
}

// TestStreamVersion: a peer that speaks a later minor version of XMPP 1
// is answered with version 1.0 and goes on (RFC 6120 §4.7.5); another
// major version, or none (0.9, before XMPP 1.0), is refused.
func TestStreamVersion(t *testing.T) {
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
	})
	open := func(t *testing.T, version string) *xmpptest.Client {
		c := xmpptest.Dial(t, b.S2SAddr)
		if version != "" {
			version = " version='" + version + "'"
		}
		c.Send("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
			" xmlns:db='jabber:server:dialback' from='a.test' to='b.test'" + version + ">")
		return c
	}
	t.Run("1.1", func(t *testing.T) {
		c := open(t, "1.1")
		c.ReadHeader()
		if c.Header.Version != "1.0" {
			t.Errorf("answered with version %q, want 1.0", c.Header.Version)
		}
		if f := c.Features(); f.Child("urn:ietf:params:xml:ns:xmpp-tls", "starttls") == nil {
			t.Fatalf("features: %s, want STARTTLS", f)
		}
	})
	for _, v := range []string{"0.9", "2.0", ""} {
		t.Run("version "+v, func(t *testing.T) {
			open(t, v).ExpectStreamError("unsupported-version")
		})
	}
}

// TestDomainsInCapitals: domain names are not case-sensitive (RFC 6120
// §4.7.2, §3.2 of RFC 7622). A peer whose header and dialback request
// write the domains in capitals is served and authenticated for them as
// written in lowercase, the form its stanzas' addresses take.
func TestDomainsInCapitals(t *testing.T) {
	a, b, _, bob := federated(t, func(c *config.Config) { c.S2S.RequireTLS = false })
	var secret []byte
	if err := a.DB.QueryRow(context.Background(), `SELECT secret FROM server_secret`).Scan(&secret); err != nil {
		t.Fatal(err)
	}
	c := openPeer(t, b, "A.Test", "B.TEST", false)
	c.Send("<db:result from='A.TEST' to='b.Test'>" + key(secret, "b.test", "a.test", c.Header.ID) + "</db:result>")
	if el := c.NextNamed("result"); el.Attr("type") != "valid" {
		t.Fatalf("got %s, want a valid verdict", el)
	}
	c.Send("<message from='alice@a.test/x' to='bob@b.test' type='chat'><body>capitals</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/x", "capitals")
}

// TestOutgoingStreamVersion: a peer that answers a.test's stream in
// another major version of XMPP than 1, or in none (before XMPP 1.0),
// gets unsupported-version at once (RFC 6120 §4.7.5), rather than waiting
// until the negotiation times out for features it never sends; the
// sender's message bounces.
func TestOutgoingStreamVersion(t *testing.T) {
	for _, v := range []string{"", " version='0.9'", " version='2.0'"} {
		t.Run("version"+v, func(t *testing.T) {
			l := listen(t)
			_, alice := aliceRoutedTo(t, l)
			alice.Send("<message to='pat@peer.test' type='chat' id='old'><body>hello</body></message>")

			nc, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { nc.Close() })
			peer := &xmpptest.Client{T: t, Conn: nc}
			peer.ReadHeader()
			peer.Send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
				" xmlns:db='jabber:server:dialback' from='peer.test' to='a.test' id='s1'" + v + ">")
			peer.ExpectStreamError("unsupported-version")
			if m := alice.NextNamed("message"); m.Attr("type") != "error" || m.Attr("id") != "old" {
				t.Fatalf("alice got %s, want her message bounced", m)
			}
		})
	}
}
