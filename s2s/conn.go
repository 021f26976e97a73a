package s2s

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces of server streams.
const (
	nsDialback        = "jabber:server:dialback"
	nsDialbackFeature = "urn:xmpp:features:dialback" // XEP-0220 §2.1
	nsTLS             = "urn:ietf:params:xml:ns:xmpp-tls"
	nsStreamErrors    = "urn:ietf:params:xml:ns:xmpp-streams"
)

// streamError is a stream error condition (RFC 6120 §4.9.3) to send
// before closing.
type streamError struct{ condition, text string }

func (e *streamError) Error() string { return "stream error " + e.condition + ": " + e.text }

func streamErr(condition, text string) error { return &streamError{condition, text} }

// conn is one server stream's TCP connection, upgraded to TLS by
// STARTTLS. One goroutine reads; writes are serialised.
type conn struct {
	nc  net.Conn
	tls bool
	// bidi is true on a stream we opened on which we asked the receiving
	// server to send its stanzas back to us (XEP-0288).
	bidi bool
	// features are the last stream features the peer offered on a
	// stream we opened.
	features     *xmlstream.Element
	lim          xmlstream.Limits
	dec          *xmlstream.Decoder
	writeTimeout time.Duration

	wmu    sync.Mutex // serialises writes; guards opened, ended, via and replacing nc
	opened bool       // our stream header is written
	ended  bool       // our end of the stream is written

	// received counts the peer's stanzas for stream management (sm.go);
	// enabling is true once we asked the peer to enable it.
	received inbound
	enabling atomic.Bool
	// via tracks our stanzas on a peer's bidirectional stream.
	via viaSent

	// authenticated is set once the peer authenticated a domain on a
	// stream it opened: from then on, its silence past the read deadline
	// closes the stream with linger instead of at once.
	authenticated atomic.Bool

	closeOnce sync.Once
	closed    chan struct{} // closed by end
	// readHook is told the size of each read from the peer; the reader's
	// own. nil tells nobody.
	readHook func(n int)
}

// source is what the decoder reads: the connection, each read told to
// the read hook.
type source struct{ c *conn }

func (s source) Read(p []byte) (int, error) {
	n, err := s.c.nc.Read(p)
	for n == 0 && isTimeout(err) && s.c.authenticated.Load() && s.c.linger(nil, "", closeWait) {
		// The peer was silent too long: an idle stream, closed as RFC
		// 6120 §4.4 says (XEP-0190), without connection-timeout.
		n, err = s.c.nc.Read(p)
	}
	if n > 0 && s.c.readHook != nil {
		s.c.readHook(n)
	}
	return n, err
}

func newConn(nc net.Conn, lim xmlstream.Limits, writeTimeout time.Duration) *conn {
	return &conn{nc: nc, lim: lim, writeTimeout: writeTimeout, closed: make(chan struct{})}
}

// readHeader reads the peer's stream header, which must open a server
// stream.
func (c *conn) readHeader() (xmlstream.Header, error) {
	if c.dec == nil {
		c.dec = xmlstream.NewDecoder(source{c}, c.lim)
	}
	h, err := c.dec.ReadHeader()
	if err != nil {
		return h, err
	}
	if h.Name.Space != xmlstream.NSStream || h.DefaultNS != stanza.NSServer {
		return h, streamErr("invalid-namespace", "a server stream is {"+xmlstream.NSStream+"}stream with the default namespace "+stanza.NSServer)
	}
	h.To, h.From = domainOf(h.To), domainOf(h.From)
	return h, nil
}

// domainOf returns the domain s as jid.Parse gives stanzas' domains
// (lowercase, say), so that a stream header or a dialback element that
// writes it otherwise (B.TEST) names the same domain as the stanzas; s
// itself when it is not a domain.
func domainOf(s string) string {
	j, err := jid.Parse(s)
	if err != nil || j.Localpart() != "" || j.Resourcepart() != "" {
		return s
	}
	return j.Domainpart()
}

// readElement reads the next top-level element.
func (c *conn) readElement() (*xmlstream.Element, error) { return c.dec.ReadElement() }

// writeHeader opens our side of the stream (again, after STARTTLS), and
// writes then after it.
func (c *conn) writeHeader(from, to, id string, then ...[]byte) error {
	c.wmu.Lock()
	c.opened = true
	c.wmu.Unlock()
	return c.write(append([][]byte{header(from, to, id)}, then...)...)
}

// header is our stream header.
func header(from, to, id string) []byte {
	b := []byte("<?xml version='1.0'?><stream:stream xmlns='" + stanza.NSServer +
		"' xmlns:stream='" + xmlstream.NSStream + "' xmlns:db='" + nsDialback + "' version='1.0'")
	for _, a := range [][2]string{{"from", from}, {"to", to}, {"id", id}} {
		if a[1] != "" {
			b = append(b, ' ')
			b = append(b, a[0]...)
			b = append(b, "='"...)
			b = xmlstream.AppendEscaped(b, a[1])
			b = append(b, '\'')
		}
	}
	return append(b, '>')
}

// write writes frames in one system call, within the write timeout.
func (c *conn) write(frames ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(frames...)
}

// writeThen writes el and, if that worked, calls then before any other
// write can follow it.
func (c *conn) writeThen(el *xmlstream.Element, then func()) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	err := c.writeLocked(el.Append(nil, stanza.NSClient))
	if err == nil {
		then()
	}
	return err
}

