package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"sync/atomic"
)

// Presented is the certificate one connection's TLS handshake presented,
// which tls.ConnectionState does not tell: a handshake whose context
// carries a Presented (WithPresented) records in it the certificate the
// store's TLSConfig gives it. The tls-server-end-point channel binding
// (RFC 5929 §4.1) hashes that certificate, so that a renewal between the
// handshake and the login must not change it. Its methods are safe for
// concurrent use.
type Presented struct {
	cert atomic.Pointer[tls.Certificate]
}

type presentedKey struct{}

// WithPresented returns ctx carrying p, for a handshake run with it
// (tls.Conn.HandshakeContext, or an http.Server's connection context)
// to record its certificate in.
func WithPresented(ctx context.Context, p *Presented) context.Context {
	return context.WithValue(ctx, presentedKey{}, p)
}

// PresentedFrom returns the Presented ctx carries, or nil.
func PresentedFrom(ctx context.Context) *Presented {
	p, _ := ctx.Value(presentedKey{}).(*Presented)
	return p
}

// record keeps c as the certificate presented, if p is not nil.
func (p *Presented) record(c *tls.Certificate) {
	if p != nil && c != nil {
		p.cert.Store(c)
	}
}

// Leaf returns the leaf certificate presented, or nil when none was
// recorded: no handshake yet, or one that presented none (a resumed
// session) or that another configuration answered (an ACME validation).
func (p *Presented) Leaf() *x509.Certificate {
	if p == nil {
		return nil
	}
	return Leaf(p.cert.Load())
}

// Leaf returns the parsed leaf certificate of c, or nil when c is nil or
// its leaf does not parse.
func Leaf(c *tls.Certificate) *x509.Certificate {
	if c == nil || len(c.Certificate) == 0 {
		return nil
	}
	if c.Leaf != nil {
		return c.Leaf
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}
