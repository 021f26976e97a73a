package httpd_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/xdg-go/scram"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// wsClient is a minimal RFC 7395 client.
type wsClient struct {
	t testing.TB
	c *websocket.Conn
	// cs is the TLS connection's state over wss, nil over ws.
	cs *tls.ConnectionState
}

func dialWS(t testing.TB, s *xmpptest.Server, subprotocols ...string) (*wsClient, *http.Response, error) {
	return dial(t, "ws://"+s.HTTPAddr.String()+"/xmpp-websocket", nil, subprotocols...)
}

// dialWSS connects to s's HTTPS listener by the domain's name, trusting
// its certificate for that name only.
func dialWSS(t *testing.T, s *xmpptest.Server) *wsClient {
	w, _, err := dial(t, "wss://"+xmpptest.HTTPSHost(t, s)+"/xmpp-websocket", xmpptest.HTTPSClient(t, s), "xmpp")
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	return w
}

func dial(t testing.TB, url string, web *http.Client, subprotocols ...string) (*wsClient, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.ReadTimeout)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: web, Subprotocols: subprotocols})
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c, cs: resp.TLS}, resp, nil
}

func (w *wsClient) send(xml string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.ReadTimeout)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(xml)); err != nil {
		w.t.Fatalf("websocket write: %v", err)
	}
}

func (w *wsClient) next() *xmlstream.Element {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.ReadTimeout)
	defer cancel()
	_, data, err := w.c.Read(ctx)
	if err != nil {
		w.t.Fatalf("websocket read: %v", err)
	}
	el, err := xmlstream.ParseElement(data, xmlstream.Limits{MaxStanzaBytes: 1 << 20, MaxDepth: 64})
	if err != nil {
		w.t.Fatalf("server sent %q: %v", data, err)
	}
	return el
}

func (w *wsClient) open() *xmlstream.Element {
	w.t.Helper()
	w.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>")
	if o := w.next(); o.Name.Local != "open" || o.Attr("from") != "localhost" || o.Attr("version") != "1.0" {
		w.t.Fatalf("got %s, want <open/>", o)
	}
	f := w.next()
	if f.Name.Local != "features" || f.Name.Space != "http://etherx.jabber.org/streams" {
		w.t.Fatalf("got %s, want stream features", f)
	}
	return f
}

