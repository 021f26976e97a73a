package httpd_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

const nsHTTPBind = "http://jabber.org/protocol/httpbind"

// boshClient is a minimal XEP-0206 client. Like a browser's, it keeps a
// request waiting at the server whenever it waits for something, so that
// the server can answer at once.
type boshClient struct {
	t    testing.TB
	url  string
	web  *http.Client
	sid  string
	wait int    // asked for at creation, in seconds
	ver  string // the BOSH version announced at creation; none if empty

	mu      sync.Mutex
	rid     int64
	waiting int                     // requests sent whose answers are not read yet
	err     error                   // why the last request that failed did
	bodies  chan *xmlstream.Element // the answers, as they come; nil for a failed request
	queue   []*xmlstream.Element    // elements of answers not yet read
}

func newBOSH(t testing.TB, s *xmpptest.Server) *boshClient {
	return &boshClient{t: t, url: "http://" + s.HTTPAddr.String() + "/http-bind",
		web: &http.Client{Timeout: 2 * xmpptest.ReadTimeout}, wait: 60, ver: "1.6", rid: 1000, bodies: make(chan *xmlstream.Element, 16)}
}

// post sends one request and returns the answer's status and body.
func (c *boshClient) post(body string) (int, *xmlstream.Element, error) {
	resp, err := c.web.Post(c.url, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	el, err := xmlstream.ParseElement(data, xmlstream.Limits{MaxStanzaBytes: 4 << 20, MaxDepth: 64})
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("answer %q: %w", data, err)
	}
	if el.Name.Space != nsHTTPBind || el.Name.Local != "body" {
		return resp.StatusCode, nil, fmt.Errorf("answer %s is not a BOSH body", el)
	}
	return resp.StatusCode, el, nil
}

// create starts a session for to and returns the answer.
func (c *boshClient) create(to string) *xmlstream.Element {
	c.t.Helper()
	c.rid++
	ver := ""
	if c.ver != "" {
		ver = " ver='" + c.ver + "'"
	}
	status, b, err := c.post(fmt.Sprintf("<body xmlns='%s' rid='%d' to='%s' wait='%d' hold='1'%s xml:lang='en' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>", nsHTTPBind, c.rid, to, c.wait, ver))
	if err != nil || status != http.StatusOK {
		c.t.Fatalf("session creation: status %d, %v", status, err)
	}
	c.sid = b.Attr("sid")
	return b
}

// body is a request of the session with attrs (each with its leading
// space) and payload.
func (c *boshClient) body(rid int64, attrs, payload string) string {
	return fmt.Sprintf("<body xmlns='%s' sid='%s' rid='%d'%s>%s</body>", nsHTTPBind, c.sid, rid, attrs, payload)
}

// send sends payload in the session's next request without waiting for
// the answer, which goes to c.bodies.
func (c *boshClient) send(payload string, attrs ...string) {
	c.mu.Lock()
	c.rid++
	body := c.body(c.rid, strings.Join(attrs, ""), payload)
	c.waiting++
	c.mu.Unlock()
	go func() {
		// No logging here: the request may fail after the test ended.
		_, b, err := c.post(body)
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
		}
		c.bodies <- b
	}()
}

// nextBody returns the next answer, leaving a request waiting at the
// server first if none is.
func (c *boshClient) nextBody() *xmlstream.Element {
	c.t.Helper()
	c.mu.Lock()
	idle := c.waiting == 0
	c.mu.Unlock()
	if idle {
		c.send("")
	}
	select {
	case b := <-c.bodies:
		// Counted as waiting until its answer is read: else nextBody
		// could leave one more request at the server, which the next
		// would send back empty.
		c.mu.Lock()
		c.waiting--
		c.mu.Unlock()
		if b == nil {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.t.Fatalf("a BOSH request failed: %v", c.err)
		}
		return b
	case <-time.After(xmpptest.ReadTimeout):
		c.t.Fatal("no answer from the BOSH endpoint")
		return nil
	}
}

