package xmpptest

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"xmppd/xmlstream"
)

// ReadTimeout bounds every wait for the server in tests. It is a limit for
// a hung server, never a way to synchronise.
const ReadTimeout = 10 * time.Second

// Client is a raw XMPP client connection for tests: it sends literal XML
// and reads the server's elements one at a time.
type Client struct {
	T      testing.TB
	Conn   net.Conn
	Header xmlstream.Header
	JID    string // full JID after Bind
	dec    *xmlstream.Decoder

	features *xmlstream.Element // the last stream features read
	iqs      int                // IQs sent by IQ, for their ids
}

// Dial opens a TCP connection to addr without sending anything.
func Dial(t testing.TB, addr net.Addr) *Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr.String(), ReadTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Client{T: t, Conn: conn}
}

// DialTLS opens a direct TLS connection (XEP-0368) to addr.
func DialTLS(t testing.TB, addr net.Addr, cfg *tls.Config) *Client {
	t.Helper()
	c := Dial(t, addr)
	tc := tls.Client(c.Conn, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("direct TLS handshake: %v", err)
	}
	c.Conn = tc
	return c
}

// TLSConfig trusts any certificate: test servers use self-signed ones.
func TLSConfig(serverName string, version uint16) *tls.Config {
	return &tls.Config{ServerName: serverName, InsecureSkipVerify: true, MinVersion: version, MaxVersion: version}
}

// Send writes raw XML.
func (c *Client) Send(xml string) {
	c.T.Helper()
	c.Conn.SetWriteDeadline(time.Now().Add(ReadTimeout))
	if _, err := c.Conn.Write([]byte(xml)); err != nil {
		c.T.Fatalf("send: %v", err)
	}
}

// Open sends a stream header for domain and reads the server's header.
func (c *Client) Open(domain string) {
	c.T.Helper()
	c.Send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + domain + "' version='1.0'>")
	c.ReadHeader()
}

// ReadHeader reads the server's stream header.
func (c *Client) ReadHeader() {
	c.T.Helper()
	c.dec = xmlstream.NewDecoder(c.Conn, xmlstream.Limits{MaxStanzaBytes: 1 << 20, MaxDepth: 64})
	c.features = nil
	c.Conn.SetReadDeadline(time.Now().Add(ReadTimeout))
	h, err := c.dec.ReadHeader()
	if err != nil {
		c.T.Fatalf("reading the server's stream header: %v", err)
	}
	c.Header = h
}

// NextErr reads the server's next element.
func (c *Client) NextErr() (*xmlstream.Element, error) {
	if c.dec == nil {
		return nil, errors.New("no stream open")
	}
	c.Conn.SetReadDeadline(time.Now().Add(ReadTimeout))
	return c.dec.ReadElement()
}

// Next reads the server's next element and fails the test if there is none.
func (c *Client) Next() *xmlstream.Element {
	c.T.Helper()
	el, err := c.NextErr()
	if err != nil {
		c.T.Fatalf("%s: reading from server: %v", c.JID, err)
	}
	return el
}

// NextNamed reads the next element and checks its local name.
func (c *Client) NextNamed(local string) *xmlstream.Element {
	c.T.Helper()
	el := c.Next()
	if el.Name.Local != local {
		c.T.Fatalf("%s: got %s, want <%s>", c.JID, el, local)
	}
	return el
}

// ExpectStreamError reads the server's stream error (after the stream
// features, if they come first) and checks its condition, then expects the
// stream to end.
func (c *Client) ExpectStreamError(condition string) {
	c.T.Helper()
	if c.dec == nil {
		c.ReadHeader()
	}
	el := c.Next()
	if el.Name.Local == "features" {
		el = c.Next()
	}
	if el.Name.Local != "error" || el.Name.Space != "http://etherx.jabber.org/streams" {
		c.T.Fatalf("got %s, want a stream error %s", el, condition)
	}
	if el.Child("urn:ietf:params:xml:ns:xmpp-streams", condition) == nil {
		c.T.Fatalf("got stream error %s, want %s", el, condition)
	}
	if _, err := c.NextErr(); err == nil {
		c.T.Fatalf("stream not closed after the stream error")
	}
}

// Features reads <stream:features/>.
func (c *Client) Features() *xmlstream.Element {
	c.T.Helper()
	el := c.Next()
	if el.Name.Local != "features" {
		c.T.Fatalf("got %s, want stream features", el)
	}
	c.features = el
	return el
}

// StartTLS negotiates STARTTLS on an open stream and restarts it.
func (c *Client) StartTLS(domain string, cfg *tls.Config) {
	c.T.Helper()
	c.Send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	c.NextNamed("proceed")
	tc := tls.Client(c.Conn, cfg)
	if err := tc.Handshake(); err != nil {
		c.T.Fatalf("STARTTLS handshake: %v", err)
	}
	c.Conn = tc
	c.Open(domain)
}

// Mechanism is how Authenticate logs in.
type Mechanism struct {
	Name    string // SASL mechanism name
	Binding string // for -PLUS: "tls-exporter" or "tls-server-end-point"
}

