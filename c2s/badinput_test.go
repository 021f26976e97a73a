package c2s_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

const header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"

// Each bad input ends the offending stream with the RFC 6120 stream error,
// and a normal login keeps working afterwards.
func TestBadInputBeforeAuth(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.Limits.MaxStanzaBytes = 16 << 10; c.Limits.MaxDepth = 8 })
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	tests := []struct {
		name, send, condition string
	}{
		{"garbage before the header", "GET / HTTP/1.1\r\n\r\n", "not-well-formed"},
		{"unknown host", strings.Replace(header, "to='localhost'", "to='nowhere.example'", 1), "host-unknown"},
		{"no host", strings.Replace(header, " to='localhost'", "", 1), "host-unknown"},
		{"server namespace", strings.Replace(header, "jabber:client", "jabber:server", 1), "invalid-namespace"},
		{"wrong stream namespace", strings.Replace(header, "http://etherx.jabber.org/streams", "urn:nope", 1), "invalid-namespace"},
		{"old version", strings.Replace(header, "version='1.0'>", "version='0.9'>", 1), "unsupported-version"},
		{"no version", strings.Replace(header, " version='1.0'>", ">", 1), "unsupported-version"},
		{"version not a number", strings.Replace(header, "version='1.0'>", "version='1.x'>", 1), "unsupported-version"},
		{"UTF-16LE without a byte order mark", "<\x00?\x00x\x00m\x00l\x00", "unsupported-encoding"},
		{"doctype", "<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY x 'boom'>]>" + header, "restricted-xml"},
		{"entity in stanza", header + "<message to='a@localhost'><body>&x;</body></message>", "restricted-xml"},
		{"processing instruction", header + "<?evil please?>", "restricted-xml"},
		{"comment", header + "<!-- hello -->", "restricted-xml"},
		{"not well-formed", header + "<message><body></message>", "not-well-formed"},
		{"oversized stanza", header + "<message><body>" + strings.Repeat("x", 20<<10) + "</body></message>", "policy-violation"},
		{"too deep", header + strings.Repeat("<a>", 12) + strings.Repeat("</a>", 12), "policy-violation"},
		{"stanza before auth", header + "<message to='juliet@localhost'><body>hi</body></message>", "not-authorized"},
		{"unknown element", header + "<hello xmlns='urn:example'/>", "unsupported-stanza-type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := xmpptest.Dial(t, s.C2SAddr)
			c.Send(tt.send)
			c.ExpectStreamError(tt.condition)
			xmpptest.Login(t, s, "juliet", "secret", "after").Ping()
		})
	}
}

func TestBadInputAfterBind(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.Limits.MaxStanzaBytes = 16 << 10; c.Limits.MaxDepth = 8 })
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Online()
	tests := []struct {
		name, send, condition string
	}{
		{"not well-formed", "<message><body></message>", "not-well-formed"},
		{"oversized stanza", "<message><body>" + strings.Repeat("x", 20<<10) + "</body></message>", "policy-violation"},
		{"too deep", strings.Repeat("<a>", 12) + strings.Repeat("</a>", 12), "policy-violation"},
		{"processing instruction", "<?evil please?>", "restricted-xml"},
		{"undeclared prefix", "<message><x:body>hi</x:body></message>", "not-well-formed"},
		{"server stanza namespace", "<message xmlns='jabber:server'/>", "unsupported-stanza-type"},
		// Not read as an element holding the stanzas that follow it.
		{"second stream header", header[len("<?xml version='1.0'?>"):], "bad-format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := xmpptest.Login(t, s, "juliet", "secret", "bad")
			c.Send(tt.send)
			c.ExpectStreamError(tt.condition)
			// Everyone else is unaffected.
			romeo.Ping()
			xmpptest.Login(t, s, "juliet", "secret", "after").Ping()
		})
	}
}

// RFC 6120 §8.1.2.1: the server stamps 'from'; a spoofed one is overwritten.
func TestSpoofedFromIsOverwritten(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	s.AddUser(t, "tybalt", xmpptest.Domain, "secret")
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	tybalt := xmpptest.Login(t, s, "tybalt", "secret", "street")
	tybalt.Send("<message to='juliet@localhost/balcony' from='romeo@localhost/orchard' type='chat'><body>it is I, Romeo</body></message>")
	msg := juliet.NextNamed("message")
	if msg.Attr("from") != "tybalt@localhost/street" {
		t.Fatalf("from = %q, want the true sender", msg.Attr("from"))
	}
}

// A client that stops reading is disconnected once its queue is full; the
// sender and everyone else keep chatting.
func TestClientThatStopsReading(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.Limits.SessionQueue, c.Offline.Quota = 200, 100 })
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	bob := xmpptest.Login(t, s, "bob", "secret", "stuck")
	bob.Online()
	// bob reads nothing from here on.
	alice := xmpptest.Login(t, s, "alice", "secret", "a")
	carol := xmpptest.Login(t, s, "carol", "secret", "c")
	dave := xmpptest.Login(t, s, "dave", "secret", "d")
	dave.Online()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		// Enough to fill the socket buffers many times over.
		defer wg.Done()
		body := strings.Repeat("flood ", 2000)
		for i := range 2000 {
			if _, err := alice.Conn.Write([]byte(fmt.Sprintf("<message to='bob@localhost/stuck' type='headline' id='%d'><body>%s</body></message>", i, body))); err != nil {
				t.Errorf("alice could not send: %v", err)
				return
			}
		}
	}()
	for i := range 50 {
		carol.Send(fmt.Sprintf("<message to='dave@localhost/d' type='chat' id='c%d'><body>still here %d</body></message>", i, i))
		if m := dave.NextNamed("message"); m.Attr("id") != fmt.Sprintf("c%d", i) {
			t.Fatalf("dave got %s", m)
		}
	}
	wg.Wait()
	alice.Ping()
	// bob's connection was closed by the server: reading the backlog ends
	// in an error rather than blocking forever.
	for {
		if _, err := bob.NextErr(); err != nil {
			break
		}
	}
}