// next returns the next element the server sent.
func (c *boshClient) next() *xmlstream.Element {
	c.t.Helper()
	for len(c.queue) == 0 {
		b := c.nextBody()
		if b.Attr("type") == "terminate" {
			c.t.Fatalf("the session ended: %s", b)
		}
		c.queue = b.ChildElements()
	}
	el := c.queue[0]
	c.queue = c.queue[1:]
	return el
}

// terminated reads answers until the one that ends the session.
func (c *boshClient) terminated() *xmlstream.Element {
	c.t.Helper()
	for {
		b := c.nextBody()
		if b.Attr("type") == "terminate" {
			return b
		}
		if len(b.ChildElements()) > 0 {
			c.t.Fatalf("got %s, want the session's end", b)
		}
	}
}

// login authenticates (authenticate) and binds resource. It returns the
// creation answer.
func (c *boshClient) login(user, password, resource string) *xmlstream.Element {
	c.t.Helper()
	created := c.authenticate(user, password)
	c.send("<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource + "</resource></bind></iq>")
	if r := c.next(); r.Attr("type") != "result" {
		c.t.Fatalf("bind: %s", r)
	}
	return created
}

// authenticate creates a session, authenticates with SCRAM-SHA-256 and
// restarts the stream. It returns the creation answer.
func (c *boshClient) authenticate(user, password string) *xmlstream.Element {
	c.t.Helper()
	created := c.create(xmpptest.Domain)
	if f := created.FirstChildElement(); f == nil || f.Name.Local != "features" {
		c.t.Fatalf("creation answer %s, want stream features in it", created)
	}
	scramExchange(c.t, func(x string) { c.send(x) }, c.next, nil, nsSASL, user, password, "")
	c.send("", " xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh' to='localhost'")
	if f := c.next(); f.Name.Local != "features" || f.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind") == nil {
		c.t.Fatalf("after the restart got %s, want features with bind", f)
	}
	return created
}

// julietOverBOSH starts a server where romeo is logged in over TCP and
// juliet over BOSH, as juliet@localhost/web.
func julietOverBOSH(t *testing.T) (*xmpptest.Server, *xmpptest.Client, *boshClient) {
	t.Helper()
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	c := newBOSH(t, s)
	c.login("juliet", "secret", "web")
	return s, romeo, c
}

// TestBOSHChatWithTCPClient logs in over BOSH, chats with a TCP client
// both ways (a stanza without a namespace included, as XEP-0206 §2 allows)
// and ends the session.
func TestBOSHChatWithTCPClient(t *testing.T) {
	s := xmpptest.Start(t)
	boshChat(t, s)
}

// TestBOSHWaitBounded: a client's wait beyond the server's is the
// server's, also one too large for a Duration; a shorter one is the
// client's, also 0, which a polling client asks for (XEP-0124 §7.2:
// never longer than the client's).
func TestBOSHWaitBounded(t *testing.T) {
	s := xmpptest.Start(t)
	for asked, want := range map[int]string{0: "0", 30: "30", 600: "60", 10000000000: "60"} {
		c := newBOSH(t, s)
		c.wait = asked
		if got := c.create(xmpptest.Domain).Attr("wait"); got != want {
			t.Errorf("asked to wait %d s: wait %s, want %s", asked, got, want)
		}
	}
}

