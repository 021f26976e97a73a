package selfcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"time"
)

// expiresSoon is when a certificate's approaching end becomes a warning:
// ACME renews 30 days before it.
const expiresSoon = 21 * 24 * time.Hour

// certificate checks the certificate host's clients will get.
func (c *checker) certificate(ctx context.Context, host string) {
	subject := host + " certificate"
	cert, source, err := c.certificateFor(ctx, host)
	switch {
	case err != nil:
		c.add(subject, Fail, "cannot load the %s certificate: %v", source, err)
	case cert == nil && source == "ACME" && c.Stored == nil:
		c.add(subject, Warn, "from ACME; not checked (the database was not read)")
	case cert == nil && source == "ACME":
		c.add(subject, Warn, "from ACME, not obtained yet: the server orders it while it runs; its log says why it failed")
	case cert == nil:
		c.add(subject, Warn, "self-signed: clients ask their users to trust it, and other servers may refuse it; "+
			"turn on [acme] or configure [[tls.certificates]] files")
	default:
		c.verify(subject, host, source, cert)
	}
}

// verify checks that cert is trusted for name and not about to expire.
func (c *checker) verify(subject, name, source string, cert *tls.Certificate) {
	leaf := cert.Leaf
	intermediates := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			intermediates.AddCert(ic)
		}
	}
	left := leaf.NotAfter.Sub(c.Now)
	_, verifyErr := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: c.Roots, Intermediates: intermediates, CurrentTime: c.Now})
	switch {
	case left <= 0:
		c.add(subject, Fail, "%s: expired on %s: renew it", source, leaf.NotAfter.Format(time.DateOnly))
	case verifyErr != nil:
		c.add(subject, Fail, "%s: not trusted for %s: %v (a file holding the whole chain, leaf first, fixes a missing intermediate)",
			source, name, verifyErr)
	case left < expiresSoon:
		c.add(subject, Warn, "%s: issued by %s, expires on %s (%d days): renew it (ACME renews 30 days before)",
			source, leaf.Issuer.CommonName, leaf.NotAfter.Format(time.DateOnly), int(left.Hours()/24))
	default:
		c.add(subject, OK, "%s: issued by %s, valid until %s (%d days)",
			source, leaf.Issuer.CommonName, leaf.NotAfter.Format(time.DateOnly), int(left.Hours()/24))
	}
}

// roomsCertificate checks what other servers see of the rooms' domain: a
// certificate of its own, or the host's if it covers the rooms' name.
func (c *checker) roomsCertificate(ctx context.Context, host, domain string) {
	subject := domain + " certificate"
	if cert, source, err := c.certificateFor(ctx, domain); err != nil || cert != nil {
		if err != nil {
			c.add(subject, Fail, "cannot load the %s certificate: %v", source, err)
			return
		}
		c.verify(subject, domain, source, cert)
		return
	}
	if cert, source, err := c.certificateFor(ctx, host); err == nil && cert != nil && cert.Leaf.VerifyHostname(domain) == nil {
		c.verify(subject, domain, source, cert)
		return
	}
	c.add(subject, Warn, "none covers it: other servers verify the rooms with dialback instead, and refuse them if they require "+
		"certificates; add %s to acme.domains, or get a certificate that names it", domain)
}

// acmeChallenges checks that the authority's challenges can arrive: it
// connects to port 80 (HTTP-01) or 443 (TLS-ALPN-01) of each domain.
func (c *checker) acmeChallenges() {
	cfg := c.Config.Config
	if !cfg.ACME.Enabled {
		return
	}
	const subject = "acme challenges"
	if cfg.ACME.Challenge == "tls-alpn-01" {
		for _, l := range []string{cfg.C2S.ListenTLS, cfg.HTTP.ListenTLS} {
			if l != "" && portOf(l) == 443 {
				c.add(subject, OK, "tls-alpn-01 on the direct TLS listener %s", l)
				return
			}
		}
		c.add(subject, Warn, "tls-alpn-01: the authority connects to port 443, and no TLS listener is on it: "+
			"forward port 443 to c2s.listen_tls or http.listen_tls")
		return
	}
	switch l := cfg.ACME.HTTPListen; {
	case l == "":
		c.add(subject, Warn, "http-01 with acme.http_listen empty: port 80 must reach the http listener %q "+
			"through a proxy that forwards /.well-known/acme-challenge/", cfg.HTTP.Listen)
	case portOf(l) != 80:
		c.add(subject, Warn, "http-01 on acme.http_listen %s: the authority connects to port 80, which must be forwarded there", l)
	default:
		c.add(subject, OK, "http-01 on acme.http_listen %s", l)
	}
}
