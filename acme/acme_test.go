package acme_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	acmeapi "golang.org/x/crypto/acme"

	"xmppd/acme"
	"xmppd/internal/pebbletest"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// setup returns a store on a fresh schema and a Pebble whose HTTP-01
// validations reach a node that orders nothing: any node answers the
// challenges another stored.
func setup(t *testing.T) (*postgres.ACME, *pebbletest.Pebble) {
	t.Helper()
	store := postgres.NewACME(pgtest.Pool(t))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	other := &http.Server{Handler: acme.New(acme.Config{Store: store}).Handler(nil)}
	go other.Serve(l)
	t.Cleanup(func() { other.Close() })
	return store, pebbletest.Start(t, l.Addr().(*net.TCPAddr).Port, 1)
}

// run runs a manager for domains until the test ends, and returns the
// certificates it installs and its log.
func run(t *testing.T, store acme.Store, p *pebbletest.Pebble, directory string, domains ...string) (<-chan installed, xmpptest.Records) {
	t.Helper()
	return runWith(t, acme.Config{Directory: directory, Email: "admin@xmppd.test", Domains: domains, Store: store, HTTPClient: p.HTTPClient})
}

// runWith is run for a configuration with its own contact.
func runWith(t *testing.T, cfg acme.Config) (<-chan installed, xmpptest.Records) {
	t.Helper()
	installs := make(chan installed, 10)
	logs := xmpptest.NewRecords()
	cfg.Install = func(domain string, c *tls.Certificate) { installs <- installed{domain, c} }
	cfg.Logger = logs.Logger()
	m := acme.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return installs, logs
}

type installed struct {
	domain string
	cert   *tls.Certificate
}

// next returns the next installed certificate.
func next(t *testing.T, installs <-chan installed) installed {
	t.Helper()
	select {
	case in := <-installs:
		return in
	case <-time.After(60 * time.Second):
		t.Fatal("no certificate installed within 60 s")
		return installed{}
	}
}

// verify checks that c is a chain from Pebble's root to a leaf for domain.
func verify(t *testing.T, p *pebbletest.Pebble, domain string, c *tls.Certificate) {
	t.Helper()
	intermediates := x509.NewCertPool()
	for _, der := range c.Certificate[1:] {
		ic, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		intermediates.AddCert(ic)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: domain, Roots: p.Roots(t), Intermediates: intermediates}); err != nil {
		t.Errorf("certificate for %s: %v", domain, err)
	}
}

// storedLeaf returns the leaf of domain's stored certificate.
func storedLeaf(t *testing.T, store *postgres.ACME, domain string) *x509.Certificate {
	t.Helper()
	certPEM, keyPEM, err := store.Certificate(context.Background(), domain)
	if err != nil || certPEM == nil {
		t.Fatalf("stored certificate of %s: %v", domain, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("stored certificate of %s: %v", domain, err)
	}
	return pair.Leaf
}

func TestObtainAndRestart(t *testing.T) {
	store, p := setup(t)
	domains := []string{"chat.xmppd.test", "conference.chat.xmppd.test"}
	installs, _ := run(t, store, p, p.Directory, domains...)
	got := map[string]*tls.Certificate{}
	for range domains {
		in := next(t, installs)
		verify(t, p, in.domain, in.cert)
		got[in.domain] = in.cert
		if !storedLeaf(t, store, in.domain).Equal(in.cert.Leaf) {
			t.Errorf("%s: the installed certificate is not the stored one", in.domain)
		}
	}
	for _, d := range domains {
		if got[d] == nil {
			t.Errorf("no certificate for %s", d)
		}
	}
	var waiting int
	if err := pgtest.Pool(t).QueryRow(context.Background(), `SELECT count(*) FROM acme_challenges`).Scan(&waiting); err != nil || waiting != 0 {
		t.Errorf("challenge answers left after the orders: %d, %v", waiting, err)
	}

	// Restarted (or another node), with a directory that cannot be
	// reached: it serves what is stored without ordering.
	again, _ := run(t, store, p, "https://127.0.0.1:1/dir", domains...)
	for range domains {
		in := next(t, again)
		if !in.cert.Leaf.Equal(got[in.domain].Leaf) {
			t.Errorf("%s: after a restart a different certificate was served", in.domain)
		}
	}
}

// A changed acme.email reaches the authority's account at the next order.
func TestEmailChangeUpdatesAccount(t *testing.T) {
	store, p := setup(t)
	first, _ := run(t, store, p, p.Directory, "one.xmppd.test")
	next(t, first)
	cfg := acme.Config{Directory: p.Directory, Email: "new@xmppd.test", Domains: []string{"two.xmppd.test"}, Store: store, HTTPClient: p.HTTPClient}
	second, _ := runWith(t, cfg)
	next(t, second)

	keyPEM, err := store.AccountKey(context.Background(), p.Directory, nil)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	c := &acmeapi.Client{Key: key.(crypto.Signer), DirectoryURL: p.Directory, HTTPClient: p.HTTPClient}
	acct, err := c.GetReg(context.Background(), "")
	if err != nil || !slices.Equal(acct.Contact, []string{"mailto:new@xmppd.test"}) {
		t.Errorf("account contact %v (%v), want the new address", acct, err)
	}
}

// With TLS-ALPN-01, the authority's handshake with the domain's name and
// the protocol acme-tls/1 gets the validation certificate, from any node.
func TestTLSALPN01(t *testing.T) {
	store := postgres.NewACME(pgtest.Pool(t))
	const domain = "alpn.xmppd.test"
	other := acme.New(acme.Config{Store: store, Domains: []string{domain}, Challenge: acme.TLSALPN01})
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetConfigForClient: other.ValidationConfig})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	p := pebbletest.Start(t, 1, l.Addr().(*net.TCPAddr).Port)
	installs, _ := runWith(t, acme.Config{Directory: p.Directory, Domains: []string{domain}, Challenge: acme.TLSALPN01,
		Store: store, HTTPClient: p.HTTPClient})
	in := next(t, installs)
	verify(t, p, domain, in.cert)
}

