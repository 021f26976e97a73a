package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// ALPNProto is the protocol a TLS-ALPN-01 validation asks for (RFC 8737).
const ALPNProto = "acme-tls/1"

// idPeAcmeIdentifier is the certificate extension carrying the digest of
// the key authorization (RFC 8737 section 3).
var idPeAcmeIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}

// IsValidation reports whether a TLS handshake is a TLS-ALPN-01
// validation: it asks for ALPNProto, and nothing else.
func IsValidation(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == ALPNProto
}

// ValidationConfig answers a TLS-ALPN-01 validation of the domain hello
// names with the certificate RFC 8737 asks for, made from the answer any
// node stored; for other handshakes it returns nil, nil. It suits
// tls.Config.GetConfigForClient.
func (m *Manager) ValidationConfig(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if !IsValidation(hello) {
		return nil, nil
	}
	domain := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	if !slices.Contains(m.cfg.Domains, domain) {
		return nil, fmt.Errorf("acme: no certificate is ordered for %q", hello.ServerName)
	}
	answer, err := m.lookup(context.Background(), func(ctx context.Context) (string, error) {
		return m.cfg.Store.DomainChallenge(ctx, domain)
	})
	if err != nil || answer == "" {
		return nil, fmt.Errorf("acme: no challenge waits for %s (%v)", domain, err)
	}
	cert, err := validationCertificate(domain, answer)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{ALPNProto}, MinVersion: tls.VersionTLS12}, nil
}

// validationCertificate makes the self-signed certificate of RFC 8737
// section 3: for domain alone, with the critical acmeIdentifier extension
// holding the SHA-256 digest of the key authorization.
func validationCertificate(domain, keyAuthorization string) (tls.Certificate, error) {
	digest := sha256.Sum256([]byte(keyAuthorization))
	value, err := asn1.Marshal(digest[:])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("acme: validation certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("acme: validation certificate: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(now.UnixNano()),
		Subject:         pkix.Name{CommonName: "ACME validation of " + domain},
		DNSNames:        []string{domain},
		NotBefore:       now.Add(-time.Hour),
		NotAfter:        now.Add(24 * time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: idPeAcmeIdentifier, Critical: true, Value: value}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("acme: validation certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
