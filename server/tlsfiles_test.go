package server_test

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"xmppd/certs"
	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// A [[tls.certificates]] entry names its host as the operator wrote it;
// check-config accepts "LocalHost" for the host "localhost", so the server
// must start and serve that file for it too.
func TestCertificateFileHostInOtherCase(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, err := certs.Generate("localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	s := xmpptest.Start(t, func(c *config.Config) {
		c.TLS.Certificates = []config.Certificate{{Host: "LocalHost", Cert: certFile, Key: keyFile}}
	})
	conn, err := tls.Dial("tcp", s.DirectTLSAddr.String(), &tls.Config{ServerName: "localhost", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	block, _ := pem.Decode(certPEM)
	if got := conn.ConnectionState().PeerCertificates[0].Raw; !bytes.Equal(got, block.Bytes) {
		t.Fatal("localhost is not served the configured certificate file")
	}
}
