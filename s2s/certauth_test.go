package s2s_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net"
	"os"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

const nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl"

// certifiedBy gives a server a certificate for its host from ca, has it
// trust ca, and with secure, refuse peers without a verified one.
func certifiedBy(t *testing.T, ca *xmpptest.CA, secure bool) func(*config.Config) {
	return func(c *config.Config) {
		c.TLS.Certificates = []config.Certificate{ca.Issue(t, c.Hosts[0])}
		c.S2S.CAFile = ca.File
		c.S2S.SecureAuth = secure
	}
}

// clientCert loads ca's certificate for domain for a TLS client.
func clientCert(t *testing.T, ca *xmpptest.CA, domain string) []tls.Certificate {
	c := ca.Issue(t, domain)
	cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return []tls.Certificate{cert}
}

func offersExternal(f *xmlstream.Element) bool {
	ms := f.Child(nsSASL, "mechanisms")
	return ms != nil && ms.Child(nsSASL, "mechanism") != nil && ms.Child(nsSASL, "mechanism").Text() == "EXTERNAL"
}

// TestCertificateAuthentication: two servers whose certificates verify,
// with secure_auth on, which refuses dialback without a certificate,
// federate both ways.
func TestCertificateAuthentication(t *testing.T) {
	ca := xmpptest.NewCA(t)
	_, _, alice, bob := federated(t, certifiedBy(t, ca, true))
	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>signed</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "signed")
	bob.Send("<message to='alice@a.test/phone' type='chat' id='m2'><body>sealed</body></message>")
	xmpptest.ExpectBody(t, alice.NextNamed("message"), "bob@b.test/laptop", "sealed")
}

// TestSecureAuthRefusesUnverified: a.test, with secure_auth, neither
// sends to nor accepts from b.test, whose certificate is self-signed.
func TestSecureAuthRefusesUnverified(t *testing.T) {
	ca := xmpptest.NewCA(t)
	_, _, alice, bob := federated(t, func(c *config.Config) {
		if c.Hosts[0] == "a.test" {
			certifiedBy(t, ca, true)(c)
		}
	})
	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>to an unknown</body></message>")
	xmpptest.ExpectError(t, alice.NextNamed("message"), "remote-server-not-found")
	bob.Send("<message to='alice@a.test' type='chat' id='m2'><body>from an unknown</body></message>")
	if m := bob.NextNamed("message"); m.Attr("type") != "error" {
		t.Fatalf("bob got %s, want his message bounced", m)
	}
}

// TestExternalOffered drives SASL EXTERNAL (XEP-0178) on b.test's
// listener as a peer: offered only to a certificate that verifies for
// the header's domain, refused for another domain, and then good for
// stanzas from the domain.
func TestExternalOffered(t *testing.T) {
	ca := xmpptest.NewCA(t)
	_, b, _, bob := federated(t, certifiedBy(t, ca, false))

	if _, f := openPeerWith(t, b, "a.test", "b.test", true, nil); offersExternal(f) {
		t.Fatalf("features for a peer without a certificate: %s, want no EXTERNAL", f)
	}
	if _, f := openPeerWith(t, b, "c.test", "b.test", true, clientCert(t, ca, "a.test")); offersExternal(f) {
		t.Fatalf("features for a certificate of another domain: %s, want no EXTERNAL", f)
	}

	c, f := openPeerWith(t, b, "a.test", "b.test", true, clientCert(t, ca, "a.test"))
	if !offersExternal(f) {
		t.Fatalf("features for a.test's certificate: %s, want EXTERNAL", f)
	}
	auth := func(domain string) *xmlstream.Element {
		c.Send("<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>" + base64.StdEncoding.EncodeToString([]byte(domain)) + "</auth>")
		return c.Next()
	}
	if got := auth("c.test"); got.Name.Local != "failure" {
		t.Fatalf("EXTERNAL as c.test with a.test's certificate: %s, want failure", got)
	}
	if got := auth("a.test"); got.Name.Local != "success" {
		t.Fatalf("EXTERNAL as a.test: %s, want success", got)
	}
	c.Send("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='a.test' to='b.test'>")
	c.ReadHeader()
	if f := c.Features(); offersExternal(f) {
		t.Fatalf("features after EXTERNAL: %s, want it not offered again", f)
	}
	c.Send("<message from='alice@a.test/desk' to='bob@b.test' type='chat' id='x1'><body>by certificate</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/desk", "by certificate")
	// The certificate names a.test only.
	c.Send("<message from='mallory@c.test' to='bob@b.test' type='chat' id='x2'><body>forged</body></message>")
	c.ExpectStreamError("invalid-from")
}

