package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// certSpec describes a test certificate written by writeCert.
type certSpec struct {
	dns       []string
	notBefore time.Time // zero: an hour ago
	notAfter  time.Time // zero: in 90 days
	keyForm   string    // "" or "pkcs8-ecdsa", "ec", "pkcs1-rsa", "pkcs8-rsa", "pkcs8-ed25519"
	chain     bool      // sign by a test CA and append the CA to the file
}

// issued is what writeCert produced.
type issued struct {
	certFile, keyFile string
	serial            *big.Int
	certPEM, keyPEM   []byte
}

// writeCert creates a certificate per spec and writes it as
// dir/name.pem and dir/name-key.pem.
func writeCert(t *testing.T, dir, name string, spec certSpec) issued {
	t.Helper()
	certPEM, keyPEM, serial := makeCert(t, spec)
	out := issued{
		certFile: filepath.Join(dir, name+".pem"),
		keyFile:  filepath.Join(dir, name+"-key.pem"),
		serial:   serial,
		certPEM:  certPEM,
		keyPEM:   keyPEM,
	}
	if err := os.WriteFile(out.certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out.keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// makeCert creates a PEM certificate (chain) and key per spec.
func makeCert(t *testing.T, spec certSpec) (certPEM, keyPEM []byte, serial *big.Int) {
	t.Helper()
	var (
		signer crypto.Signer
		keyDER []byte
		keyTyp string
		err    error
	)
	switch spec.keyForm {
	case "", "pkcs8-ecdsa", "ec":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		signer = k
		if spec.keyForm == "ec" {
			keyDER, err = x509.MarshalECPrivateKey(k)
			keyTyp = "EC PRIVATE KEY"
		} else {
			keyDER, err = x509.MarshalPKCS8PrivateKey(k)
			keyTyp = "PRIVATE KEY"
		}
		if err != nil {
			t.Fatal(err)
		}
	case "pkcs1-rsa", "pkcs8-rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		signer = k
		if spec.keyForm == "pkcs1-rsa" {
			keyDER, keyTyp = x509.MarshalPKCS1PrivateKey(k), "RSA PRIVATE KEY"
		} else if keyDER, err = x509.MarshalPKCS8PrivateKey(k); err != nil {
			t.Fatal(err)
		} else {
			keyTyp = "PRIVATE KEY"
		}
	case "pkcs8-ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		signer = k
		if keyDER, err = x509.MarshalPKCS8PrivateKey(k); err != nil {
			t.Fatal(err)
		}
		keyTyp = "PRIVATE KEY"
	default:
		t.Fatalf("unknown key form %q", spec.keyForm)
	}

	serial, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: firstOr(spec.dns, "test")},
		DNSNames:     spec.dns,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if !spec.notBefore.IsZero() {
		tmpl.NotBefore = spec.notBefore
	}
	if !spec.notAfter.IsZero() {
		tmpl.NotAfter = spec.notAfter
	}
	parent, parentKey := tmpl, signer
	var caDER []byte
	if spec.chain {
		caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ca := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "test CA"},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(365 * 24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		if caDER, err = x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey); err != nil {
			t.Fatal(err)
		}
		if parent, err = x509.ParseCertificate(caDER); err != nil {
			t.Fatal(err)
		}
		parentKey = caKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, signer.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if caDER != nil {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: keyTyp, Bytes: keyDER})
	return certPEM, keyPEM, serial
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// handshake runs a TLS handshake over net.Pipe between a server using cfg
// and a client using client, and returns the server's leaf certificate as
// the client saw it.
func handshake(cfg, client *tls.Config) (*x509.Certificate, error) {
	sc, cc := net.Pipe()
	defer sc.Close()
	defer cc.Close()
	deadline := time.Now().Add(20 * time.Second)
	sc.SetDeadline(deadline)
	cc.SetDeadline(deadline)

	srv := tls.Server(sc, cfg)
	cli := tls.Client(cc, client)
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		cc.Close()
		<-errc
		return nil, err
	}
	if err := <-errc; err != nil {
		return nil, err
	}
	return cli.ConnectionState().PeerCertificates[0], nil
}

// serverConfig returns the store's TLS configuration with session tickets
// off, so the server sends nothing the pipe's client would have to read
// after its handshake.
func serverConfig(s *Store) *tls.Config {
	cfg := s.TLSConfig()
	cfg.SessionTicketsDisabled = true
	return cfg
}

// peerCert handshakes with server name sn without verifying the chain.
func peerCert(t *testing.T, cfg *tls.Config, sn string) *x509.Certificate {
	t.Helper()
	leaf, err := handshake(cfg, &tls.Config{ServerName: sn, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake with server name %q: %v", sn, err)
	}
	return leaf
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the log lines containing all of the substrings.
func (b *logBuffer) lines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := l != ""
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}
