package c2s

import (
	"crypto/tls"
	"crypto/x509"
)

// A presenter is a Transport that knows the certificate its TLS session
// is bound to, which tls.ConnectionState does not tell: the one its
// handshake presented or, for a resumed session, the one the handshake
// that began the session presented (certs.Presented).
type presenter interface {
	// ServerCertificate is the leaf certificate, or nil.
	ServerCertificate() *x509.Certificate
}

// ServerCertificate returns the leaf certificate the TLS session of the
// negotiating stream whose connection state is cs (the pointer the
// stream gives auth) is bound to, or nil when it is not known. It is
// auth's Config.ServerCertificate: the tls-server-end-point channel
// binding (RFC 5929 §4.1) hashes the certificate of this session, not
// the one a renewal may have put in its place since.
func (srv *Server) ServerCertificate(cs *tls.ConnectionState) *x509.Certificate {
	if cs == nil {
		return nil
	}
	leaf, _ := srv.presented.Load(cs)
	c, _ := leaf.(*x509.Certificate)
	return c
}

// connectionState returns the TLS state of st's connection, and has
// ServerCertificate know, until forgetConnectionState, the certificate
// its session is bound to.
func (st *stream) connectionState() *tls.ConnectionState {
	cs := st.t.ConnectionState()
	if cs == nil || cs == st.cs {
		return cs
	}
	if p, ok := st.t.(presenter); ok {
		if leaf := p.ServerCertificate(); leaf != nil {
			st.forgetConnectionState()
			st.srv.presented.Store(cs, leaf)
			st.cs = cs
		}
	}
	return cs
}

// forgetConnectionState ends what connectionState began: auth asks no
// more once the stream is negotiated.
func (st *stream) forgetConnectionState() {
	if st.cs != nil {
		st.srv.presented.Delete(st.cs)
		st.cs = nil
	}
}