// TestDialbackWithCertificate: a dialback key from a peer whose
// certificate verifies for the domain is believed without asking the
// domain's server (XEP-0344), which here could not be reached.
func TestDialbackWithCertificate(t *testing.T) {
	ca := xmpptest.NewCA(t)
	_, b, _, bob := federated(t, certifiedBy(t, ca, true))
	c, _ := openPeerWith(t, b, "d.test", "b.test", true, clientCert(t, ca, "d.test"))
	c.Send("<db:result from='d.test' to='b.test'>not a key anyone can check</db:result>")
	if r := c.Next(); r.Name.Local != "result" || r.Attr("type") != "valid" {
		t.Fatalf("got %s, want the key accepted", r)
	}
	c.Send("<message from='dora@d.test' to='bob@b.test' type='chat' id='d1'><body>vouched</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "dora@d.test", "vouched")

	// Without a certificate, secure_auth refuses the key.
	c, _ = openPeerWith(t, b, "e.test", "b.test", true, nil)
	c.Send("<db:result from='e.test' to='b.test'>a key</db:result>")
	if r := c.Next(); r.Attr("type") != "error" || r.Child("", "error") == nil {
		t.Fatalf("got %s, want a dialback error", r)
	}
}

// TestExternalUsed plays a server that offers SASL EXTERNAL to a.test:
// a.test presents its certificate as the TLS client's and authenticates
// with it instead of dialback, then sends its stanza.
func TestExternalUsed(t *testing.T) {
	ca := xmpptest.NewCA(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"a.test"}
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.Routes = map[string]string{"peer.test": l.Addr().String()}
		certifiedBy(t, ca, false)(c)
	})
	a.AddUser(t, "alice", "a.test", "alice pw")
	alice := xmpptest.LoginAt(t, a, "a.test", "alice", "alice pw", "phone")
	alice.Send("<message to='pat@peer.test' type='chat' id='p1'><body>over EXTERNAL</body></message>")

	peer := peerServer(t, l, &tls.Config{Certificates: clientCert(t, ca, "peer.test"), ClientAuth: tls.RequireAnyClientCert})
	if cert := peer.Conn.(*tls.Conn).ConnectionState().PeerCertificates[0]; cert.VerifyHostname("a.test") != nil || cert.CheckSignatureFrom(caCertificate(t, ca)) != nil {
		t.Fatalf("a.test presented %v, want its certificate from the CA", cert.Subject)
	}
	peer.Send(peerHeader + "<stream:features><mechanisms xmlns='" + nsSASL + "'><mechanism>EXTERNAL</mechanism></mechanisms>" +
		"<dialback xmlns='urn:xmpp:features:dialback'/></stream:features>")
	auth := peer.Next()
	if auth.Name.Local != "auth" || auth.Attr("mechanism") != "EXTERNAL" || auth.Text() != base64.StdEncoding.EncodeToString([]byte("a.test")) {
		t.Fatalf("a.test sent %s, want SASL EXTERNAL as a.test", auth)
	}
	peer.Send("<success xmlns='" + nsSASL + "'/>")
	peer.ReadHeader()
	if peer.Header.From != "a.test" || peer.Header.To != "peer.test" {
		t.Fatalf("restarted stream from %q to %q", peer.Header.From, peer.Header.To)
	}
	peer.Send(peerHeader + "<stream:features/>")
	m := peer.Next()
	if m.Name.Local != "message" || m.Attr("from") != "alice@a.test/phone" || m.Attr("to") != "pat@peer.test" {
		t.Fatalf("got %s, want alice's message", m)
	}
}

// peerHeader is the stream header of peer.test's server to a.test.
const peerHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
	" xmlns:db='jabber:server:dialback' version='1.0' from='peer.test' to='a.test' id='s1'>"

