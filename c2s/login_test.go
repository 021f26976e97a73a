package c2s_test

import (
	"crypto/tls"
	"encoding/base64"
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsTLS  = "urn:ietf:params:xml:ns:xmpp-tls"
)

// encrypted opens a stream to s, encrypts it and returns the features.
func encrypted(t *testing.T, s *xmpptest.Server) (*xmpptest.Client, *xmlstream.Element) {
	t.Helper()
	return encryptedFrom(t, s, xmpptest.Dial(t, s.C2SAddr))
}

// encryptedFrom is encrypted on the connection c.
func encryptedFrom(t *testing.T, s *xmpptest.Server, c *xmpptest.Client) (*xmpptest.Client, *xmlstream.Element) {
	t.Helper()
	c.Open(xmpptest.Domain)
	c.Features()
	c.StartTLS(xmpptest.Domain, xmpptest.TLSConfig(xmpptest.Domain, tls.VersionTLS13))
	return c, c.Features()
}

func mechanisms(features *xmlstream.Element) []string {
	var names []string
	if m := features.Child(nsSASL, "mechanisms"); m != nil {
		for _, c := range m.ChildElements() {
			names = append(names, c.Text())
		}
	}
	return names
}

func TestFeatures(t *testing.T) {
	s := xmpptest.Start(t)
	c := xmpptest.Dial(t, s.C2SAddr)
	c.Open(xmpptest.Domain)
	f := c.Features()
	tls13 := f.Child(nsTLS, "starttls")
	if tls13 == nil || tls13.Child(nsTLS, "required") == nil {
		t.Fatalf("before TLS: want <starttls><required/></starttls>, got %s", f)
	}
	if len(mechanisms(f)) != 0 {
		t.Fatalf("SASL offered before TLS although TLS is required: %s", f)
	}
	if c.Header.From != xmpptest.Domain || c.Header.ID == "" || c.Header.Version != "1.0" {
		t.Errorf("response header = %+v", c.Header)
	}

	c.StartTLS(xmpptest.Domain, xmpptest.TLSConfig(xmpptest.Domain, tls.VersionTLS13))
	f = c.Features()
	got := strings.Join(mechanisms(f), " ")
	want := "SCRAM-SHA-512-PLUS SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-512 SCRAM-SHA-256 SCRAM-SHA-1 PLAIN"
	if got != want {
		t.Errorf("mechanisms after TLS 1.3 = %q, want %q", got, want)
	}
	cb := f.Child("urn:xmpp:sasl-cb:0", "sasl-channel-binding")
	if cb == nil {
		t.Fatalf("no XEP-0440 channel binding list: %s", f)
	}
	var types []string
	for _, c := range cb.ChildElements() {
		types = append(types, c.Attr("type"))
	}
	if strings.Join(types, " ") != "tls-exporter tls-server-end-point" && strings.Join(types, " ") != "tls-server-end-point tls-exporter" {
		t.Errorf("channel bindings = %v", types)
	}
}

func TestLoginEveryMechanism(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "r0m30 & ünïcode")
	tests := []struct {
		mech    xmpptest.Mechanism
		version uint16
	}{
		{xmpptest.Mechanism{Name: "SCRAM-SHA-1"}, tls.VersionTLS13},
		{xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, tls.VersionTLS13},
		{xmpptest.Mechanism{Name: "SCRAM-SHA-512"}, tls.VersionTLS13},
		{xmpptest.Mechanism{Name: "SCRAM-SHA-1-PLUS", Binding: "tls-exporter"}, tls.VersionTLS13},
		{xmpptest.Mechanism{Name: "SCRAM-SHA-256-PLUS", Binding: "tls-exporter"}, tls.VersionTLS13},
		{xmpptest.Mechanism{Name: "SCRAM-SHA-512-PLUS", Binding: "tls-exporter"}, tls.VersionTLS13},
		{xmpptest.Mechanism{Name: "SCRAM-SHA-256-PLUS", Binding: "tls-server-end-point"}, tls.VersionTLS13},
		{xmpptest.Mechanism{Name: "SCRAM-SHA-1-PLUS", Binding: "tls-server-end-point"}, tls.VersionTLS12},
		{xmpptest.Mechanism{Name: "SCRAM-SHA-512-PLUS", Binding: "tls-server-end-point"}, tls.VersionTLS12},
		{xmpptest.Mechanism{Name: "PLAIN"}, tls.VersionTLS12},
	}
	for _, tt := range tests {
		t.Run(tt.mech.Name+"/"+tt.mech.Binding+"/"+tls.VersionName(tt.version), func(t *testing.T) {
			c := xmpptest.Dial(t, s.C2SAddr)
			c.Open(xmpptest.Domain)
			c.Features()
			c.StartTLS(xmpptest.Domain, xmpptest.TLSConfig(xmpptest.Domain, tt.version))
			c.Features()
			if el := c.Authenticate(tt.mech, "juliet", "r0m30 & ünïcode"); el.Name.Local != "success" {
				t.Fatalf("got %s, want success", el)
			}
			c.Open(xmpptest.Domain)
			f := c.Features()
			if f.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind") == nil {
				t.Fatalf("no bind feature after auth: %s", f)
			}
			if got := c.Bind("balcony"); got != "juliet@localhost/balcony" {
				t.Fatalf("bound %q", got)
			}
			c.Ping()
		})
	}
}