func TestRenewsDueCertificate(t *testing.T) {
	store, p := setup(t)
	const domain = "due.xmppd.test"
	// 80 of its 90 days gone: due.
	old := selfSigned(t, domain, time.Now().Add(-80*24*time.Hour), time.Now().Add(10*24*time.Hour))
	if err := store.PutCertificate(context.Background(), domain, old.certPEM, old.keyPEM, old.leaf.NotAfter); err != nil {
		t.Fatal(err)
	}
	installs, _ := run(t, store, p, p.Directory, domain)
	if in := next(t, installs); !in.cert.Leaf.Equal(old.leaf) {
		t.Fatalf("the stored certificate was not served while renewing: got %s", in.cert.Leaf.Issuer)
	}
	in := next(t, installs)
	verify(t, p, domain, in.cert)
	if in.cert.Leaf.Equal(old.leaf) || !storedLeaf(t, store, domain).Equal(in.cert.Leaf) {
		t.Error("the renewed certificate is not the stored one")
	}
}

func TestRefusedOrderIsLogged(t *testing.T) {
	store, p := setup(t)
	installs, logs := run(t, store, p, p.Directory, "blocked.example")
	rec := logs.Wait(t, "acme: no certificate obtained", "domain", "blocked.example")
	var msg string
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			msg = a.Value.String()
		}
		return true
	})
	if !strings.Contains(msg, "blocked.example: order") {
		t.Errorf("error = %q, want the refused order", msg)
	}
	select {
	case in := <-installs:
		t.Errorf("installed a certificate for %s", in.domain)
	default:
	}
	// Every node waits before the next attempt.
	n, retryAt, err := store.Failures(context.Background(), "blocked.example")
	if err != nil || n != 1 || time.Until(retryAt) < 4*time.Minute {
		t.Errorf("failures recorded: %d, next attempt at %v (%v), want 1 and in 5 minutes", n, retryAt, err)
	}
}

func TestChallengeHandler(t *testing.T) {
	store := postgres.NewACME(pgtest.Pool(t))
	ctx := context.Background()
	if err := store.PutChallenge(ctx, "tok_en-1", "chat.xmppd.test", "tok_en-1.thumbprint"); err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "elsewhere") })
	h := acme.New(acme.Config{Store: store}).Handler(next)
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/.well-known/acme-challenge/tok_en-1", 200, "tok_en-1.thumbprint"},
		{"HEAD", "/.well-known/acme-challenge/tok_en-1", 200, "tok_en-1.thumbprint"},
		{"GET", "/.well-known/acme-challenge/unknown", 404, ""},
		{"GET", "/.well-known/acme-challenge/", 404, ""},
		{"GET", "/.well-known/acme-challenge/tok.en", 404, ""},
		{"GET", "/.well-known/acme-challenge/" + strings.Repeat("a", 129), 404, ""},
		{"POST", "/.well-known/acme-challenge/tok_en-1", 404, ""},
		{"GET", "/upload/x", 200, "elsewhere"},
	} {
		req, _ := http.NewRequest(tc.method, "http://chat.xmppd.test"+tc.path, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tc.status || (tc.status == 200 && w.Body.String() != tc.body) {
			t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.path, w.Code, w.Body.String(), tc.status, tc.body)
		}
	}
	if err := store.DeleteChallenge(ctx, "tok_en-1"); err != nil {
		t.Fatal(err)
	}
	if a, err := store.Challenge(ctx, "tok_en-1"); err != nil || a != "" {
		t.Errorf("after delete: %q, %v", a, err)
	}
}