// login authenticates with SCRAM-SHA-256 and binds resource.
func (w *wsClient) login(user, password, resource string) {
	w.t.Helper()
	w.authenticate(user, password)
	w.send("<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource + "</resource></bind></iq>")
	if r := w.next(); r.Attr("type") != "result" {
		w.t.Fatalf("bind: %s", r)
	}
}

// authenticate opens the stream, authenticates with SCRAM-SHA-256 (over
// wss SCRAM-SHA-256-PLUS, bound to the TLS connection with tls-exporter)
// and opens the restarted stream.
func (w *wsClient) authenticate(user, password string) {
	w.t.Helper()
	w.open()
	w.scram(nsSASL, user, password, "")
	w.open()
}

// Namespaces of RFC 6120's SASL profile and of XEP-0388's (SASL2).
const (
	nsSASL  = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsSASL2 = "urn:xmpp:sasl:2"
)

// scram runs SCRAM-SHA-256 (over wss SCRAM-SHA-256-PLUS, bound to the TLS
// connection with tls-exporter) in the SASL profile ns, with extra inside
// SASL2's <authenticate/>, and returns the <success/>, having checked the
// server's signature.
func (w *wsClient) scram(ns, user, password, extra string) *xmlstream.Element {
	w.t.Helper()
	return scramExchange(w.t, w.send, w.next, w.cs, ns, user, password, extra)
}

// scramExchange runs SCRAM-SHA-256 over a client's send and next, bound
// to cs with tls-exporter (SCRAM-SHA-256-PLUS) unless cs is nil.
func scramExchange(t testing.TB, send func(string), next func() *xmlstream.Element, cs *tls.ConnectionState, ns, user, password, extra string) *xmlstream.Element {
	t.Helper()
	var cb *scram.ChannelBinding
	if cs != nil {
		b, err := scram.NewTLSExporterBinding(cs)
		if err != nil {
			t.Fatal(err)
		}
		cb = &b
	}
	return scramBound(t, send, next, cb, ns, user, password, extra)
}

// scramBound is scramExchange with the channel binding cb
// (SCRAM-SHA-256-PLUS), or none when nil.
func scramBound(t testing.TB, send func(string), next func() *xmlstream.Element, cb *scram.ChannelBinding, ns, user, password, extra string) *xmlstream.Element {
	t.Helper()
	client, _ := scram.SHA256.NewClient(user, password, "")
	conv, mechanism := client.NewConversation(), "SCRAM-SHA-256"
	if cb != nil {
		conv, mechanism = client.NewConversationWithChannelBinding(*cb), "SCRAM-SHA-256-PLUS"
	}
	first, _ := conv.Step("")
	initial := base64.StdEncoding.EncodeToString([]byte(first))
	if ns == nsSASL2 {
		send("<authenticate xmlns='" + ns + "' mechanism='" + mechanism + "'><initial-response>" + initial + "</initial-response>" + extra + "</authenticate>")
	} else {
		send("<auth xmlns='" + ns + "' mechanism='" + mechanism + "'>" + initial + "</auth>")
	}
	for {
		el := next()
		if el.Name.Local == "success" {
			final := el.Text()
			if ad := el.Child(ns, "additional-data"); ad != nil {
				final = ad.Text()
			}
			data, _ := base64.StdEncoding.DecodeString(final)
			if _, err := conv.Step(string(data)); err != nil {
				t.Fatalf("server signature: %v", err)
			}
			return el
		}
		if el.Name.Local != "challenge" {
			t.Fatalf("SASL: got %s", el)
		}
		data, _ := base64.StdEncoding.DecodeString(el.Text())
		resp, err := conv.Step(string(data))
		if err != nil {
			t.Fatal(err)
		}
		send("<response xmlns='" + ns + "'>" + base64.StdEncoding.EncodeToString([]byte(resp)) + "</response>")
	}
}

// TestWebSocketChatWithTCPClient chats over ws on the HTTP listener and
// over wss on the HTTPS one, where the login is bound to the TLS
// connection (SCRAM-SHA-256-PLUS).
func TestWebSocketChatWithTCPClient(t *testing.T) {
	t.Run("ws", func(t *testing.T) {
		s := xmpptest.Start(t)
		w, _, err := dialWS(t, s, "xmpp")
		if err != nil {
			t.Fatal(err)
		}
		chatWithTCPClient(t, s, w)
	})
	t.Run("wss", func(t *testing.T) {
		s := xmpptest.Start(t)
		chatWithTCPClient(t, s, dialWSS(t, s))
	})
}

func chatWithTCPClient(t *testing.T, s *xmpptest.Server, w *wsClient) {
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Online()

	if w.c.Subprotocol() != "xmpp" {
		t.Fatalf("subprotocol %q", w.c.Subprotocol())
	}
	w.login("juliet", "secret", "browser")
	w.send("<message xmlns='jabber:client' to='romeo@localhost' type='chat' id='w1'><body>from the browser</body></message>")
	m := romeo.NextNamed("message")
	if m.Attr("from") != "juliet@localhost/browser" || m.Child("jabber:client", "body").Text() != "from the browser" {
		t.Fatalf("romeo got %s", m)
	}
	romeo.Send("<message to='juliet@localhost/browser' type='chat'><body>from TCP</body></message>")
	got := w.next()
	if got.Name.Space != "jabber:client" || got.Child("jabber:client", "body").Text() != "from TCP" {
		t.Fatalf("browser got %s", got)
	}
	// RFC 7395 §3.6: <close/> is answered with <close/>.
	w.send("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")
	if c := w.next(); c.Name.Local != "close" {
		t.Fatalf("got %s, want <close/>", c)
	}
}

func TestWebSocketBadInput(t *testing.T) {
	s := xmpptest.Start(t)
	tests := []struct{ name, send, condition string }{
		{"stream header instead of open", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>", "not-well-formed"},
		{"unknown host", "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='nowhere.example' version='1.0'/>", "host-unknown"},
		{"doctype", "<!DOCTYPE x><open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>", "restricted-xml"},
		{"two elements in one message", "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/><x/>", "not-well-formed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _, err := dialWS(t, s, "xmpp")
			if err != nil {
				t.Fatal(err)
			}
			w.send(tt.send)
			if o := w.next(); o.Name.Local != "open" {
				t.Fatalf("got %s, want <open/> before the error", o)
			}
			e := w.next()
			if e.Name.Local != "error" || e.Child("urn:ietf:params:xml:ns:xmpp-streams", tt.condition) == nil {
				t.Fatalf("got %s, want stream error %s", e, tt.condition)
			}
			if c := w.next(); c.Name.Local != "close" {
				t.Fatalf("got %s, want <close/>", c)
			}
		})
	}
}

func TestWebSocketNeedsXMPPSubprotocol(t *testing.T) {
	s := xmpptest.Start(t)
	w, _, err := dialWS(t, s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.ReadTimeout)
	defer cancel()
	_, _, err = w.c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusProtocolError {
		t.Fatalf("read = %v, want close with protocol error", err)
	}
}

// TestHostMeta reads host-meta over http, which announces ws and BOSH
// over http, and over https, which announces wss and BOSH over https.
func TestHostMeta(t *testing.T) {
	s := xmpptest.Start(t)
	t.Run("http", func(t *testing.T) {
		hostMeta(t, &http.Client{Timeout: xmpptest.ReadTimeout}, "http://"+s.HTTPAddr.String(), "ws://"+s.HTTPAddr.String()+"/xmpp-websocket", "http://"+s.HTTPAddr.String()+"/http-bind")
	})
	t.Run("https", func(t *testing.T) {
		hostMeta(t, xmpptest.HTTPSClient(t, s), "https://"+xmpptest.HTTPSHost(t, s), "wss://"+xmpptest.HTTPSHost(t, s)+"/xmpp-websocket", "https://"+xmpptest.HTTPSHost(t, s)+"/http-bind")
	})
}

// TestHostMetaForgedHost asks for host-meta with Host headers that name
// neither a served domain nor the listener: the URLs announced name the
// first domain, never the forged host or port, which a cache in between
// would otherwise hand to everyone.
func TestHostMetaForgedHost(t *testing.T) {
	s := xmpptest.Start(t)
	_, port, _ := net.SplitHostPort(s.HTTPAddr.String())
	tests := []struct{ host, want string }{
		{"evil.example", "ws://localhost:" + port + "/xmpp-websocket"},
		{"evil.example:" + port, "ws://localhost:" + port + "/xmpp-websocket"},
		{"localhost:1", "ws://localhost:" + port + "/xmpp-websocket"},
		// Served domains and the listener's host are taken as they are.
		{"example.test:" + port, "ws://example.test:" + port + "/xmpp-websocket"},
		{"EXAMPLE.test", "ws://EXAMPLE.test/xmpp-websocket"},
		{"127.0.0.1:" + port, "ws://127.0.0.1:" + port + "/xmpp-websocket"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			req, err := http.NewRequest("GET", "http://"+s.HTTPAddr.String()+"/.well-known/host-meta.json", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tt.host
			resp, err := (&http.Client{Timeout: xmpptest.ReadTimeout}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var doc struct {
				Links []struct{ Rel, Href string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || len(doc.Links) == 0 || doc.Links[0].Href != tt.want {
				t.Fatalf("host-meta.json links %+v (%v), want %s", doc.Links, err, tt.want)
			}
		})
	}
}

func hostMeta(t *testing.T, client *http.Client, base, want, wantBOSH string) {
	get := func(path string) (string, http.Header) {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		return string(body), resp.Header
	}
	body, h := get("/.well-known/host-meta")
	if !strings.Contains(body, "rel='urn:xmpp:alt-connections:websocket'") || !strings.Contains(body, "href='"+want+"'") ||
		!strings.Contains(body, "rel='urn:xmpp:alt-connections:xbosh'") || !strings.Contains(body, "href='"+wantBOSH+"'") {
		t.Errorf("host-meta = %s", body)
	}
	if h.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("host-meta without CORS header")
	}
	body, _ = get("/.well-known/host-meta.json")
	var doc struct {
		Links []struct{ Rel, Href string }
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc.Links) != 2 || doc.Links[0].Href != want || doc.Links[1].Href != wantBOSH {
		t.Errorf("host-meta.json = %s (%v), want %s and %s", body, err, want, wantBOSH)
	}
}

// XEP-0198 works over WebSocket as over TCP (RFC 7395 carries the same
// nonzas), including resumption on a new connection.
func TestWebSocketStreamManagement(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")

	w, _, err := dialWS(t, s, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w.login("juliet", "secret", "browser")
	w.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	enabled := w.next()
	if enabled.Name.Local != "enabled" || enabled.Attr("resume") != "true" || enabled.Attr("id") == "" {
		t.Fatalf("got %s, want <enabled resume='true'/>", enabled)
	}
	romeo.Send("<message to='juliet@localhost/browser' type='chat'><body>first</body></message>")
	if m := w.next(); m.Child("jabber:client", "body").Text() != "first" {
		t.Fatalf("got %s", m)
	}
	w.send("<r xmlns='urn:xmpp:sm:3'/>")
	for {
		// The server may ask for our count too; the answer to ours says
		// how many of our stanzas it handled: none so far.
		el := w.next()
		if el.Name.Local == "a" {
			if el.Attr("h") != "0" {
				t.Fatalf("got %s, want h='0'", el)
			}
			break
		}
	}
	// The browser vanishes without acknowledging "first"; a message sent
	// meanwhile waits, and both come back on resumption.
	w.c.CloseNow()
	romeo.Send("<message to='juliet@localhost/browser' type='chat'><body>second</body></message>")
	romeo.Ping()

	w2, _, err := dialWS(t, s, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w2.authenticate("juliet", "secret")
	w2.send("<resume xmlns='urn:xmpp:sm:3' previd='" + enabled.Attr("id") + "' h='0'/>")
	expectResumed(t, w2.next, "first", "second")
}

// expectResumed reads <resumed/> from next, then messages until it has
// one for each of bodies, which they must say in that order.
func expectResumed(t *testing.T, next func() *xmlstream.Element, bodies ...string) {
	t.Helper()
	if r := next(); r.Name.Local != "resumed" {
		t.Fatalf("got %s, want <resumed/>", r)
	}
	var got []string
	for len(got) < len(bodies) {
		el := next()
		if b := el.Child("jabber:client", "body"); el.Name.Local == "message" && b != nil {
			got = append(got, b.Text())
		}
	}
	if !slices.Equal(got, bodies) {
		t.Fatalf("after resumption got %q, want %q", got, bodies)
	}
}

// A WebSocket client, too, may send 16 KiB per element before it has
// authenticated and the configured limit after it.
func TestWebSocketStanzaLimitBeforeAuth(t *testing.T) {
	s := xmpptest.Start(t) // limits.max_stanza_bytes: 256 KiB
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	big := "<message xmlns='jabber:client' to='romeo@localhost/orchard' type='chat'><body>" + strings.Repeat("x", 20<<10) + "</body></message>"

	w, _, err := dialWS(t, s, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	limits := w.open().Child("urn:xmpp:stream-limits:0", "limits")
	if limits == nil || limits.Child("urn:xmpp:stream-limits:0", "max-bytes").Text() != "16384" {
		t.Fatalf("features announce %s; want max-bytes 16384", limits)
	}
	w.send(big)
	if e := w.next(); e.Name.Local != "error" || e.Child("urn:ietf:params:xml:ns:xmpp-streams", "policy-violation") == nil {
		t.Fatalf("got %s, want stream error policy-violation", e)
	}

	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	juliet, _, err := dialWS(t, s, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	juliet.login("juliet", "secret", "browser")
	juliet.send(big)
	if got := romeo.NextNamed("message").Child("jabber:client", "body").Text(); len(got) != 20<<10 {
		t.Fatalf("romeo got a body of %d bytes; want %d", len(got), 20<<10)
	}
}

// A WebSocket message far larger than the stream accepts, beyond what
// the WebSocket library is allowed to read, still ends the stream with
// policy-violation and <close/> (RFC 7395 §3.6, RFC 6120 §4.9.3.13),
// rather than the library closing the connection with status 1009.
func TestWebSocketMessageOverReadLimit(t *testing.T) {
	s := xmpptest.Start(t)
	w, _, err := dialWS(t, s, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w.open()
	// 16 KiB per element before authentication: 100 KiB is over twice that.
	huge := "<message xmlns='jabber:client' to='romeo@localhost'><body>" + strings.Repeat("x", 100<<10) + "</body></message>"
	sent := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), xmpptest.ReadTimeout)
		defer cancel()
		sent <- w.c.Write(ctx, websocket.MessageText, []byte(huge))
	}()
	if e := w.next(); e.Name.Local != "error" || e.Child("urn:ietf:params:xml:ns:xmpp-streams", "policy-violation") == nil {
		t.Fatalf("got %s, want stream error policy-violation", e)
	}
	if c := w.next(); c.Name.Local != "close" {
		t.Fatalf("got %s, want <close/>", c)
	}
	<-sent
}

// TestWebSocketServerEndPointAfterRenewal renews the server's certificate
// between a wss connection's TLS handshake and its login: the
// tls-server-end-point channel binding (RFC 5929 §4.1) is to the
// certificate that connection presented.
func TestWebSocketServerEndPointAfterRenewal(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	w := dialWSS(t, s)
	s.RenewCertificates(t)
	w.open()
	cb, err := scram.NewTLSServerEndpointBinding(w.cs)
	if err != nil {
		t.Fatal(err)
	}
	scramBound(t, w.send, w.next, &cb, nsSASL, "juliet", "secret", "")
}

// TestWebSocketServerEndPointAfterResumption renews the server's
// certificate between a wss connection's full TLS handshake and one that
// resumes its session: the login over the resumed session is bound to
// the certificate of the full handshake (RFC 5929 §4.1), which the
// client hashes. The client trusts that certificate only, so a full
// handshake could not take the resumption's place unseen.
func TestWebSocketServerEndPointAfterResumption(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	url := "wss://" + xmpptest.HTTPSHost(t, s) + "/xmpp-websocket"
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			web := xmpptest.HTTPSClient(t, s)
			cfg := web.Transport.(*http.Transport).TLSClientConfig
			cfg.MinVersion, cfg.MaxVersion = version, version
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			// Reading the upgrade's response, the client takes the
			// ticket a TLS 1.3 server sends after its handshake.
			first, _, err := dial(t, url, web, "xmpp")
			if err != nil {
				t.Fatalf("wss: %v", err)
			}
			first.c.CloseNow()
			s.RenewCertificates(t)
			w, _, err := dial(t, url, web, "xmpp")
			if err != nil {
				t.Fatalf("wss after the renewal: %v", err)
			}
			if !w.cs.DidResume {
				t.Fatal("the TLS session was not resumed")
			}
			w.open()
			cb, err := scram.NewTLSServerEndpointBinding(w.cs)
			if err != nil {
				t.Fatal(err)
			}
			scramBound(t, w.send, w.next, &cb, nsSASL, "juliet", "secret", "")
		})
	}
}

// A client that speaks plain HTTP or garbage to the HTTPS listener gets
// an answer or a closed connection, and others are served as before.
func TestHTTPSBadInput(t *testing.T) {
	s := xmpptest.Start(t)
	for _, send := range []string{"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "\x16\x03\x01\x00\x05hello", "\x00\xff\x00\xff\x00 not a TLS record"} {
		c, err := net.DialTimeout("tcp", s.HTTPSAddr.String(), xmpptest.ReadTimeout)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(xmpptest.ReadTimeout))
		c.Write([]byte(send))
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("after %q: %v, want the connection closed", send, err)
		}
		c.Close()
	}
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	dialWSS(t, s).login("juliet", "secret", "browser")
}

