package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	acmeapi "golang.org/x/crypto/acme"
)

// account returns the manager's registered account, loading or creating
// the key and registering it at the first call.
func (m *Manager) account(ctx context.Context) (*acmeapi.Client, error) {
	m.mu.Lock()
	c := m.client
	m.mu.Unlock()
	if c != nil {
		return c, nil
	}
	fresh, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("acme: account key: %w", err)
	}
	freshPEM, err := keyPEM(fresh)
	if err != nil {
		return nil, err
	}
	stored, err := m.cfg.Store.AccountKey(ctx, m.cfg.Directory, freshPEM)
	if err != nil {
		return nil, fmt.Errorf("acme: account key: %w", err)
	}
	key, err := parseKey(stored)
	if err != nil {
		return nil, fmt.Errorf("acme: stored account key for %s: %w", m.cfg.Directory, err)
	}
	c = &acmeapi.Client{Key: key, DirectoryURL: m.cfg.Directory, HTTPClient: m.cfg.HTTPClient, UserAgent: "xmppd"}
	acct := &acmeapi.Account{}
	if m.cfg.Email != "" {
		acct.Contact = []string{"mailto:" + m.cfg.Email}
	}
	// Using the service means agreeing to its terms (README).
	_, err = c.Register(ctx, acct, acmeapi.AcceptTOS)
	if errors.Is(err, acmeapi.ErrAccountAlreadyExists) {
		err = m.updateContact(ctx, c, acct.Contact)
	}
	if err != nil {
		return nil, fmt.Errorf("acme: register account at %s: %w", m.cfg.Directory, err)
	}
	m.mu.Lock()
	m.client = c
	m.mu.Unlock()
	return c, nil
}

// updateContact gives the existing account the configured contact, if
// it has another (acme.email changed since it was registered).
func (m *Manager) updateContact(ctx context.Context, c *acmeapi.Client, contact []string) error {
	acct, err := c.GetReg(ctx, "")
	if err != nil || slices.Equal(acct.Contact, contact) {
		return err
	}
	acct.Contact = contact
	_, err = c.UpdateReg(ctx, acct)
	return err
}

// obtain orders a certificate for domain, answers its HTTP-01 challenges,
// stores the certificate and installs it.
func (m *Manager) obtain(ctx context.Context, domain string) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, orderTimeout)
	defer cancel()
	c, err := m.account(ctx)
	if err != nil {
		return nil, err
	}
	m.log.Info("acme: ordering certificate", "domain", domain, "directory", m.cfg.Directory)
	order, err := c.AuthorizeOrder(ctx, acmeapi.DomainIDs(domain))
	if err != nil {
		return nil, errorf(domain, "order", err)
	}
	for _, url := range order.AuthzURLs {
		if err := m.authorize(ctx, c, domain, url); err != nil {
			return nil, err
		}
	}
	if order, err = c.WaitOrder(ctx, order.URI); err != nil {
		return nil, errorf(domain, "wait for the order", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, errorf(domain, "certificate key", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{domain}}, key)
	if err != nil {
		return nil, errorf(domain, "certificate request", err)
	}
	chain, _, err := c.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		return nil, errorf(domain, "finalize the order", err)
	}
	var certPEM []byte
	for _, der := range chain {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	privPEM, err := keyPEM(key)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, privPEM)
	if err != nil {
		return nil, errorf(domain, "issued certificate", err)
	}
	if err := pair.Leaf.VerifyHostname(domain); err != nil {
		return nil, errorf(domain, "issued certificate", err)
	}
	// Issued: store it even if ctx ended meanwhile, or the next attempt
	// orders a duplicate, and serve it even if storing fails.
	sctx, cancel := detached(ctx)
	defer cancel()
	err = m.cfg.Store.PutCertificate(sctx, domain, certPEM, privPEM, pair.Leaf.NotAfter)
	m.install(domain, &pair)
	if err != nil {
		return nil, errorf(domain, "store the certificate", err)
	}
	return pair.Leaf, nil
}

// authorize proves control of domain for one authorization with its
// HTTP-01 challenge; an authorization already valid needs nothing.
func (m *Manager) authorize(ctx context.Context, c *acmeapi.Client, domain, url string) error {
	z, err := c.GetAuthorization(ctx, url)
	if err != nil {
		return errorf(domain, "authorization", err)
	}
	if z.Status == acmeapi.StatusValid {
		return nil
	}
	var chal *acmeapi.Challenge
	for _, ch := range z.Challenges {
		if ch.Type == m.cfg.Challenge {
			chal = ch
		}
	}
	if chal == nil {
		return errorf(domain, "authorization", fmt.Errorf("the authority offers no %s challenge", m.cfg.Challenge))
	}
	// Both types answer with the key authorization (RFC 8555 section 8.1).
	answer, err := c.HTTP01ChallengeResponse(chal.Token)
	if err != nil {
		return errorf(domain, "challenge answer", err)
	}
	if err := m.cfg.Store.PutChallenge(ctx, chal.Token, domain, answer); err != nil {
		return errorf(domain, "store the challenge answer", err)
	}
	defer func() {
		dctx, cancel := detached(ctx)
		defer cancel()
		m.cfg.Store.DeleteChallenge(dctx, chal.Token)
	}()
	if _, err := c.Accept(ctx, chal); err != nil {
		return errorf(domain, "accept the challenge", err)
	}
	if _, err := c.WaitAuthorization(ctx, z.URI); err != nil {
		hint := "is port 80 of the domain served by xmppd's acme.http_listen?"
		if m.cfg.Challenge == TLSALPN01 {
			hint = "does port 443 of the domain reach c2s.listen_tls or http.listen_tls?"
		}
		return errorf(domain, m.cfg.Challenge+" validation ("+hint+")", err)
	}
	return nil
}

// keyPEM encodes a private key in PKCS #8 PEM.
func keyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("acme: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseKey decodes a PKCS #8 PEM private key that can sign.
func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM PRIVATE KEY block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", key)
	}
	return signer, nil
}
