package xmpptest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"testing"
)

// HTTPSCertificate returns the certificate s's HTTPS listener presents
// for Domain.
func HTTPSCertificate(t testing.TB, s *Server) *x509.Certificate {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: ReadTimeout}, "tcp", s.HTTPSAddr.String(),
		&tls.Config{ServerName: Domain, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("reading the HTTPS certificate: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// HTTPSHost is Domain with the port of s's HTTPS listener: the host and
// port of the server's https links, which its certificate names.
func HTTPSHost(t testing.TB, s *Server) string {
	t.Helper()
	_, port, err := net.SplitHostPort(s.HTTPSAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(Domain, port)
}

// HTTPSClient returns an HTTP client that trusts the certificate s's
// HTTPS listener presents for Domain, and nothing else: a client of
// Domain that accepted the self-signed certificate. It checks the name,
// so an https link it can follow is one a real client can follow.
func HTTPSClient(t testing.TB, s *Server) *http.Client {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(HTTPSCertificate(t, s))
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport, Timeout: ReadTimeout}
}