// A wrong password and an unknown user must look the same: same server-first
// message shape, same failure.
func TestWrongPasswordLooksLikeUnknownUser(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")

	attempt := func(user, password string) (serverFirst string, final *xmlstream.Element) {
		c, _ := encrypted(t, s)
		c.Send("<auth xmlns='" + nsSASL + "' mechanism='SCRAM-SHA-256'>" + base64.StdEncoding.EncodeToString([]byte("n,,n="+user+",r=abcdefghijklmnop")) + "</auth>")
		ch := c.NextNamed("challenge")
		first, _ := base64.StdEncoding.DecodeString(ch.Text())
		nonce := strings.TrimPrefix(strings.Split(string(first), ",")[0], "r=")
		c.Send("<response xmlns='" + nsSASL + "'>" + base64.StdEncoding.EncodeToString([]byte("c=biws,r="+nonce+",p=dGhpcyBpcyBub3QgdGhlIHByb29mIHlvdSBhcmUgbG9va2luZyBmb3I=")) + "</response>")
		return string(first), c.Next()
	}
	shape := func(serverFirst string) string {
		parts := strings.Split(serverFirst, ",")
		salt, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(parts[1], "s="))
		return strings.Join([]string{parts[0][:2], parts[1][:2], string(rune('0' + len(salt))), parts[2]}, ",")
	}
	knownFirst, knownFinal := attempt("juliet", "wrong")
	unknownFirst, unknownFinal := attempt("nobody", "wrong")
	if shape(knownFirst) != shape(unknownFirst) {
		t.Errorf("server-first differs: known %q, unknown %q", knownFirst, unknownFirst)
	}
	if knownFinal.String() != unknownFinal.String() {
		t.Errorf("failures differ: known %s, unknown %s", knownFinal, unknownFinal)
	}
	if knownFinal.Child(nsSASL, "not-authorized") == nil {
		t.Errorf("failure = %s, want not-authorized", knownFinal)
	}
}

func TestPlainNeedsTLS(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.C2S.RequireTLS = false })
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	c := xmpptest.Dial(t, s.C2SAddr)
	c.Open(xmpptest.Domain)
	f := c.Features()
	if got := strings.Join(mechanisms(f), " "); got != "SCRAM-SHA-512 SCRAM-SHA-256 SCRAM-SHA-1" {
		t.Errorf("mechanisms without TLS = %q", got)
	}
	if el := c.Authenticate(xmpptest.Mechanism{Name: "PLAIN"}, "juliet", "secret"); el.Child(nsSASL, "encryption-required") == nil {
		t.Errorf("PLAIN without TLS: got %s, want encryption-required", el)
	}
	if el := c.Authenticate(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "secret"); el.Name.Local != "success" {
		t.Fatalf("SCRAM without TLS when allowed: got %s", el)
	}
	// After authentication, the restarted stream offers binding: no
	// STARTTLS (RFC 6120 §5.3.1: TLS comes before SASL) and no SASL.
	c.Open(xmpptest.Domain)
	f = c.Features()
	if f.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind") == nil || f.Child(nsTLS, "starttls") != nil || f.Child(nsSASL, "mechanisms") != nil {
		t.Errorf("features after a plaintext login: %s, want <bind/> and neither STARTTLS nor SASL", f)
	}
	c.Send("<starttls xmlns='" + nsTLS + "'/>")
	c.ExpectStreamError("policy-violation")
}

func TestAuthBeforeTLSWhenRequired(t *testing.T) {
	s := xmpptest.Start(t)
	c := xmpptest.Dial(t, s.C2SAddr)
	c.Open(xmpptest.Domain)
	c.Features()
	if el := c.Authenticate(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "secret"); el.Child(nsSASL, "encryption-required") == nil {
		t.Errorf("got %s, want encryption-required", el)
	}
}

func TestTooManyFailuresEndTheStream(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	c, _ := encrypted(t, s)
	for range 3 {
		// An unknown mechanism fails at once, without the failure delay.
		c.Send("<auth xmlns='" + nsSASL + "' mechanism='X-NOPE'/>")
		if el := c.NextNamed("failure"); el.Child(nsSASL, "invalid-mechanism") == nil {
			t.Fatalf("got %s, want invalid-mechanism", el)
		}
	}
	c.ExpectStreamError("policy-violation")
}