// Authenticate runs SASL with mech and returns the final element
// (<success/> or <failure/>).
func (c *Client) Authenticate(mech Mechanism, user, password string) *xmlstream.Element {
	c.T.Helper()
	if mech.Name == "PLAIN" {
		c.Send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
			base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+password)) + "</auth>")
		return c.Next()
	}
	return c.scramExchange(nsSASL, mech, user, password, func(first string) string {
		return "<auth xmlns='" + nsSASL + "' mechanism='" + mech.Name + "'>" + first + "</auth>"
	})
}

// Authenticate2 runs SCRAM over XEP-0388's SASL2 with mech, putting extra
// (a <user-agent/>, a Bind 2 <bind/>) into <authenticate/>, and returns
// the final element (<success/> or <failure/>).
func (c *Client) Authenticate2(mech Mechanism, user, password, extra string) *xmlstream.Element {
	c.T.Helper()
	return c.scramExchange(nsSASL2, mech, user, password, func(first string) string {
		return "<authenticate xmlns='" + nsSASL2 + "' mechanism='" + mech.Name + "'><initial-response>" + first +
			"</initial-response>" + extra + "</authenticate>"
	})
}

// Namespaces of RFC 6120's SASL profile and of XEP-0388's.
const (
	nsSASL  = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsSASL2 = "urn:xmpp:sasl:2"
)

// scramExchange runs SCRAM in the SASL profile of namespace ns, opened by
// the element start makes of the base64 client-first message, and returns
// the final element, having checked a success's server signature.
func (c *Client) scramExchange(ns string, mech Mechanism, user, password string, start func(first string) string) *xmlstream.Element {
	c.T.Helper()
	conv := c.scram(mech, user, password)
	first, err := conv.Step("")
	if err != nil {
		c.T.Fatal(err)
	}
	c.Send(start(base64.StdEncoding.EncodeToString([]byte(first))))
	for {
		el := c.Next()
		if el.Name.Local != "challenge" {
			if el.Name.Local == "success" {
				final := el.Text()
				if ad := el.Child(ns, "additional-data"); ad != nil {
					final = ad.Text()
				}
				data, _ := base64.StdEncoding.DecodeString(final)
				if _, err := conv.Step(string(data)); err != nil {
					c.T.Fatalf("server signature: %v", err)
				}
			}
			return el
		}
		data, err := base64.StdEncoding.DecodeString(el.Text())
		if err != nil {
			c.T.Fatal(err)
		}
		c.checkSSDP(mech.Name, string(data))
		resp, err := conv.Step(string(data))
		if err != nil {
			// Send something the server will reject, as a wrong password would.
			resp = "c=biws,r=x,p=AAAA"
		}
		c.Send("<response xmlns='" + ns + "'>" + base64.StdEncoding.EncodeToString([]byte(resp)) + "</response>")
	}
}

// checkSSDP checks, as a XEP-0474 client does, the hash of the last
// stream features' mechanisms and channel-binding types that a SCRAM
// server-first message carries in its attribute h. Servers other than
// xmppd (the interop tests' Prosody) may leave the attribute out.
func (c *Client) checkSSDP(mech, serverFirst string) {
	c.T.Helper()
	var got string
	for _, attr := range strings.Split(serverFirst, ",") {
		if h, ok := strings.CutPrefix(attr, "h="); ok {
			got = h
		}
	}
	if c.features == nil || got == "" {
		return
	}
	var mechs, cbs []string
	if m := c.features.Child(nsSASL, "mechanisms"); m != nil {
		for _, el := range m.ChildElements() {
			mechs = append(mechs, el.Text())
		}
	}
	if cb := c.features.Child("urn:xmpp:sasl-cb:0", "sasl-channel-binding"); cb != nil {
		for _, el := range cb.ChildElements() {
			cbs = append(cbs, el.Attr("type"))
		}
	}
	slices.Sort(mechs)
	slices.Sort(cbs)
	s := strings.Join(mechs, "\x1e")
	if cbs != nil {
		s += "\x1f" + strings.Join(cbs, "\x1e")
	}
	h := sha256.New
	switch {
	case strings.HasPrefix(mech, "SCRAM-SHA-1"):
		h = sha1.New
	case strings.HasPrefix(mech, "SCRAM-SHA-512"):
		h = sha512.New
	}
	sum := h()
	sum.Write([]byte(s))
	if want := base64.StdEncoding.EncodeToString(sum.Sum(nil)); got != want {
		c.T.Fatalf("server-first %q: downgrade protection hash %s, want %s", serverFirst, got, want)
	}
}

