package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/xdg-go/scram"
)

const (
	testDomain   = "example.org"
	testUser     = "alice"
	testPassword = "correct horse battery staple"
	testRemote   = "192.0.2.7:5222"
)

// memStore is an in-memory Store for protocol unit tests.
type memStore struct {
	mu    sync.Mutex
	users map[string][]Credential // "domain\x00user"
	err   error                   // returned for every lookup when set
	calls int
}

func (m *memStore) Credentials(ctx context.Context, domain, username string) ([]Credential, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.err != nil {
		return nil, m.err
	}
	c, ok := m.users[domain+"\x00"+username]
	if !ok {
		return nil, ErrNoSuchUser
	}
	return c, nil
}

func (m *memStore) add(t testing.TB, domain, user, password string) {
	t.Helper()
	creds, err := DeriveCredentials(password, DefaultIterations)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.users == nil {
		m.users = make(map[string][]Credential)
	}
	m.users[domain+"\x00"+user] = creds
}

// testCert is a self-signed certificate made once per test binary.
type testCert struct {
	tls  tls.Certificate
	leaf *x509.Certificate
}

var (
	certOnce  sync.Once
	certECDSA testCert
	certEd    testCert
)

func makeCert(t testing.TB, pub, priv any) testCert {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: testDomain},
		DNSNames:     []string{testDomain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, leaf: leaf}
}

func certs(t testing.TB) (ecdsaCert, edCert testCert) {
	certOnce.Do(func() {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		certECDSA = makeCert(t, &k.PublicKey, k)
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		certEd = makeCert(t, pub, priv)
	})
	return certECDSA, certEd
}

// tlsPair runs a real TLS handshake over net.Pipe and returns the server's
// and the client's connection states.
func tlsPair(t testing.TB, version uint16, cert testCert) (server, client *tls.ConnectionState) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	sc := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{cert.tls}, MinVersion: version, MaxVersion: version})
	cc := tls.Client(b, &tls.Config{InsecureSkipVerify: true, ServerName: testDomain, MinVersion: version, MaxVersion: version})
	errc := make(chan error, 1)
	go func() { errc <- sc.Handshake() }()
	if err := cc.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	s, c := sc.ConnectionState(), cc.ConnectionState()
	return &s, &c
}

// testServer returns a server over store whose failure delays are recorded
// instead of slept.
type recorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (r *recorder) sleep(_ context.Context, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delays = append(r.delays, d)
}

func (r *recorder) get() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.delays...)
}

func newTestServer(t testing.TB, store Store, leaf *x509.Certificate) (*Server, *recorder) {
	t.Helper()
	cfg := Config{
		Store:        store,
		Secret:       []byte("0123456789abcdef0123456789abcdef"),
		FailureDelay: 10 * time.Millisecond,
	}
	if leaf != nil {
		cfg.ServerCertificate = func(*tls.ConnectionState) *x509.Certificate { return leaf }
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	s.sleep = rec.sleep
	return s, rec
}

// condition returns the Failure condition of err, "" for nil, or fails.
func condition(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T) is not a *Failure", err, err)
	}
	return f.Condition
}

// flag selects the client's gs2 channel-binding flag.
type flag int

const (
	flagN flag = iota // no channel binding support
	flagY             // supports, thinks server does not
	flagP             // uses the given binding
)

var hashGens = map[string]scram.HashGeneratorFcn{
	"SCRAM-SHA-1":   scram.SHA1,
	"SCRAM-SHA-256": scram.SHA256,
	"SCRAM-SHA-512": scram.SHA512,
}

// scramRun is the outcome of one SCRAM exchange driven by xdg-go's client.
type scramRun struct {
	serverFirst string // "" if step 1 failed
	cond1       string // failure at step 1
	cond2       string // failure at step 2
	text2       string
	done        bool
	clientValid bool // the client accepted the server signature
	ex          *Exchange
}

// runSCRAM drives srv with xdg-go's client. mutateFinal, when set, edits the
// client-final message.
func runSCRAM(t testing.TB, srv *Server, mech string, cs *tls.ConnectionState, f flag, cb scram.ChannelBinding, user, pass, authz string, mutateFinal func(string) string) scramRun {
	t.Helper()
	ctx := context.Background()
	base := mech
	if len(base) > 5 && base[len(base)-5:] == "-PLUS" {
		base = base[:len(base)-5]
	}
	client, err := hashGens[base].NewClient(user, pass, authz)
	if err != nil {
		t.Fatal(err)
	}
	var conv *scram.ClientConversation
	switch f {
	case flagN:
		conv = client.NewConversation()
	case flagY:
		conv = client.NewConversationAdvertisingChannelBinding()
	case flagP:
		conv = client.NewConversationWithChannelBinding(cb)
	}
	ex, err := srv.Start(ctx, mech, testDomain, cs, testRemote)
	if err != nil {
		t.Fatalf("start %s: %v", mech, err)
	}
	var run scramRun
	run.ex = ex
	c1, err := conv.Step("")
	if err != nil {
		t.Fatal(err)
	}
	s1, done, err := ex.Step(ctx, []byte(c1))
	if done {
		t.Fatal("done after client-first")
	}
	if run.cond1 = condition(t, err); run.cond1 != "" {
		return run
	}
	run.serverFirst = string(s1)
	c2, err := conv.Step(string(s1))
	if err != nil {
		t.Fatalf("client rejected server-first %q: %v", s1, err)
	}
	if mutateFinal != nil {
		c2 = mutateFinal(c2)
	}
	s2, done, err := ex.Step(ctx, []byte(c2))
	run.done = done
	if run.cond2 = condition(t, err); run.cond2 != "" {
		run.text2 = err.(*Failure).Text
		if s2 != nil {
			t.Errorf("output %q with failure", s2)
		}
		return run
	}
	if !done {
		t.Fatal("not done after client-final without failure")
	}
	if _, err := conv.Step(string(s2)); err == nil && conv.Valid() {
		run.clientValid = true
	}
	return run
}