func TestDirectTLS(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	cfg := xmpptest.TLSConfig(xmpptest.Domain, tls.VersionTLS13)
	cfg.NextProtos = []string{"xmpp-client"}
	c := xmpptest.DialTLS(t, s.DirectTLSAddr, cfg)
	if p := c.Conn.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "xmpp-client" {
		t.Errorf("ALPN = %q, want xmpp-client", p)
	}
	c.Open(xmpptest.Domain)
	if f := c.Features(); f.Child(nsTLS, "starttls") != nil || len(mechanisms(f)) == 0 {
		t.Fatalf("direct TLS features = %s", f)
	}
	if el := c.Authenticate(xmpptest.Mechanism{Name: "SCRAM-SHA-256-PLUS", Binding: "tls-exporter"}, "juliet", "secret"); el.Name.Local != "success" {
		t.Fatalf("got %s", el)
	}
	c.Open(xmpptest.Domain)
	c.Features()
	c.Bind("")
	if !strings.HasPrefix(c.JID, "juliet@localhost/") || len(c.JID) <= len("juliet@localhost/") {
		t.Errorf("server-generated resource: bound %q", c.JID)
	}
}

func TestResourceConflictReplacesOldSession(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	old := xmpptest.Login(t, s, "juliet", "secret", "phone")
	newer := xmpptest.Login(t, s, "juliet", "secret", "phone")
	old.ExpectStreamError("conflict")
	newer.Ping()
	if newer.JID != "juliet@localhost/phone" {
		t.Errorf("new session bound %q", newer.JID)
	}
}

func TestCleanClose(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	c := xmpptest.Login(t, s, "juliet", "secret", "r")
	c.Send("</stream:stream>")
	if _, err := c.NextErr(); err != xmlstream.ErrStreamEnd {
		t.Fatalf("after our </stream:stream>: %v, want the server's end of stream", err)
	}
}

// TestServerEndPointAfterRenewal renews the server's certificate between
// a connection's TLS handshake and its login: tls-server-end-point (RFC
// 5929 §4.1) binds the login to the certificate that connection's
// handshake presented, not to the one the server would present now.
func TestServerEndPointAfterRenewal(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	tests := []struct {
		name string
		dial func(t *testing.T) *xmpptest.Client
	}{
		{"STARTTLS", func(t *testing.T) *xmpptest.Client {
			c := xmpptest.Dial(t, s.C2SAddr)
			c.Open(xmpptest.Domain)
			c.Features()
			c.StartTLS(xmpptest.Domain, xmpptest.TLSConfig(xmpptest.Domain, tls.VersionTLS12))
			return c
		}},
		{"direct TLS", func(t *testing.T) *xmpptest.Client {
			c := xmpptest.DialTLS(t, s.DirectTLSAddr, xmpptest.TLSConfig(xmpptest.Domain, tls.VersionTLS13))
			c.Open(xmpptest.Domain)
			return c
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.dial(t)
			s.RenewCertificates(t)
			c.Features()
			mech := xmpptest.Mechanism{Name: "SCRAM-SHA-256-PLUS", Binding: "tls-server-end-point"}
			if el := c.Authenticate(mech, "juliet", "secret"); el.Name.Local != "success" {
				t.Fatalf("got %s, want success", el)
			}
		})
	}
}

// TestServerEndPointAfterResumption renews the server's certificate
// between a full TLS handshake and the handshakes that resume its
// session, which present no certificate: tls-server-end-point (RFC 5929
// §4.1) binds their logins to the certificate the full handshake
// presented, which is the one the client hashes. The second resumption
// resumes the session by the ticket the first resumption was given.
func TestServerEndPointAfterResumption(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	dials := []struct {
		name string
		dial func(t *testing.T, cfg *tls.Config) *xmpptest.Client
	}{
		{"STARTTLS", func(t *testing.T, cfg *tls.Config) *xmpptest.Client {
			c := xmpptest.Dial(t, s.C2SAddr)
			c.Open(xmpptest.Domain)
			c.Features()
			c.StartTLS(xmpptest.Domain, cfg)
			return c
		}},
		{"direct TLS", func(t *testing.T, cfg *tls.Config) *xmpptest.Client {
			c := xmpptest.DialTLS(t, s.DirectTLSAddr, cfg)
			c.Open(xmpptest.Domain)
			return c
		}},
	}
	for _, d := range dials {
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(d.name+" "+tls.VersionName(version), func(t *testing.T) {
				cfg := xmpptest.TLSConfig(xmpptest.Domain, version)
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
				// Reading the stream header, the client takes the
				// ticket a TLS 1.3 server sends after its handshake.
				first := d.dial(t, cfg)
				want := first.Conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
				first.Conn.Close()
				for range 2 {
					s.RenewCertificates(t)
					c := d.dial(t, cfg)
					cs := c.Conn.(*tls.Conn).ConnectionState()
					if !cs.DidResume {
						t.Fatal("the TLS session was not resumed")
					}
					if !cs.PeerCertificates[0].Equal(want) {
						t.Fatal("the resumed session is not the first handshake's")
					}
					c.Features()
					mech := xmpptest.Mechanism{Name: "SCRAM-SHA-256-PLUS", Binding: "tls-server-end-point"}
					if el := c.Authenticate(mech, "juliet", "secret"); el.Name.Local != "success" {
						t.Fatalf("got %s, want success", el)
					}
					c.Conn.Close()
				}
			})
		}
	}
}