func boshChat(t *testing.T, s *xmpptest.Server) {
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Online()

	c := newBOSH(t, s)
	created := c.login("juliet", "secret", "web")
	// The client asks for version 1.6: the lower of its and the server's.
	want := map[string]string{"wait": "60", "hold": "1", "requests": "2", "ver": "1.6", "from": "localhost", "secure": "true"}
	for attr, v := range want {
		if got := created.Attr(attr); got != v {
			t.Errorf("creation answer's %s = %q, want %q", attr, got, v)
		}
	}
	if created.Attr("sid") == "" || created.Attr("authid") == "" || created.AttrNS("urn:xmpp:xbosh", "version") != "1.0" {
		t.Errorf("creation answer %s lacks sid, authid or xmpp:version", created)
	}

	c.send("<message xmlns='jabber:client' to='romeo@localhost' type='chat' id='b1'><body>over BOSH</body></message>")
	c.send("<message to='romeo@localhost' type='chat' id='b2'><body>without a namespace</body></message>")
	for _, body := range []string{"over BOSH", "without a namespace"} {
		m := romeo.NextNamed("message")
		if m.Attr("from") != "juliet@localhost/web" || m.Child("jabber:client", "body").Text() != body {
			t.Fatalf("romeo got %s, want %q from juliet", m, body)
		}
	}
	romeo.Send("<message to='juliet@localhost/web' type='chat'><body>from TCP</body></message>")
	got := c.next()
	if got.Name.Space != "jabber:client" || got.Child("jabber:client", "body").Text() != "from TCP" {
		t.Fatalf("juliet got %s", got)
	}

	// The end of the session (XEP-0124 §13), then no more of it.
	c.send("<presence xmlns='jabber:client' type='unavailable'/>", " type='terminate'")
	c.terminated()
	c.mu.Lock()
	c.rid++
	req := c.body(c.rid, "", "")
	c.mu.Unlock()
	if _, b, err := c.post(req); err != nil || b.Attr("type") != "terminate" {
		t.Fatalf("a request after the end got %s (%v), want the end", b, err)
	}
}

// TestBOSHRetransmission asks again for an answer the client did not get
// (XEP-0124 §14.3) and gets the same one; a rid beyond the window ends
// the session.
func TestBOSHRetransmission(t *testing.T) {
	_, romeo, c := julietOverBOSH(t)

	c.send("")
	romeo.Send("<message to='juliet@localhost/web' type='chat'><body>once</body></message>")
	first := c.nextBody()
	if m := first.FirstChildElement(); m == nil || m.Child("jabber:client", "body").Text() != "once" {
		t.Fatalf("got %s, want the message", first)
	}
	_, again, err := c.post(c.body(c.rid, "", ""))
	if err != nil || again.String() != first.String() {
		t.Fatalf("asked again, got %s (%v), want %s", again, err, first)
	}

	_, b, err := c.post(c.body(c.rid+10, "", ""))
	if err != nil || b.Attr("type") != "terminate" || b.Attr("condition") != "item-not-found" {
		t.Fatalf("a rid beyond the window got %s (%v), want item-not-found", b, err)
	}
}

// TestBOSHBadRIDEndsSession sends a request of a live session with a
// rid that is no number, or outside the window (XEP-0124 §14.2), or
// long past and no longer retained (§14.3): each ends the session with
// its terminal binding condition, in an HTTP 200 answer or, for a legacy
// client, the HTTP code it supersedes (§17), and a request that comes
// afterwards with the right rid learns the session is over. Another
// session carries on.
func TestBOSHBadRIDEndsSession(t *testing.T) {
	s, romeo, other := julietOverBOSH(t)
	tests := []struct {
		name, ver, attrs string
		status           int
		condition        string
	}{
		{"no rid", "1.6", "", 200, "bad-request"},
		{"rid not a number", "1.6", " rid='x'", 200, "bad-request"},
		{"rid zero", "1.6", " rid='0'", 200, "bad-request"},
		{"rid not a number, legacy", "", " rid='x'", 400, "bad-request"},
		{"rid beyond the window", "1.6", " rid='%d'", 200, "item-not-found"},
		{"rid beyond the window, legacy", "", " rid='%d'", 404, "item-not-found"},
		{"rid long past", "1.6", " rid='%d'", 200, "item-not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newBOSH(t, s)
			c.ver = tt.ver
			c.wait = 1 // a session that lived on would answer soon, empty
			c.create(xmpptest.Domain)
			attrs := tt.attrs
			switch tt.condition {
			case "item-not-found":
				if strings.Contains(tt.name, "past") {
					attrs = fmt.Sprintf(attrs, c.rid-10)
				} else {
					attrs = fmt.Sprintf(attrs, c.rid+10)
				}
			}
			status, b, err := c.post(fmt.Sprintf("<body xmlns='%s' sid='%s'%s/>", nsHTTPBind, c.sid, attrs))
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || b.Attr("type") != "terminate" || b.Attr("condition") != tt.condition {
				t.Fatalf("got %d %s, want %d with condition %s", status, b, tt.status, tt.condition)
			}
			// Whether the session is still known or already forgotten,
			// its end is all a later request gets.
			if _, b, err := c.post(c.body(c.rid+1, "", "")); err != nil || b.Attr("type") != "terminate" {
				t.Fatalf("the request with the next rid got %s (%v), want the session's end", b, err)
			}
		})
	}
	other.send("<message xmlns='jabber:client' to='romeo@localhost/orchard' type='chat'><body>still here</body></message>")
	if m := romeo.NextNamed("message"); m.Child("jabber:client", "body").Text() != "still here" {
		t.Fatalf("romeo got %s, want the message of the other session", m)
	}
}

