package server_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"testing"

	"xmppd/config"
	"xmppd/internal/pebbletest"
	"xmppd/internal/xmpptest"
)

// A host with acme on gets its certificate from the authority, answering
// the challenge on acme.http_listen, and serves it on every TLS listener;
// the other hosts keep theirs.
func TestACMECertificate(t *testing.T) {
	challenges := xmpptest.FreeAddr(t)
	p := pebbletest.Start(t, port(t, challenges), 1)

	const domain = "chat.xmppd.test"
	logs := xmpptest.NewRecords()
	s := xmpptest.StartLogged(t, logs.Logger(), func(c *config.Config) {
		c.Hosts = append(c.Hosts, domain)
		c.ACME = config.ACME{Enabled: true, Directory: p.Directory, CAFile: p.CAFile, Email: "admin@" + domain,
			Domains: []string{domain}, HTTPListen: challenges}
	})
	logs.Wait(t, "acme: serving certificate", "domain", domain)

	trusting := &tls.Config{ServerName: domain, RootCAs: p.Roots(t)}
	direct := xmpptest.DialTLS(t, s.DirectTLSAddr, trusting)
	direct.Open(domain)
	direct.Features()

	starttls := xmpptest.Dial(t, s.C2SAddr)
	starttls.Open(domain)
	starttls.Features()
	starttls.StartTLS(domain, trusting)
	starttls.Features()

	https := &http.Client{Transport: &http.Transport{TLSClientConfig: trusting}}
	resp, err := https.Get("https://" + s.HTTPSAddr.String() + "/.well-known/host-meta")
	if err != nil {
		t.Fatalf("https with the obtained certificate: %v", err)
	}
	resp.Body.Close()

	other := xmpptest.DialTLS(t, s.DirectTLSAddr, xmpptest.TLSConfig(xmpptest.Domain, tls.VersionTLS13))
	if leaf := other.Conn.(*tls.Conn).ConnectionState().PeerCertificates[0]; leaf.VerifyHostname(xmpptest.Domain) != nil {
		t.Errorf("%s got the certificate of %v", xmpptest.Domain, leaf.DNSNames)
	}

	// A restart (or another node of a cluster) serves it from its first
	// handshake on.
	restarted := xmpptest.Restart(t, s)
	xmpptest.DialTLS(t, restarted.DirectTLSAddr, trusting).Open(domain)
}

// With acme.challenge = "tls-alpn-01" the authority's validation is
// answered on the direct TLS listener, and no HTTP listener is needed.
func TestACMETLSALPN01(t *testing.T) {
	direct := xmpptest.FreeAddr(t)
	p := pebbletest.Start(t, 1, port(t, direct))

	const domain = "alpn.xmppd.test"
	logs := xmpptest.NewRecords()
	s := xmpptest.StartLogged(t, logs.Logger(), func(c *config.Config) {
		c.Hosts = append(c.Hosts, domain)
		c.C2S.ListenTLS = direct
		c.ACME = config.ACME{Enabled: true, Directory: p.Directory, CAFile: p.CAFile, Domains: []string{domain},
			Challenge: "tls-alpn-01"}
	})
	logs.Wait(t, "acme: serving certificate", "domain", domain)
	xmpptest.DialTLS(t, s.DirectTLSAddr, &tls.Config{ServerName: domain, RootCAs: p.Roots(t)}).Open(domain)
}

// port returns the port of a host:port address.
func port(t *testing.T, addr string) int {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return a.Port
}