// closeStream writes the stream error err carries, if any, and the end
// of our stream, unless it is written already, in which case it reports
// false. Nothing is written after it, and the connection stays open for
// reading what the peer still sends (RFC 6120 §4.4). A stream error needs
// our header first (RFC 6120 §4.9.1.2); from names us in it.
func (c *conn) closeStream(err error, from string) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.closeStreamLocked(err, from)
}

// closeStreamLocked is closeStream with c.wmu held.
func (c *conn) closeStreamLocked(err error, from string) bool {
	if c.ended {
		return false
	}
	// Our last count goes before we go, after anything we wrote.
	frames := append([][]byte{c.received.final()}, endFrames(err)...)
	if !c.opened {
		frames = append([][]byte{header(from, "", stanza.NewID())}, frames...)
	}
	c.writeLocked(frames...)
	c.ended = true
	return true
}

// isEnded reports whether our end of the stream is written.
func (c *conn) isEnded() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ended
}

// linger closes our side of the stream as closeStream does, and gives
// the peer wait to close its side: the reader reads on, and what the peer
// sends meanwhile is handled, until the peer's end or the deadline (RFC
// 6120 §4.4). It reports false when our side was closed already.
func (c *conn) linger(err error, from string, wait time.Duration) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.closeStreamLocked(err, from) {
		return false
	}
	c.nc.SetReadDeadline(time.Now().Add(wait))
	return true
}

// extendRead moves the read deadline to d from now, unless our side of
// the stream is closed: then the peer has until linger's deadline.
func (c *conn) extendRead(d time.Duration) {
	c.wmu.Lock() // startTLS may be replacing c.nc on the reader's goroutine
	defer c.wmu.Unlock()
	if !c.ended {
		c.nc.SetReadDeadline(time.Now().Add(d))
	}
}

// writeLocked is write with c.wmu held.
func (c *conn) writeLocked(frames ...[]byte) error {
	if c.ended {
		return net.ErrClosed
	}
	var b []byte
	if len(frames) == 1 {
		b = frames[0]
	} else {
		for _, f := range frames {
			b = append(b, f...)
		}
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	_, err := c.nc.Write(b)
	return err
}

// writeElements serialises elements for the stream: stanzas, which the
// router holds in jabber:client, go out in the stream's default
// namespace, jabber:server (RFC 6120 §4.8.3).
func (c *conn) writeElements(els ...*xmlstream.Element) error {
	return c.write(encode(nil, els...))
}

// encode appends els to b as writeElements sends them.
func encode(b []byte, els ...*xmlstream.Element) []byte {
	for _, e := range els {
		b = e.Append(b, stanza.NSClient)
	}
	return b
}

// streamElement serialises <stream:local> with children.
func streamElement(local string, children ...*xmlstream.Element) []byte {
	b := []byte("<stream:" + local + ">")
	for _, ch := range children {
		b = ch.Append(b, stanza.NSServer)
	}
	return append(b, "</stream:"+local+">"...)
}

// end writes the stream error err carries, if any, and the end of our
// stream, unless written already, and closes the connection.
func (c *conn) end(err error, from string) {
	c.wmu.Lock()
	c.closeStreamLocked(err, from)
	nc := c.nc // startTLS may be replacing it on the reader's goroutine
	c.wmu.Unlock()
	nc.Close()
	c.closeOnce.Do(func() { close(c.closed) })
}

// endFrames are the stream error err carries, if any, and the end of our
// stream.
func endFrames(err error) [][]byte {
	var se *streamError
	var xe *xmlstream.Error
	switch {
	case errors.As(err, &se):
	case errors.As(err, &xe):
		se = &streamError{xe.Condition, xe.Text}
	case isTimeout(err):
		se = &streamError{"connection-timeout", ""}
	}
	if se == nil {
		return [][]byte{[]byte("</stream:stream>")}
	}
	cond := xmlstream.NewElement(nsStreamErrors, se.condition)
	if se.text == "" {
		return [][]byte{streamElement("error", cond), []byte("</stream:stream>")}
	}
	return [][]byte{streamElement("error", cond, xmlstream.NewElement(nsStreamErrors, "text").AddText(se.text)), []byte("</stream:stream>")}
}

// startTLS upgrades the connection after <proceed/> (RFC 6120 §5.4.3.3):
// as the client on streams we opened, as the server on the others.
func (c *conn) startTLS(ctx context.Context, cfg *tls.Config, client bool) error {
	var tc *tls.Conn
	if client {
		tc = tls.Client(c.nc, cfg)
	} else {
		tc = tls.Server(c.nc, cfg)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	c.wmu.Lock()
	c.nc, c.tls = tc, true
	c.wmu.Unlock()
	// Nothing sent before the handshake is read as part of the encrypted
	// stream (STARTTLS command injection).
	c.restart()
	return nil
}

// restart begins a new stream on the connection, after STARTTLS or SASL
// (RFC 6120 §4.3.3): both sides send new headers, and nothing buffered
// from the old stream is read as part of the new one.
func (c *conn) restart() {
	c.dec = nil
	c.received.reset() // stream management was the old stream's
	c.wmu.Lock()
	c.opened = false
	c.via.restart()
	c.wmu.Unlock()
}

// isTimeout reports whether err is a deadline expiring.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// isClosed reports whether err only says the connection or the stream
// ended.
func isClosed(err error) bool {
	return errors.Is(err, xmlstream.ErrStreamEnd) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}
