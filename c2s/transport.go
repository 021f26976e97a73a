package c2s

import (
	"crypto/tls"
	"time"

	"xmppd/xmlstream"
)

// Transport carries one client stream: a TCP byte stream (RFC 6120) or a
// sequence of WebSocket messages (RFC 7395). The stream logic in this
// package is the same over both.
//
// ReadHeader and ReadElement are called by one goroutine; Write and
// WriteClose by one goroutine at a time (the session serialises them).
type Transport interface {
	// ReadHeader reads the opening of a stream or of a restarted stream.
	// A header in the wrong namespace yields an *xmlstream.Error with
	// condition invalid-namespace.
	ReadHeader() (xmlstream.Header, error)
	// ReadElement reads the next top-level element. It returns
	// xmlstream.ErrStreamEnd when the client closes the stream.
	ReadElement() (*xmlstream.Element, error)
	// SetReadHook has f told the size of each read from the client, after
	// it, by the reader: f may block to slow the client down (the rate
	// limit). nil removes it.
	SetReadHook(f func(n int))
	// WriteHeader writes the server's response header, addressed to to
	// (none when empty), and then the frames that follow it (its
	// features, or a stream error): in one write where the transport
	// can, so a stream opening costs a single system call and TLS record.
	WriteHeader(id, from, to, lang string, then ...[]byte) error
	// Write writes complete top-level elements, each already serialised
	// for Namespace, in order.
	Write(frames ...[]byte) error
	// CloseFrame is the end of the stream: </stream:stream> or <close/>.
	CloseFrame() []byte
	// Namespace is the namespace top-level stanzas are serialised in:
	// "jabber:client" when the stream header declares it (TCP), "" when
	// every element carries its own (WebSocket).
	Namespace() string
	// StreamPrefix reports whether the "stream:" prefix is declared by the
	// stream header, so <stream:features/> need not declare it.
	StreamPrefix() bool
	// CanStartTLS reports whether StartTLS is possible: a TCP connection
	// that is not yet encrypted.
	CanStartTLS() bool
	// StartTLS upgrades the connection (RFC 6120 §5) after <proceed/> was
	// written.
	StartTLS(cfg *tls.Config) error
	// Restart makes the next ReadHeader read a new stream header on the
	// same connection (RFC 6120 §4.3.3), discarding parser state.
	Restart()
	// ConnectionState returns the TLS state, or nil without TLS here.
	ConnectionState() *tls.ConnectionState
	// Secure reports whether the connection is encrypted, here or by a
	// TLS-terminating proxy.
	Secure() bool
	// RemoteAddr is the client's address as host:port.
	RemoteAddr() string
	// SetMaxStanzaBytes changes the largest element the next reads accept
	// (the stream header included): small before authentication, the
	// configured limit after it.
	SetMaxStanzaBytes(n int)
	// SetReadDeadline bounds the next reads; the zero time removes it.
	SetReadDeadline(t time.Time) error
	// Close closes the connection.
	Close() error
}
