package c2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	"xmppd/certs"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// NSStreams is the namespace of the stream element (RFC 6120 §4.8.1).
const NSStreams = "http://etherx.jabber.org/streams"

// tcpTransport is a stream over a TCP connection, possibly upgraded to TLS.
type tcpTransport struct {
	conn net.Conn
	tls  *tls.Conn            // nil before TLS
	cs   *tls.ConnectionState // tls's, once its handshake is complete
	// presented is the certificate tls's session is bound to.
	presented certs.Presented
	limits    xmlstream.Limits
	dec       *xmlstream.Decoder
	timeout   time.Duration // write deadline for each Write
	// parkAfter is the idle time after which ReadElementParked parks the
	// reader; 0 never parks.
	parkAfter time.Duration
	// wake and parkedFD are set while the reader is parked with idle
	// (idle_linux.go), which guards them.
	wake     func()
	parkedFD int
	// readHook is SetReadHook's; the reader's own.
	readHook func(n int)
}

// source is what the decoder reads: the connection, each read told to
// the read hook.
type source struct{ t *tcpTransport }

func (s source) Read(p []byte) (int, error) {
	n, err := s.t.conn.Read(p)
	if n > 0 && s.t.readHook != nil {
		s.t.readHook(n)
	}
	return n, err
}

func newTCPTransport(conn net.Conn, lim xmlstream.Limits, writeTimeout time.Duration) *tcpTransport {
	t := &tcpTransport{conn: conn, limits: lim, timeout: writeTimeout}
	if tc, ok := conn.(*tls.Conn); ok {
		t.tls = tc
	}
	return t
}

func (t *tcpTransport) ReadHeader() (xmlstream.Header, error) {
	if t.tls != nil && t.dec == nil && !t.tls.ConnectionState().HandshakeComplete {
		// Direct TLS: the handshake, which the first read would run,
		// runs here to record the certificate it presents.
		if err := t.tls.HandshakeContext(certs.WithPresented(context.Background(), &t.presented)); err != nil {
			return xmlstream.Header{}, fmt.Errorf("direct TLS handshake: %w", err)
		}
	}
	if t.dec == nil {
		t.dec = xmlstream.NewDecoder(source{t}, t.limits)
	}
	h, err := t.dec.ReadHeader()
	if err != nil {
		return h, err
	}
	if h.Name.Space != NSStreams || h.Name.Local != "stream" {
		return h, &xmlstream.Error{Condition: "invalid-namespace", Text: "the stream element must be {" + NSStreams + "}stream"}
	}
	if h.DefaultNS != stanza.NSClient {
		return h, &xmlstream.Error{Condition: "invalid-namespace", Text: "the default namespace of a client stream must be " + stanza.NSClient}
	}
	return h, nil
}

func (t *tcpTransport) ReadElement() (*xmlstream.Element, error) { return t.dec.ReadElement() }

func (t *tcpTransport) SetReadHook(f func(n int)) { t.readHook = f }

func (t *tcpTransport) SetMaxStanzaBytes(n int) {
	t.limits.MaxStanzaBytes = n
	if t.dec != nil {
		t.dec.SetMaxStanzaBytes(n)
	}
}

func (t *tcpTransport) WriteHeader(id, from, to, lang string, then ...[]byte) error {
	b := make([]byte, 0, 256)
	b = append(b, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='"+NSStreams+"' id='"...)
	b = append(b, id...)
	b = append(b, "' from='"...)
	b = xmlstream.AppendEscaped(b, from)
	if to != "" {
		b = append(b, "' to='"...)
		b = xmlstream.AppendEscaped(b, to)
	}
	b = append(b, "' version='1.0' xml:lang='"...)
	b = xmlstream.AppendEscaped(b, lang)
	b = append(b, "'>"...)
	for _, f := range then {
		b = append(b, f...)
	}
	return t.Write(b)
}

func (t *tcpTransport) Write(frames ...[]byte) error {
	if t.timeout > 0 {
		t.conn.SetWriteDeadline(time.Now().Add(t.timeout))
	}
	if len(frames) == 1 {
		_, err := t.conn.Write(frames[0])
		return err
	}
	// One write, so TLS sends as few records as it can.
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	buf := make([]byte, 0, n)
	for _, f := range frames {
		buf = append(buf, f...)
	}
	_, err := t.conn.Write(buf)
	return err
}

func (t *tcpTransport) CloseFrame() []byte { return []byte("</stream:stream>") }

func (t *tcpTransport) Namespace() string { return stanza.NSClient }

func (t *tcpTransport) StreamPrefix() bool { return true }

func (t *tcpTransport) CanStartTLS() bool { return t.tls == nil }

func (t *tcpTransport) StartTLS(cfg *tls.Config) error {
	if t.tls != nil {
		return fmt.Errorf("starttls: the stream is already encrypted")
	}
	tc := tls.Server(t.conn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(certs.WithPresented(ctx, &t.presented)); err != nil {
		return fmt.Errorf("starttls handshake: %w", err)
	}
	t.conn, t.tls = tc, tc
	// Nothing the client sent before the handshake may be read as part of
	// the encrypted stream (RFC 6120 §5.3.3 and STARTTLS injection).
	t.dec = nil
	return nil
}

// Restart needs nothing: the decoder reads a new header on the same
// connection and keeps bytes the client already sent.
func (t *tcpTransport) Restart() {}

// ConnectionState is the same pointer once the handshake is complete:
// Server.ServerCertificate finds the connection by it.
func (t *tcpTransport) ConnectionState() *tls.ConnectionState {
	if t.tls == nil {
		return nil
	}
	if t.cs != nil {
		return t.cs
	}
	cs := t.tls.ConnectionState()
	if cs.HandshakeComplete {
		t.cs = &cs
	}
	return &cs
}

// ServerCertificate is the leaf certificate the TLS session is bound
// to, or nil.
func (t *tcpTransport) ServerCertificate() *x509.Certificate { return t.presented.Leaf() }

func (t *tcpTransport) Secure() bool { return t.tls != nil }

func (t *tcpTransport) RemoteAddr() string { return t.conn.RemoteAddr().String() }

func (t *tcpTransport) SetReadDeadline(d time.Time) error { return t.conn.SetReadDeadline(d) }

// Close closes the connection, first waking a parked reader so that it
// sees the connection closed.
func (t *tcpTransport) Close() error {
	idle.unpark(t)
	return t.conn.Close()
}