// TestBOSHBadInput sends what a BOSH endpoint must refuse; each gets its
// error, and a session started afterwards works. A request that announces
// its BOSH version ('ver') gets a terminal binding condition in an HTTP
// 200 answer, a legacy one the HTTP error code it supersedes (XEP-0124
// §17.1, §17.2).
func TestBOSHBadInput(t *testing.T) {
	s := xmpptest.Start(t)
	c := newBOSH(t, s)
	big := "<body xmlns='" + nsHTTPBind + "' rid='1' to='localhost'%s><message><body>" + strings.Repeat("x", 300<<10) + "</body></message></body>"
	tests := []struct {
		name, body string
		status     int
		condition  string
	}{
		{"not XML", "hello", 400, "bad-request"},
		{"not a body", "<iq xmlns='jabber:client' type='get'/>", 400, "bad-request"},
		{"no rid", "<body xmlns='" + nsHTTPBind + "' to='localhost'/>", 400, "bad-request"},
		{"no rid, versioned", "<body xmlns='" + nsHTTPBind + "' to='localhost' ver='1.6'/>", 200, "bad-request"},
		{"rid not a number", "<body xmlns='" + nsHTTPBind + "' rid='x' to='localhost'/>", 400, "bad-request"},
		{"rid not a number, versioned", "<body xmlns='" + nsHTTPBind + "' rid='x' to='localhost' ver='1.11'/>", 200, "bad-request"},
		{"doctype", "<!DOCTYPE body><body xmlns='" + nsHTTPBind + "' rid='1' to='localhost'/>", 400, "bad-request"},
		{"not well-formed, versioned", "<body xmlns='" + nsHTTPBind + "' rid='1' to='localhost' ver='1.6'><message>", 200, "bad-request"},
		{"unknown session", "<body xmlns='" + nsHTTPBind + "' rid='1' sid='nope'/>", 200, "item-not-found"},
		// A client still sending after it terminated its session, a stanza
		// larger than a session's first request may be.
		{"unknown session, large", "<body xmlns='" + nsHTTPBind + "' rid='1' sid='nope'><iq xmlns='jabber:client' type='set'>" + strings.Repeat("x", 20<<10) + "</iq></body>", 200, "item-not-found"},
		{"too large", fmt.Sprintf(big, ""), 403, "policy-violation"},
		{"too large, versioned", fmt.Sprintf(big, " ver='1.6'"), 200, "policy-violation"},
		{"creation too large", "<body xmlns='" + nsHTTPBind + "' rid='1' to='localhost'>" + strings.Repeat(" ", 20<<10) + "</body>", 403, "policy-violation"},
		{"creation too large, versioned", "<body xmlns='" + nsHTTPBind + "' rid='1' to='localhost' ver='1.6'>" + strings.Repeat(" ", 20<<10) + "</body>", 200, "policy-violation"},
		{"unknown host", "<body xmlns='" + nsHTTPBind + "' rid='1' to='nowhere.example' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>", 200, "remote-stream-error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, b, err := c.post(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || b.Attr("type") != "terminate" || b.Attr("condition") != tt.condition {
				t.Fatalf("got %d %s, want %d with condition %s", status, b, tt.status, tt.condition)
			}
			if tt.condition == "remote-stream-error" {
				e := b.FirstChildElement()
				if e == nil || e.Child("urn:ietf:params:xml:ns:xmpp-streams", "host-unknown") == nil {
					t.Fatalf("got %s, want the stream error host-unknown in it", b)
				}
			}
		})
	}
	// A bad request of a session ends it, answered as its creation
	// announced.
	for _, tt := range []struct {
		ver    string
		status int
	}{{"1.6", 200}, {"", 400}} {
		t.Run("bad request of a session, ver "+tt.ver, func(t *testing.T) {
			c := newBOSH(t, s)
			c.ver = tt.ver
			c.create(xmpptest.Domain)
			status, b, err := c.post(c.body(c.rid+1, "", "<message>"))
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || b.Attr("type") != "terminate" || b.Attr("condition") != "bad-request" {
				t.Fatalf("got %d %s, want %d with condition bad-request", status, b, tt.status)
			}
		})
	}
	// A request of a session too large to read ends the session, as its
	// answer, policy-violation, says.
	t.Run("request of a session too large to read", func(t *testing.T) {
		c := newBOSH(t, s)
		c.wait = 1 // a session that lived on would answer soon, empty
		c.create(xmpptest.Domain)
		status, b, err := c.post(c.body(c.rid+1, "", "<message><body>"+strings.Repeat("x", 300<<10)+"</body></message>"))
		if err != nil {
			t.Fatal(err)
		}
		if status != 200 || b.Attr("type") != "terminate" || b.Attr("condition") != "policy-violation" {
			t.Fatalf("got %d %s, want 200 with condition policy-violation", status, b)
		}
		if _, b, err := c.post(c.body(c.rid+2, "", "")); err != nil || b.Attr("type") != "terminate" {
			t.Fatalf("the request with the next rid got %s (%v), want the session's end", b, err)
		}
	})
	t.Run("stanza too large before authentication", func(t *testing.T) {
		c := newBOSH(t, s)
		c.create(xmpptest.Domain)
		c.send("<auth xmlns='" + nsSASL + "' mechanism='PLAIN'>" + strings.Repeat("A", 20<<10) + "</auth>")
		b := c.terminated()
		if b.Attr("condition") != "remote-stream-error" || b.FirstChildElement().Child("urn:ietf:params:xml:ns:xmpp-streams", "policy-violation") == nil {
			t.Fatalf("got %s, want the stream error policy-violation", b)
		}
	})
	t.Run("methods", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, c.url, nil)
		req.Header.Set("Origin", "http://example.com")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := c.web.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
			t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
		}
		req, _ = http.NewRequest(http.MethodPut, c.url, nil)
		resp, err = c.web.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("PUT: status %d", resp.StatusCode)
		}
	})
	boshChat(t, s)
}

