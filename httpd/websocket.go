package httpd

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"xmppd/xmlstream"
)

// NSFraming is the namespace of RFC 7395 framing elements.
const NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// wsTransport is a client stream over WebSocket (RFC 7395): every message
// is one complete element, and <open/> and <close/> stand for the stream
// header and its end.
type wsTransport struct {
	c       *websocket.Conn
	remote  string
	secure  bool
	cs      *tls.ConnectionState
	limits  xmlstream.Limits
	timeout time.Duration

	mu       sync.Mutex
	readCtx  context.Context
	cancel   context.CancelFunc
	deadline *time.Timer

	readHook func(n int) // SetReadHook's; the reader's own
}

func newWSTransport(c *websocket.Conn, r *http.Request, secure bool, lim xmlstream.Limits, writeTimeout time.Duration) *wsTransport {
	t := &wsTransport{c: c, remote: r.RemoteAddr, secure: secure || r.TLS != nil || isLoopback(r.RemoteAddr), cs: r.TLS, limits: lim, timeout: writeTimeout}
	t.readCtx, t.cancel = context.WithCancel(context.Background())
	t.SetMaxStanzaBytes(lim.MaxStanzaBytes)
	return t
}

func (t *wsTransport) SetMaxStanzaBytes(n int) {
	t.limits.MaxStanzaBytes = n
	// Twice the stanza limit, so that ParseElement reports an oversized
	// stanza as policy-violation rather than the WebSocket library
	// closing the connection, unless it is far over the limit.
	t.c.SetReadLimit(2*int64(n) + 4096)
}

// isLoopback reports whether addr is on this machine: such a connection
// never crosses a network, and it is how a local TLS-terminating proxy
// connects.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (t *wsTransport) read() (*xmlstream.Element, error) {
	t.mu.Lock()
	ctx := t.readCtx
	t.mu.Unlock()
	typ, data, err := t.c.Read(ctx)
	if err != nil {
		if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
			return nil, &xmlstream.Error{Condition: "policy-violation", Text: "the message is too large"}
		}
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, &xmlstream.Error{Condition: "bad-format", Text: "XMPP over WebSocket uses text messages"}
	}
	if t.readHook != nil {
		t.readHook(len(data))
	}
	return xmlstream.ParseElement(data, t.limits)
}

func (t *wsTransport) SetReadHook(f func(n int)) { t.readHook = f }

func (t *wsTransport) ReadHeader() (xmlstream.Header, error) {
	el, err := t.read()
	if err != nil {
		return xmlstream.Header{}, err
	}
	h := xmlstream.Header{Name: el.Name, DefaultNS: el.Name.Space, To: el.Attr("to"), From: el.Attr("from"), Version: el.Attr("version"), Lang: el.Lang()}
	if el.Name.Space != NSFraming || el.Name.Local != "open" {
		return h, &xmlstream.Error{Condition: "invalid-namespace", Text: "a WebSocket stream opens with <open xmlns='" + NSFraming + "'/>"}
	}
	return h, nil
}

func (t *wsTransport) ReadElement() (*xmlstream.Element, error) {
	el, err := t.read()
	if err != nil {
		return nil, err
	}
	if el.Name.Space == NSFraming {
		if el.Name.Local == "close" {
			return nil, xmlstream.ErrStreamEnd
		}
		return nil, &xmlstream.Error{Condition: "bad-format", Text: "unexpected <" + el.Name.Local + "/> framing element"}
	}
	return el, nil
}

func (t *wsTransport) WriteHeader(id, from, lang string, then ...[]byte) error {
	open := xmlstream.NewElement(NSFraming, "open", "id", id, "from", from, "version", "1.0")
	open.SetAttrNS("xml", "lang", lang)
	return t.Write(append([][]byte{open.Append(nil, "")}, then...)...)
}

func (t *wsTransport) Write(frames ...[]byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	for _, f := range frames {
		if err := t.c.Write(ctx, websocket.MessageText, f); err != nil {
			return err
		}
	}
	return nil
}

func (t *wsTransport) CloseFrame() []byte { return []byte("<close xmlns='" + NSFraming + "'/>") }

func (t *wsTransport) Namespace() string { return "" }

func (t *wsTransport) StreamPrefix() bool { return false }

func (t *wsTransport) CanStartTLS() bool { return false }

func (t *wsTransport) StartTLS(*tls.Config) error {
	return errors.New("websocket: STARTTLS is not part of RFC 7395")
}

func (t *wsTransport) Restart() {}

func (t *wsTransport) ConnectionState() *tls.ConnectionState { return t.cs }

func (t *wsTransport) Secure() bool { return t.secure }

func (t *wsTransport) RemoteAddr() string { return t.remote }

// SetReadDeadline bounds reads. The WebSocket library has no deadlines,
// only contexts: when the deadline passes the read context is cancelled,
// which also closes the connection.
func (t *wsTransport) SetReadDeadline(d time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.deadline != nil {
		t.deadline.Stop()
		t.deadline = nil
	}
	if d.IsZero() {
		return nil
	}
	cancel := t.cancel
	t.deadline = time.AfterFunc(time.Until(d), cancel)
	return nil
}

func (t *wsTransport) Close() error {
	t.cancel()
	return t.c.Close(websocket.StatusNormalClosure, "")
}