func TestLock(t *testing.T) {
	store := postgres.NewACME(pgtest.Pool(t))
	ctx := context.Background()
	err := store.Lock(ctx, "a.xmppd.test", func() error {
		// Another session waits for the lock until its context ends.
		waiting, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if err := store.Lock(waiting, "a.xmppd.test", func() error {
			t.Error("ran while another held the lock")
			return nil
		}); err == nil {
			t.Error("no error from a lock given up")
		}
		return store.Lock(ctx, "b.xmppd.test", func() error { return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	if err := store.Lock(ctx, "a.xmppd.test", func() error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("after release: ran %v, %v", ran, err)
	}
}

// Two nodes starting together order one certificate: the second waits
// for the first and serves what it stored.
func TestTwoNodesOneOrder(t *testing.T) {
	store, p := setup(t)
	const domain = "both.xmppd.test"
	first, firstLog := run(t, store, p, p.Directory, domain)
	second, secondLog := run(t, store, p, p.Directory, domain)
	a, b := next(t, first), next(t, second)
	verify(t, p, domain, a.cert)
	if !a.cert.Leaf.Equal(b.cert.Leaf) {
		t.Errorf("the nodes serve different certificates, serials %v and %v", a.cert.Leaf.SerialNumber, b.cert.Leaf.SerialNumber)
	}
	if n := firstLog.Count("acme: ordering") + secondLog.Count("acme: ordering"); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
}

func TestAccountKeyFirstWins(t *testing.T) {
	store := postgres.NewACME(pgtest.Pool(t))
	ctx := context.Background()
	first, err := store.AccountKey(ctx, "https://ca.example/dir", []byte("first"))
	if err != nil || string(first) != "first" {
		t.Fatalf("first: %q, %v", first, err)
	}
	second, err := store.AccountKey(ctx, "https://ca.example/dir", []byte("second"))
	if err != nil || string(second) != "first" {
		t.Errorf("second: %q, %v; want the first key", second, err)
	}
}

// pair is a certificate with its key, in PEM and parsed.
type pair struct {
	certPEM, keyPEM []byte
	leaf            *x509.Certificate
}

// selfSigned makes a certificate for domain valid between from and until.
func selfSigned(t *testing.T, domain string, from, until time.Time) pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "old " + domain},
		DNSNames: []string{domain}, NotBefore: from, NotAfter: until}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return pair{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		leaf:    leaf,
	}
}

// Only a handshake asking for acme-tls/1 alone is a validation, and only
// for a domain being ordered with a challenge waiting.
func TestValidationConfig(t *testing.T) {
	store := postgres.NewACME(pgtest.Pool(t))
	m := acme.New(acme.Config{Store: store, Domains: []string{"alpn.xmppd.test"}, Challenge: acme.TLSALPN01})
	for _, tc := range []struct {
		name   string
		hello  tls.ClientHelloInfo
		config bool
		err    bool
	}{
		{"a client", tls.ClientHelloInfo{ServerName: "alpn.xmppd.test", SupportedProtos: []string{"xmpp-client"}}, false, false},
		{"mixed protocols", tls.ClientHelloInfo{ServerName: "alpn.xmppd.test", SupportedProtos: []string{"acme-tls/1", "h2"}}, false, false},
		{"another domain", tls.ClientHelloInfo{ServerName: "other.xmppd.test", SupportedProtos: []string{"acme-tls/1"}}, false, true},
		{"nothing waiting", tls.ClientHelloInfo{ServerName: "alpn.xmppd.test", SupportedProtos: []string{"acme-tls/1"}}, false, true},
	} {
		cfg, err := m.ValidationConfig(&tc.hello)
		if (cfg != nil) != tc.config || (err != nil) != tc.err {
			t.Errorf("%s: config %v, error %v", tc.name, cfg != nil, err)
		}
	}
	if err := store.PutChallenge(context.Background(), "tok", "alpn.xmppd.test", "tok.thumb"); err != nil {
		t.Fatal(err)
	}
	cfg, err := m.ValidationConfig(&tls.ClientHelloInfo{ServerName: "ALPN.xmppd.test.", SupportedProtos: []string{"acme-tls/1"}})
	if err != nil || cfg == nil || len(cfg.Certificates) != 1 || !slices.Equal(cfg.NextProtos, []string{"acme-tls/1"}) {
		t.Fatalf("a validation with a challenge waiting: %+v, %v", cfg, err)
	}
}