// TestWebSocketSASL2Resume: over WebSocket, where a message carries one
// element, SASL2 binds with Bind 2 and stream management, and a new
// connection resumes inside <authenticate/>: <success/> and the features
// come as messages of their own, then what was not acknowledged.
func TestWebSocketSASL2Resume(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")

	w, _, err := dialWS(t, s, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w.open()
	success := w.scram(nsSASL2, "juliet", "secret",
		"<bind xmlns='urn:xmpp:bind:0'><tag>web</tag><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind>")
	full := success.Child(nsSASL2, "authorization-identifier").Text()
	previd := success.Child("urn:xmpp:bind:0", "bound").Child("urn:xmpp:sm:3", "enabled").Attr("id")
	if f := w.next(); f.Name.Local != "features" {
		t.Fatalf("got %s, want the features", f)
	}
	romeo.Send("<message to='" + full + "' type='chat' id='m1'><body>first</body></message>")
	if m := w.next(); m.Attr("id") != "m1" {
		t.Fatalf("got %s", m)
	}
	w.c.CloseNow() // "first" is never acknowledged

	w2, _, err := dialWS(t, s, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w2.open()
	success = w2.scram(nsSASL2, "juliet", "secret", "<resume xmlns='urn:xmpp:sm:3' previd='"+previd+"' h='0'/>")
	if success.Child("urn:xmpp:sm:3", "resumed") == nil || success.Child(nsSASL2, "authorization-identifier").Text() != full {
		t.Fatalf("got %s, want <resumed/> for %s", success, full)
	}
	if f := w2.next(); f.Name.Local != "features" {
		t.Fatalf("got %s, want the features", f)
	}
	if m := w2.next(); m.Attr("id") != "m1" {
		t.Fatalf("got %s, want the unacknowledged message again", m)
	}
}

// TestWebSocketTimeouts: a WebSocket stream that does not finish its
// negotiation in time, or that is negotiating when the server stops, ends
// as a TCP one does, with the stream error and <close/>, not with a
// dropped connection.
func TestWebSocketTimeouts(t *testing.T) {
	expectEnd := func(w *wsClient, condition string) {
		t.Helper()
		if e := w.next(); e.Name.Local != "error" || e.Child("urn:ietf:params:xml:ns:xmpp-streams", condition) == nil {
			t.Fatalf("got %s, want a %s stream error", e, condition)
		}
		if c := w.next(); c.Name.Local != "close" {
			t.Fatalf("got %s, want <close/>", c)
		}
	}
	s := xmpptest.Start(t, func(c *config.Config) { c.Limits.NegotiationSeconds = 1 })
	w, _, err := dialWS(t, s, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w.open()
	expectEnd(w, "connection-timeout")

	s = xmpptest.Start(t)
	w, _, err = dialWS(t, s, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w.open()
	go s.Shutdown(context.Background())
	expectEnd(w, "system-shutdown")
}

// TestForwardedClients: behind a reverse proxy on this machine (trusted
// by default), each WebSocket client counts by the address the proxy's
// X-Forwarded-For gives: here for the registration limit, one account an
// hour per address. An untrusted peer's header is not believed.
func TestForwardedClients(t *testing.T) {
	register := func(s *xmpptest.Server, forwardedFor, user string) *xmlstream.Element {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), xmpptest.ReadTimeout)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "ws://"+s.HTTPAddr.String()+"/xmpp-websocket", &websocket.DialOptions{
			Subprotocols: []string{"xmpp"}, HTTPHeader: http.Header{"X-Forwarded-For": {forwardedFor}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		w := &wsClient{t: t, c: c}
		w.open()
		w.send("<iq xmlns='jabber:client' type='set' id='r'><query xmlns='jabber:iq:register'><username>" + user + "</username><password>a long enough password</password></query></iq>")
		return w.next()
	}
	limited := func(c *config.Config) {
		c.Registration.Enabled = true
		c.Registration.PerAddressPerHour = 1
	}
	s := xmpptest.Start(t, limited)
	if r := register(s, "198.51.100.7", "alice"); r.Attr("type") != "result" {
		t.Fatalf("alice's registration: %s", r)
	}
	if r := register(s, "203.0.113.9, 198.51.100.8", "bob"); r.Attr("type") != "result" {
		t.Fatalf("bob's registration, from another client: %s", r)
	}
	xmpptest.ExpectError(t, register(s, "198.51.100.7", "carol"), "resource-constraint")

	s = xmpptest.Start(t, limited, func(c *config.Config) { c.HTTP.TrustedProxies = nil })
	if r := register(s, "198.51.100.7", "alice"); r.Attr("type") != "result" {
		t.Fatalf("alice's registration: %s", r)
	}
	xmpptest.ExpectError(t, register(s, "198.51.100.8", "bob"), "resource-constraint")
}

// TestWebSocketShutdownEndsSessions stops a server with clients bound
// over WebSocket: each gets system-shutdown and <close/>, and Shutdown
// returns once their sessions ended.
func TestWebSocketShutdownEndsSessions(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	var clients []*wsClient
	for i := range 8 {
		w, _, err := dialWS(t, s, "xmpp")
		if err != nil {
			t.Fatal(err)
		}
		w.login("juliet", "secret", fmt.Sprintf("web%d", i))
		clients = append(clients, w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(ctx) }()
	for _, w := range clients {
		if e := w.next(); e.Name.Local != "error" || e.Child("urn:ietf:params:xml:ns:xmpp-streams", "system-shutdown") == nil {
			t.Fatalf("got %s, want the stream error system-shutdown", e)
		}
		if c := w.next(); c.Name.Local != "close" {
			t.Fatalf("got %s, want <close/>", c)
		}
		w.c.CloseRead(context.Background())
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v, want the WebSocket sessions ended", err)
	}
}

// RFC 7395 §3.3.2 and RFC 6120 §4.7.2: the server's <open/> is addressed
// to the bare JID of the client's 'from'.
func TestWebSocketOpenTo(t *testing.T) {
	s := xmpptest.Start(t)
	w, _, err := dialWS(t, s, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' from='juliet@localhost/balcony' version='1.0'/>")
	if o := w.next(); o.Name.Local != "open" || o.Attr("to") != "juliet@localhost" {
		t.Fatalf("got %s, want <open/> to juliet@localhost", o)
	}
}
