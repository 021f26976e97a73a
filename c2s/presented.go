package c2s

import (
	"crypto/tls"
	"crypto/x509"
)

// A presenter is a Transport that knows the certificate this server
// presented in its TLS handshake, which tls.ConnectionState does not
// tell.
type presenter interface {
	// ServerCertificate is the leaf certificate presented, or nil.
	ServerCertificate() *x509.Certificate
}

// ServerCertificate returns the leaf certificate this server presented in
// the TLS handshake of the negotiating stream whose connection state is
// cs (the pointer the stream gives auth), or nil when it is not known.
// It is auth's Config.ServerCertificate: the tls-server-end-point channel
// binding (RFC 5929 §4.1) hashes the certificate of this connection, not
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
// its handshake presented.
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
