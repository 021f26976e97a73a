package httpd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"xmppd/certs"
	"xmppd/xmlstream"
)

// NSFraming is the namespace of RFC 7395 framing elements.
const NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// wsTransport is a client stream over WebSocket (RFC 7395): every message
// is one complete element, and <open/> and <close/> stand for the stream
// header and its end.
type wsTransport struct {
	c      *websocket.Conn
	remote string
	secure bool
	cs     *tls.ConnectionState
	// presented is the certificate cs's session is bound to, when the
	// HTTP server's connection context carries it (certs.WithPresented).
	presented *certs.Presented
	limits    xmlstream.Limits
	timeout   time.Duration

	// The library has no read deadlines, and a cancelled read closes the
	// connection: one goroutine reads (pump), and a read waits for its
	// message or the deadline, after which the stream can still end
	// with a stream error.
	readCtx  context.Context
	cancel   context.CancelFunc
	pumpOnce sync.Once
	messages chan wsMessage

	mu       sync.Mutex
	deadline *time.Timer
	expired  chan struct{} // closed when the read deadline passes
	changed  chan struct{} // closed when the deadline changes

	readHook func(n int) // SetReadHook's; the reader's own

	// readLimit is the largest message read whole, in bytes; the pump
	// reads it, SetMaxStanzaBytes sets it.
	readLimit atomic.Int64
}

func newWSTransport(c *websocket.Conn, r *http.Request, remote string, secure bool, lim xmlstream.Limits, writeTimeout time.Duration) *wsTransport {
	t := &wsTransport{c: c, remote: remote, secure: secure || r.TLS != nil || isLoopback(r.RemoteAddr), cs: r.TLS, limits: lim, timeout: writeTimeout,
		messages: make(chan wsMessage), expired: make(chan struct{}), changed: make(chan struct{})}
	if r.TLS != nil {
		t.presented = certs.PresentedFrom(r.Context())
	}
	t.readCtx, t.cancel = context.WithCancel(context.Background())
	t.SetMaxStanzaBytes(lim.MaxStanzaBytes)
	return t
}

func (t *wsTransport) SetMaxStanzaBytes(n int) {
	t.limits.MaxStanzaBytes = n
	// Twice the stanza limit, so that ParseElement reports a stanza
	// somewhat over it as policy-violation with its own text; a
	// message over this one is not read whole (readMessage). The
	// library's own limit is above it: on reaching that, the library
	// closes the connection (status 1009) before the stream can send
	// its error.
	limit := 2*int64(n) + 4096
	t.readLimit.Store(limit)
	t.c.SetReadLimit(limit + 1)
}

// errMessageTooBig is readMessage's for a message over the read limit.
var errMessageTooBig = errors.New("websocket: the message is larger than the read limit")

// readMessage reads the next message, up to the read limit: a larger one
// is left unread past it, and the stream ends with policy-violation,
// which RFC 7395 §3.6 frames as an error then <close/>.
func (t *wsTransport) readMessage() (websocket.MessageType, []byte, error) {
	typ, r, err := t.c.Reader(t.readCtx)
	if err != nil {
		return 0, nil, err
	}
	limit := t.readLimit.Load()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return 0, nil, err
	}
	if int64(len(data)) > limit {
		return 0, nil, errMessageTooBig
	}
	return typ, data, nil
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

// wsMessage is one message the pump read, or its error.
type wsMessage struct {
	typ  websocket.MessageType
	data []byte
	err  error
}

// pump reads messages and hands them to read until an error or Close.
func (t *wsTransport) pump() {
	for {
		typ, data, err := t.readMessage()
		select {
		case t.messages <- wsMessage{typ, data, err}:
		case <-t.readCtx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

func (t *wsTransport) read() (*xmlstream.Element, error) {
	t.pumpOnce.Do(func() { go t.pump() })
	var m wsMessage
	for got := false; !got; {
		t.mu.Lock()
		expired, changed := t.expired, t.changed
		t.mu.Unlock()
		select {
		case m = <-t.messages:
			got = true
		case <-expired:
			return nil, os.ErrDeadlineExceeded
		case <-changed: // a new deadline, maybe now
		case <-t.readCtx.Done():
			// Closed: the pump may have returned without handing over
			// its last read's error.
			return nil, net.ErrClosed
		}
	}
	typ, data, err := m.typ, m.data, m.err
	if err != nil {
		if errors.Is(err, errMessageTooBig) {
			return nil, &xmlstream.Error{Condition: xmlstream.CondPolicyViolation, Text: "the message is too large"}
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

func (t *wsTransport) WriteHeader(id, from, to, lang string, then ...[]byte) error {
	open := xmlstream.NewElement(NSFraming, "open", "id", id, "from", from, "version", "1.0")
	if to != "" {
		open.SetAttr("to", to)
	}
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

// ServerCertificate is the leaf certificate the TLS session is bound
// to, or nil.
func (t *wsTransport) ServerCertificate() *x509.Certificate { return t.presented.Leaf() }

func (t *wsTransport) Secure() bool { return t.secure }

func (t *wsTransport) RemoteAddr() string { return t.remote }

// SetReadDeadline bounds reads, also one under way: past d they return
// os.ErrDeadlineExceeded, and the connection stays open for the stream
// error that follows.
func (t *wsTransport) SetReadDeadline(d time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.deadline != nil {
		t.deadline.Stop()
		t.deadline = nil
	}
	expired := make(chan struct{})
	t.expired = expired
	close(t.changed)
	t.changed = make(chan struct{})
	if !d.IsZero() {
		t.deadline = time.AfterFunc(time.Until(d), func() { close(expired) })
	}
	return nil
}

func (t *wsTransport) Close() error {
	t.cancel()
	return t.c.Close(websocket.StatusNormalClosure, "")
}