// TestBOSHResume resumes a stream (XEP-0198) in a new BOSH session after
// the first one's client vanished: what it had not acknowledged comes
// again, with what was sent meanwhile.
func TestBOSHResume(t *testing.T) {
	s, romeo, c := julietOverBOSH(t)
	c.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	enabled := c.next()
	if enabled.Name.Local != "enabled" || enabled.Attr("id") == "" {
		t.Fatalf("got %s, want <enabled/>", enabled)
	}
	romeo.Send("<message to='juliet@localhost/web' type='chat'><body>first</body></message>")
	if m := c.next(); m.Child("jabber:client", "body").Text() != "first" {
		t.Fatalf("got %s", m)
	}
	// The browser vanishes without acknowledging "first".
	romeo.Send("<message to='juliet@localhost/web' type='chat'><body>second</body></message>")
	romeo.Ping()

	c2 := newBOSH(t, s)
	c2.authenticate("juliet", "secret")
	c2.send("<resume xmlns='urn:xmpp:sm:3' previd='" + enabled.Attr("id") + "' h='0'/>")
	expectResumed(t, c2.next, "first", "second")
}

// TestBOSHShutdown ends a BOSH session with the system-shutdown stream
// error when the server stops, in the answer to the request it holds.
func TestBOSHShutdown(t *testing.T) {
	s, _, c := julietOverBOSH(t)
	// Two requests: the answer to the first, empty, comes when the
	// server holds the second.
	c.send("")
	c.send("")
	if b := c.nextBody(); len(b.ChildElements()) != 0 || b.Attr("type") != "" {
		t.Fatalf("got %s, want an empty answer", b)
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- s.Shutdown(ctx)
	}()
	b := c.terminated()
	if e := b.FirstChildElement(); b.Attr("condition") != "remote-stream-error" || e == nil ||
		e.Child("urn:ietf:params:xml:ns:xmpp-streams", "system-shutdown") == nil {
		t.Fatalf("got %s, want the end with the stream error system-shutdown", b)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestBOSHInactivity ends the session of a client that stops sending
// requests: its held requests are answered empty after their wait, and
// the inactivity period later the session ends.
func TestBOSHInactivity(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.HTTP.BOSHInactivitySeconds = 1 })
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Online()
	c := newBOSH(t, s)
	c.wait = 1
	c.login("juliet", "secret", "web")
	c.send("<presence xmlns='jabber:client'/>")
	c.send("<presence xmlns='jabber:client' to='romeo@localhost/orchard'/>")
	if p := romeo.NextNamed("presence"); p.Attr("from") != "juliet@localhost/web" || p.Attr("type") != "" {
		t.Fatalf("romeo got %s, want juliet's directed presence", p)
	}
	if p := romeo.NextNamed("presence"); p.Attr("from") != "juliet@localhost/web" || p.Attr("type") != "unavailable" {
		t.Fatalf("romeo got %s, want juliet's unavailable presence at the end of her session", p)
	}
}