func (c *Client) scram(mech Mechanism, user, password string) *scram.ClientConversation {
	hash := scram.SHA256
	switch {
	case strings.HasPrefix(mech.Name, "SCRAM-SHA-1"):
		hash = scram.SHA1
	case strings.HasPrefix(mech.Name, "SCRAM-SHA-512"):
		hash = scram.SHA512
	}
	client, err := hash.NewClient(user, password, "")
	if err != nil {
		c.T.Fatal(err)
	}
	if mech.Binding == "" {
		return client.NewConversation()
	}
	tc, ok := c.Conn.(*tls.Conn)
	if !ok {
		c.T.Fatal("channel binding needs TLS")
	}
	cs := tc.ConnectionState()
	var cb scram.ChannelBinding
	switch mech.Binding {
	case "tls-exporter":
		cb, err = scram.NewTLSExporterBinding(&cs)
	case "tls-server-end-point":
		cb, err = scram.NewTLSServerEndpointBinding(&cs)
	default:
		err = fmt.Errorf("unknown binding %q", mech.Binding)
	}
	if err != nil {
		c.T.Fatal(err)
	}
	return client.NewConversationWithChannelBinding(cb)
}

// Bind binds resource (empty: the server picks) and returns the full JID.
func (c *Client) Bind(resource string) string {
	c.T.Helper()
	res := ""
	if resource != "" {
		res = "<resource>" + resource + "</resource>"
	}
	c.Send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>" + res + "</bind></iq>")
	el := c.NextNamed("iq")
	if el.Attr("type") != "result" {
		c.T.Fatalf("bind failed: %s", el)
	}
	c.JID = el.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind").Child("", "jid").Text()
	return c.JID
}

// Login connects over STARTTLS, authenticates with SCRAM-SHA-256 and binds
// resource, as user@Domain.
func Login(t testing.TB, s *Server, user, password, resource string) *Client {
	t.Helper()
	return LoginAt(t, s, Domain, user, password, resource)
}

// LoginAt is Login as user@domain.
func LoginAt(t testing.TB, s *Server, domain, user, password, resource string) *Client {
	t.Helper()
	return LoginAddr(t, s.C2SAddr, domain, user, password, resource)
}

// LoginAddr is Login as user@domain at the STARTTLS listener addr of any
// XMPP server.
func LoginAddr(t testing.TB, addr net.Addr, domain, user, password, resource string) *Client {
	t.Helper()
	c := Dial(t, addr)
	c.Open(domain)
	c.Features()
	c.StartTLS(domain, TLSConfig(domain, tls.VersionTLS13))
	c.Features()
	if el := c.Authenticate(Mechanism{Name: "SCRAM-SHA-256"}, user, password); el.Name.Local != "success" {
		t.Fatalf("login of %s failed: %s", user, el)
	}
	c.Open(domain)
	c.Features()
	c.Bind(resource)
	return c
}

// IQ sends an IQ of type typ with payload body to to (the client's own
// account when empty) and returns the answer, passing over what comes
// before it.
func (c *Client) IQ(typ, to, body string) *xmlstream.Element {
	c.T.Helper()
	c.iqs++
	id := "iq" + strconv.Itoa(c.iqs)
	if to != "" {
		to = " to='" + to + "'"
	}
	c.Send("<iq type='" + typ + "' id='" + id + "'" + to + ">" + body + "</iq>")
	for {
		if el := c.Next(); el.Name.Local == "iq" && el.Attr("id") == id {
			return el
		}
	}
}

// Result is IQ for an IQ that must succeed: it fails the test on an
// error.
func (c *Client) Result(typ, to, body string) *xmlstream.Element {
	c.T.Helper()
	el := c.IQ(typ, to, body)
	if el.Attr("type") != "result" {
		c.T.Fatalf("got %s, want a result", el)
	}
	return el
}

// Online sends initial presence and reads its reflection.
func (c *Client) Online() {
	c.T.Helper()
	c.Send("<presence/>")
	c.ExpectPresenceFrom(c.JID)
}

// ExpectPresenceFrom reads the next element and checks it is presence from.
func (c *Client) ExpectPresenceFrom(from string) *xmlstream.Element {
	c.T.Helper()
	el := c.NextNamed("presence")
	if el.Attr("from") != from {
		c.T.Fatalf("%s: got presence %s, want from %s", c.JID, el, from)
	}
	return el
}

// MessagesBeforePing sends a ping to the server and waits for the
// answer, as Ping does, and returns the messages that arrived before it:
// everything the server had sent c until then.
func (c *Client) MessagesBeforePing() (messages []*xmlstream.Element) {
	c.T.Helper()
	c.Send("<iq type='get' id='barrier' to='" + Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	for {
		el := c.Next()
		switch {
		case el.Name.Local == "iq" && el.Attr("id") == "barrier":
			return messages
		case el.Name.Local == "message":
			messages = append(messages, el)
		}
	}
}

// Ping sends a ping to the server and waits for the answer: a round trip
// that proves everything sent before it was processed.
func (c *Client) Ping() {
	c.T.Helper()
	c.Send("<iq type='get' id='barrier' to='" + Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	el := c.NextNamed("iq")
	if el.Attr("id") != "barrier" || el.Attr("type") != "result" {
		c.T.Fatalf("%s: got %s, want the ping result", c.JID, el)
	}
}