func TestNegotiationAfterTLS(t *testing.T) {
	s := xmpptest.Start(t)
	c, _ := encrypted(t, s)
	c.Send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	c.ExpectStreamError("policy-violation")
}

// maxBytes returns the XEP-0478 size limit announced in features.
func maxBytes(t *testing.T, features *xmlstream.Element) string {
	t.Helper()
	l := features.Child("urn:xmpp:stream-limits:0", "limits")
	if l == nil {
		t.Fatalf("features %s announce no limits", features)
	}
	return l.Child("urn:xmpp:stream-limits:0", "max-bytes").Text()
}

// Before authentication a client may send 16 KiB per element, after it
// the configured limit; the features say which (XEP-0478).
func TestStanzaLimitBeforeAuth(t *testing.T) {
	s := xmpptest.Start(t) // limits.max_stanza_bytes: 256 KiB
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	big := "<message to='romeo@localhost/orchard' type='chat'><body>" + strings.Repeat("x", 20<<10) + "</body></message>"

	c := xmpptest.Dial(t, s.C2SAddr)
	c.Open(xmpptest.Domain)
	if got := maxBytes(t, c.Features()); got != "16384" {
		t.Fatalf("max-bytes before TLS = %s; want 16384", got)
	}
	c.StartTLS(xmpptest.Domain, xmpptest.TLSConfig(xmpptest.Domain, tls.VersionTLS13))
	if got := maxBytes(t, c.Features()); got != "16384" {
		t.Fatalf("max-bytes before authentication = %s; want 16384", got)
	}
	c.Send(big)
	c.ExpectStreamError("policy-violation")

	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	juliet := xmpptest.Dial(t, s.C2SAddr)
	if got := maxBytes(t, juliet.Authenticated("juliet", "secret")); got != "262144" {
		t.Fatalf("max-bytes after authentication = %s; want 262144", got)
	}
	juliet.Bind("balcony")
	juliet.Send(big)
	if got := romeo.NextNamed("message").Child("jabber:client", "body").Text(); len(got) != 20<<10 {
		t.Fatalf("romeo got a body of %d bytes; want %d", len(got), 20<<10)
	}
}

// RFC 6120 §4.7.2: the response header is addressed to the bare JID the
// client gave in its 'from', and to no one when it gave none.
func TestResponseHeaderTo(t *testing.T) {
	s := xmpptest.Start(t)
	for _, tt := range []struct{ name, from, want string }{
		{"full JID", " from='juliet@localhost/balcony'", "juliet@localhost"},
		{"bare JID", " from='juliet@localhost'", "juliet@localhost"},
		{"none", "", ""},
		{"not a JID", " from='@localhost'", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := xmpptest.Dial(t, s.C2SAddr)
			c.Send(strings.Replace(header, " to='localhost'", " to='localhost'"+tt.from, 1))
			c.ReadHeader()
			if c.Header.To != tt.want {
				t.Errorf("response header to = %q, want %q", c.Header.To, tt.want)
			}
			c.Features()
		})
	}
}

// RFC 7622 §3.2: a final dot is not part of the domain, so a stream to
// "localhost." is a stream to localhost.
func TestStreamToWithFinalDot(t *testing.T) {
	s := xmpptest.Start(t)
	c := xmpptest.Dial(t, s.C2SAddr)
	c.Send(strings.Replace(header, "to='localhost'", "to='LocalHost.'", 1))
	c.ReadHeader()
	if c.Header.From != "localhost" {
		t.Errorf("response header from = %q, want localhost", c.Header.From)
	}
	c.Features()
}

// A client's stream error ends its stream: the server answers with the
// end of its own, not with a stream error of its own, before and after
// binding (as Prosody and ejabberd do).
func TestClientStreamError(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	const streamErr = "<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
	for _, tt := range []struct {
		name string
		dial func() *xmpptest.Client
	}{
		{"before authentication", func() *xmpptest.Client {
			c := xmpptest.Dial(t, s.C2SAddr)
			c.Open(xmpptest.Domain)
			c.Features()
			return c
		}},
		{"after binding", func() *xmpptest.Client { return xmpptest.Login(t, s, "juliet", "secret", "balcony") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.dial()
			c.Send(streamErr)
			if el, err := c.NextErr(); !errors.Is(err, xmlstream.ErrStreamEnd) {
				t.Fatalf("got %v, %v; want the end of the stream", el, err)
			}
		})
	}
}

// RFC 6120 §4.7.5: versions are compared as numbers, and leading zeros
// are ignored.
func TestStreamVersionLeadingZeros(t *testing.T) {
	s := xmpptest.Start(t)
	for _, v := range []string{"01.0", "1.00", "1.10"} {
		t.Run(v, func(t *testing.T) {
			c := xmpptest.Dial(t, s.C2SAddr)
			c.Send(strings.Replace(header, "version='1.0'>", "version='"+v+"'>", 1))
			c.ReadHeader()
			c.Features()
		})
	}
}