// BenchmarkWebMessage measures a message from a TCP client to a web
// client, over WebSocket and over BOSH (where it is written into the held
// request's answer and the client leaves a request again), on loopback.
func BenchmarkWebMessage(b *testing.B) {
	s := xmpptest.Start(b)
	s.AddUser(b, "juliet", xmpptest.Domain, "secret")
	s.AddUser(b, "romeo", xmpptest.Domain, "secret")
	romeo := xmpptest.Login(b, s, "romeo", "secret", "orchard")
	ws, _, err := dialWS(b, s, "xmpp")
	if err != nil {
		b.Fatal(err)
	}
	ws.login("juliet", "secret", "websocket")
	bosh := newBOSH(b, s)
	bosh.login("juliet", "secret", "bosh")
	for _, client := range []struct {
		name string
		next func() *xmlstream.Element
	}{{"websocket", ws.next}, {"bosh", bosh.next}} {
		b.Run(client.name, func(b *testing.B) {
			for range b.N {
				romeo.Send("<message to='juliet@localhost/" + client.name + "' type='chat'><body>hi</body></message>")
				if m := client.next(); m.Name.Local != "message" {
					b.Fatalf("got %s", m)
				}
			}
		})
	}
}

// TestBOSHContentType: the responses of a session carry the Content-Type
// its creation request's 'content' attribute asked for, text/xml;
// charset=utf-8 when it asked for none (XEP-0124 §7.1), and also when it
// asked for one that is not XML, which a browser could render.
func TestBOSHContentType(t *testing.T) {
	s := xmpptest.Start(t)
	c := newBOSH(t, s)
	post := func(body string) (string, *xmlstream.Element) {
		t.Helper()
		resp, err := c.web.Post(c.url, "text/xml; charset=utf-8", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		el, err := xmlstream.ParseElement(data, xmlstream.Limits{MaxStanzaBytes: 1 << 20, MaxDepth: 64})
		if err != nil {
			t.Fatalf("answer %q: %v", data, err)
		}
		return resp.Header.Get("Content-Type"), el
	}
	for asked, want := range map[string]string{
		"": "text/xml; charset=utf-8",
		" content='application/xml; charset=utf-8'": "application/xml; charset=utf-8",
		" content='text/html'":                      "text/xml; charset=utf-8",
	} {
		got, b := post(fmt.Sprintf("<body xmlns='%s' rid='1' to='localhost' wait='60' hold='1' ver='1.6' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'%s/>", nsHTTPBind, asked))
		if got != want {
			t.Errorf("asked%s: creation answer's Content-Type %q, want %q", asked, got, want)
		}
		got, _ = post(fmt.Sprintf("<body xmlns='%s' sid='%s' rid='2' type='terminate'/>", nsHTTPBind, b.Attr("sid")))
		if got != want {
			t.Errorf("asked%s: termination answer's Content-Type %q, want %q", asked, got, want)
		}
	}
}
