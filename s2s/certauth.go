package s2s

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"

	"xmppd/xmlstream"
)

// nsSASL is the namespace of SASL negotiation (RFC 6120 §6).
const nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl"

// verified reports whether c's peer presented a certificate, chained to
// the configured roots, for domain (RFC 6125 DNS-ID; RFC 6120 §13.7.2).
// The certificate may be the TLS server's or the TLS client's, and its
// key usages are not checked: many server certificates are not marked
// for client use, and XMPP servers present them both ways.
func (s *Server) verified(c *conn, domain string) bool {
	tc, ok := c.nc.(*tls.Conn)
	if !ok || domain == "" {
		return false
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return false
	}
	inter := x509.NewCertPool()
	for _, cert := range certs[1:] {
		inter.AddCert(cert)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		DNSName:       domain,
		Roots:         s.cfg.Roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err == nil
}

// external authenticates local to remote's server over c with SASL
// EXTERNAL (RFC 6120 §6, XEP-0178), the receiving server having verified
// our certificate, and restarts the stream. ok is false when the peer
// refused, leaving dialback to try on the same stream.
func (s *Server) external(c *conn, local, remote string) (ok bool, err error) {
	auth := xmlstream.NewElement(nsSASL, "auth", "mechanism", "EXTERNAL").AddText(base64.StdEncoding.EncodeToString([]byte(local)))
	if err := c.writeElements(auth); err != nil {
		return false, err
	}
	answer, err := c.readElement()
	if err != nil {
		return false, err
	}
	if answer.Name.Space != nsSASL || answer.Name.Local != "success" {
		s.log.Info("s2s certificate authentication refused", "local", local, "remote", remote, "answer", answer.String())
		return false, nil
	}
	c.restart()
	if err := c.writeHeader(local, remote, ""); err != nil {
		return false, err
	}
	if _, err := c.readHeader(); err != nil {
		return false, err
	}
	if c.features, err = c.readElement(); err != nil {
		return false, err
	}
	return true, nil
}

// offersExternal reports whether features offer SASL EXTERNAL.
func offersExternal(features *xmlstream.Element) bool {
	ms := features.Child(nsSASL, "mechanisms")
	if ms == nil {
		return false
	}
	for _, m := range ms.ChildElements() {
		if m.Name.Local == "mechanism" && m.Text() == "EXTERNAL" {
			return true
		}
	}
	return false
}
