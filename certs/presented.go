package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"slices"
	"sync/atomic"
)

// Presented is the certificate one connection's TLS session is bound to,
// which tls.ConnectionState does not tell: a handshake whose context
// carries a Presented (WithPresented) records in it the certificate the
// store's TLSConfig presents, or, when it resumes a session, the one the
// handshake that began the session presented. The tls-server-end-point
// channel binding (RFC 5929 §4.1) hashes that certificate, so that a
// renewal between the handshake and the login, or between a session's
// handshakes, must not change it. Its methods are safe for concurrent
// use.
//
// For resumed sessions, the session tickets carry the certificate: see
// config.
type Presented struct {
	cert atomic.Pointer[tls.Certificate]

	// The handshake's own, which runs on one goroutine, until it ends
	// (settle):
	chosen  *tls.Certificate // the certificate GetCertificate chose
	resumed *tls.Certificate // the certificate of the last ticket unwrapped
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

// choose keeps c as the certificate the handshake presents unless it
// resumes a session, if p is not nil. A TLS 1.2 handshake chooses it
// before it looks at the ticket.
func (p *Presented) choose(c *tls.Certificate) {
	if p != nil {
		p.chosen = c
	}
}

// bound is the certificate the session is bound to: the resumed
// session's, or the one the handshake presented.
func (p *Presented) bound(didResume bool) *tls.Certificate {
	if didResume {
		return p.resumed
	}
	return p.chosen
}

// settle records the certificate of the handshake that has ended,
// resuming a session or not.
func (p *Presented) settle(didResume bool) {
	if c := p.bound(didResume); c != nil {
		p.cert.Store(c)
	}
}

// Leaf returns the leaf certificate the connection's session is bound
// to, or nil when none was recorded: no handshake yet, or one that
// another configuration answered (an ACME validation).
func (p *Presented) Leaf() *x509.Certificate {
	if p == nil {
		return nil
	}
	return Leaf(p.cert.Load())
}

// ticketEntry begins the entry of a session ticket's Extra (see
// tls.SessionState) that carries the DER leaf certificate the session is
// bound to. Extra is shared with other layers; the entry names itself.
var ticketEntry = []byte("xmppd tls-server-end-point 1\x00")

// config returns the configuration of one handshake recording in p: a
// copy of base whose session tickets carry, besides what crypto/tls
// keeps, the certificate the session is bound to, which a handshake
// resuming the session takes up. base's own ticket keys encrypt them, as
// they would without it. A ticket without that certificate (from a build
// before it) is not resumed: the client gets a full handshake, which
// presents a certificate, rather than a session bound to one the server
// no longer knows.
func (p *Presented) config(base *tls.Config) *tls.Config {
	cfg := base.Clone()
	cfg.GetConfigForClient = nil
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		if c := p.bound(cs.DidResume); c != nil && len(c.Certificate) > 0 {
			ss.Extra = append(ss.Extra, slices.Concat(ticketEntry, c.Certificate[0]))
		}
		return base.EncryptTicket(cs, ss)
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := base.DecryptTicket(identity, cs)
		if ss == nil || err != nil {
			return nil, err
		}
		c := ticketCertificate(ss.Extra)
		if c == nil {
			return nil, nil
		}
		// crypto/tls may still refuse the session and go on to the next
		// ticket or to a full handshake: settle decides.
		p.resumed = c
		return ss, nil
	}
	// VerifyConnection is called at the end of every handshake, resumed
	// or not, before the connection carries data.
	verify := base.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if verify != nil {
			if err := verify(cs); err != nil {
				return err
			}
		}
		p.settle(cs.DidResume)
		return nil
	}
	return cfg
}

// ticketCertificate returns the certificate ticketEntry carries among a
// session ticket's extra data, or nil.
func ticketCertificate(extra [][]byte) *tls.Certificate {
	for _, e := range extra {
		der, ok := bytes.CutPrefix(e, ticketEntry)
		if !ok {
			continue
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			return nil
		}
		return &tls.Certificate{Certificate: [][]byte{der}, Leaf: leaf}
	}
	return nil
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