// peerServer accepts a.test's stream on l as peer.test's server: it
// requires STARTTLS, does the handshake with cfg, and reads the header of
// the encrypted stream, which is the caller's to answer.
func peerServer(t *testing.T, l net.Listener, cfg *tls.Config) *xmpptest.Client {
	t.Helper()
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	peer := &xmpptest.Client{T: t, Conn: nc}
	peer.ReadHeader()
	peer.Send(peerHeader + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>")
	peer.NextNamed("starttls")
	peer.Send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	tc := tls.Server(nc, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake with a.test: %v", err)
	}
	peer.Conn = tc
	peer.ReadHeader()
	return peer
}

// caCertificate reads ca's certificate.
func caCertificate(t *testing.T, ca *xmpptest.CA) *x509.Certificate {
	data, err := os.ReadFile(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestExternalFailures: a SASL EXTERNAL request that cannot succeed gets
// the RFC 6120 §6.5 condition that says why, and the stream goes on.
func TestExternalFailures(t *testing.T) {
	ca := xmpptest.NewCA(t)
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
	}, certifiedBy(t, ca, false))
	authzid := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name      string
		encrypt   bool
		auth      string
		condition string
	}{
		{"other mechanism", true, "<auth xmlns='" + nsSASL + "' mechanism='PLAIN'>" + authzid("\x00a\x00b") + "</auth>", "invalid-mechanism"},
		{"no mechanism", true, "<auth xmlns='" + nsSASL + "'/>", "invalid-mechanism"},
		{"before STARTTLS", false, "<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>=</auth>", "encryption-required"},
		{"not base64", true, "<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>not base64!</auth>", "incorrect-encoding"},
		{"authzid not a domain", true, "<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>" + authzid("alice@a.test") + "</auth>", "invalid-authzid"},
		{"authzid of ours", true, "<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>" + authzid("b.test") + "</auth>", "invalid-authzid"},
		{"certificate of another domain", true, "<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>" + authzid("c.test") + "</auth>", "not-authorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := openPeerWith(t, b, "a.test", "b.test", tc.encrypt, clientCert(t, ca, "a.test"))
			c.Send(tc.auth)
			if f := c.NextNamed("failure"); f.Child(nsSASL, tc.condition) == nil {
				t.Fatalf("got %s, want a SASL failure %s", f, tc.condition)
			}
			if !tc.encrypt {
				return
			}
			// The stream goes on: the right request still succeeds.
			c.Send("<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>=</auth>")
			if got := c.Next(); got.Name.Local != "success" {
				t.Fatalf("then EXTERNAL as a.test: %s, want success", got)
			}
		})
	}
}

// TestExternalRetries: a peer may retry a failed SASL EXTERNAL request,
// a few times (RFC 6120 §6.4.5), not without end: each makes the
// server verify its certificate again.
func TestExternalRetries(t *testing.T) {
	ca := xmpptest.NewCA(t)
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
	}, certifiedBy(t, ca, false))
	c, _ := openPeerWith(t, b, "a.test", "b.test", true, clientCert(t, ca, "a.test"))
	for range 3 {
		c.Send("<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>" + base64.StdEncoding.EncodeToString([]byte("c.test")) + "</auth>")
		if f := c.NextNamed("failure"); f.Child(nsSASL, "not-authorized") == nil {
			t.Fatalf("got %s, want a SASL failure", f)
		}
	}
	c.ExpectStreamError("policy-violation")

	// Other streams go on.
	c, _ = openPeerWith(t, b, "a.test", "b.test", true, clientCert(t, ca, "a.test"))
	c.Send("<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>=</auth>")
	c.NextNamed("success")
}

// TestSecureAuthDialbackRefused: b.test, with secure_auth, refuses a
// dialback key from a peer whose certificate does not verify for the
// domain with the dialback error XEP-0220 §2.4 names for a policy that
// requires a certificate, not-authorized; the stream goes on.
func TestSecureAuthDialbackRefused(t *testing.T) {
	ca := xmpptest.NewCA(t)
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
	}, certifiedBy(t, ca, true))
	c := openPeer(t, b, "a.test", "b.test", true)
	c.Send("<db:result from='a.test' to='b.test'>a key</db:result>")
	if el := c.NextNamed("result"); el.Attr("from") != "b.test" || el.Attr("to") != "a.test" || !dialbackError(el, "not-authorized") {
		t.Fatalf("got %s, want a not-authorized dialback error", el)
	}
	c.Send("<db:verify from='a.test' to='elsewhere.test' id='probe'>0123</db:verify>")
	if el := c.NextNamed("verify"); !dialbackError(el, "item-not-found") {
		t.Fatalf("got %s, want the stream to go on", el)
	}
}
