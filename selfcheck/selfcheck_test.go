package selfcheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/dnstest"
)

// zone is the test DNS server's records, in master file syntax.
const zone = `
example.org.                        A   192.0.2.10
_xmpp-client._tcp.example.org.      SRV 0 5 5222 xmpp.example.org.
_xmpp-server._tcp.example.org.      SRV 0 5 5269 xmpp.example.org.
_xmpps-server._tcp.example.org.     SRV 0 0 0 .
xmpp.example.org.                   A   192.0.2.10
xmpp.example.org.                   AAAA 2001:db8::dead
_xmpp-client._tcp.broken.example.   SRV 0 0 0 .
_xmpp-server._tcp.broken.example.   SRV 0 5 5269 nowhere.broken.example.
other.example.                      A   198.51.100.1
conference.other.example.           A   198.51.100.1
acme.example.                       A   192.0.2.10
_xmpp-client._tcp.acme.example.     SRV 0 5 5322 acme.example.
`

// ca is a test certificate authority.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T) ca {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root"},
		NotBefore: now.Add(-1000 * time.Hour), NotAfter: now.Add(10000 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return ca{cert, key}
}

// issue returns PEM certificate and key for names, valid until notAfter.
func (c ca) issue(t *testing.T, notAfter time.Time, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: now.Add(-24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// files writes a certificate and key for host and returns their entry.
func files(t *testing.T, host string, certPEM, keyPEM []byte) config.Certificate {
	t.Helper()
	dir := t.TempDir()
	f := config.Certificate{Host: host, Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	if os.WriteFile(f.Cert, certPEM, 0o600) != nil || os.WriteFile(f.Key, keyPEM, 0o600) != nil {
		t.Fatal("writing certificate files")
	}
	return f
}

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestRun(t *testing.T) {
	root := newCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)
	good, goodKey := root.issue(t, now.Add(60*24*time.Hour), "example.org")
	expired, expiredKey := root.issue(t, now.Add(-time.Hour), "other.example")
	soon, soonKey := root.issue(t, now.Add(10*24*time.Hour), "conference.other.example")
	acmeCert, acmeKey := root.issue(t, now.Add(80*24*time.Hour), "acme.example", "conference.acme.example")

	cfg := config.Default()
	cfg.Hosts = []string{"example.org", "broken.example", "other.example", "acme.example"}
	cfg.C2S.Listen, cfg.C2S.ListenTLS, cfg.S2S.Listen, cfg.S2S.ListenTLS = ":5222", ":5223", ":5269", ":5270"
	cfg.TLS.Certificates = []config.Certificate{
		files(t, "example.org", good, goodKey),
		files(t, "other.example", expired, expiredKey),
		files(t, "conference.other.example", soon, soonKey),
	}
	cfg.ACME = config.ACME{Enabled: true, Domains: []string{"acme.example"}}
	stored := func(_ context.Context, domain string) ([]byte, []byte, error) {
		if domain == "acme.example" {
			return acmeCert, acmeKey, nil
		}
		return nil, nil, nil
	}

	found := Run(context.Background(), Config{Config: cfg, Resolver: dnstest.Start(t, zone).Resolver(), Stored: stored, Roots: roots,
		Local: []netip.Addr{netip.MustParseAddr("192.0.2.10")}, Now: now})
	want := []struct {
		subject string
		level   Level
		text    string
	}{
		{"_xmpp-client._tcp.example.org", Warn, "of which [2001:db8::dead] are not addresses of this machine"},
		{"_xmpps-client._tcp.example.org", Warn, "add _xmpps-client._tcp.example.org. SRV 0 5 5223 example.org."},
		{"_xmpp-server._tcp.example.org", Warn, "SRV points to xmpp.example.org port 5269"},
		{"_xmpp-server._tcp.acme.example", OK, "at [192.0.2.10], this machine"},
		{"example.org certificate", OK, "issued by Test Root, valid until 2027-01-22 (60 days)"},
		{"_xmpp-server._tcp.conference.example.org", Warn, "connect to conference.example.org port 5269, which has no address"},
		{"conference.example.org certificate", Warn, "add conference.example.org to acme.domains"},

		{"_xmpp-client._tcp.broken.example", Fail, "says broken.example has no such service"},
		{"_xmpp-server._tcp.broken.example", Fail, "nowhere.broken.example port 5269, which has no address"},
		{"broken.example certificate", Warn, "self-signed"},

		{"_xmpp-client._tcp.other.example", Warn, "no SRV record: clients connect to other.example port 5222, at [198.51.100.1], which is not an address of this machine"},
		{"other.example certificate", Fail, "expired on 2026-11-23"},
		{"_xmpp-server._tcp.conference.other.example", Warn, "at [198.51.100.1], which is not an address of this machine"},
		{"_xmpps-server._tcp.conference.other.example", Warn, "no SRV record"},
		{"_xmpps-server._tcp.example.org", Warn, "the SRV record says example.org has no such service: other servers using direct TLS cannot use the listener on port 5270"},
		{"conference.other.example certificate", Warn, "expires on 2026-12-03 (10 days)"},

		{"_xmpp-client._tcp.acme.example", Warn, "but the listener is on port 5222"},
		{"acme.example certificate", OK, "ACME: issued by Test Root"},
		{"acme challenges", Warn, "http-01 with acme.http_listen empty: port 80 must reach the http listener"},
		{"conference.acme.example certificate", OK, "ACME: issued by Test Root"},
	}
	for _, w := range want {
		ok := false
		for _, f := range found {
			if f.Subject == w.subject && f.Level == w.level && strings.Contains(f.Text, w.text) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("no finding %s %s: %q", w.level, w.subject, w.text)
		}
	}
	if t.Failed() {
		for _, f := range found {
			t.Logf("%s %s: %s", f.Level, f.Subject, f.Text)
		}
	}
}

// A certificate that does not chain to a trusted root is a failure.
func TestUntrusted(t *testing.T) {
	other := newCA(t)
	certPEM, keyPEM := other.issue(t, now.Add(60*24*time.Hour), "example.org")
	cfg := config.Default()
	cfg.Hosts = []string{"example.org"}
	cfg.TLS.Certificates = []config.Certificate{files(t, "example.org", certPEM, keyPEM)}
	cfg.C2S.Listen, cfg.C2S.ListenTLS, cfg.S2S.Listen = "", "", ""
	found := Run(context.Background(), Config{Config: cfg, Resolver: dnstest.Start(t, zone).Resolver(), Roots: x509.NewCertPool(), Now: now})
	if len(found) != 1 || found[0].Level != Fail || !strings.Contains(found[0].Text, "not trusted for example.org") {
		t.Errorf("findings %+v, want one failure: not trusted", found)
	}
}

// Where the ACME authority's challenges arrive.
func TestACMEChallenges(t *testing.T) {
	for _, tc := range []struct {
		challenge, httpListen, c2sTLS string
		level                         Level
	}{
		{"http-01", ":80", ":5223", OK},
		{"http-01", ":8080", ":5223", Warn},
		{"tls-alpn-01", ":80", ":443", OK},
		{"tls-alpn-01", ":80", ":5223", Warn},
	} {
		cfg := config.Default()
		cfg.Hosts = []string{"example.org"}
		cfg.C2S.Listen, cfg.C2S.ListenTLS, cfg.S2S.Listen = "", tc.c2sTLS, ""
		cfg.HTTP.ListenTLS = ""
		cfg.ACME = config.ACME{Enabled: true, Challenge: tc.challenge, HTTPListen: tc.httpListen}
		c := &checker{Config: Config{Config: cfg}}
		c.acmeChallenges()
		if len(c.found) != 1 || c.found[0].Level != tc.level {
			t.Errorf("%s, http_listen %s, c2s.listen_tls %s: %+v, want %s", tc.challenge, tc.httpListen, tc.c2sTLS, c.found, tc.level)
		}
	}
}
