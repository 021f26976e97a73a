// Package acme obtains and renews the servers' TLS certificates from an
// ACME certificate authority such as Let's Encrypt (RFC 8555), answering
// its HTTP-01 challenges (section 8.3).
//
// Everything is kept in the database the nodes of a cluster share: the
// account key, each domain's certificate and key, and the challenge
// answers, so any node can answer the authority's request and every node
// serves the certificate one of them obtained. A domain is ordered by one
// node at a time (Store.Lock); the others wait and then serve its
// certificate.
package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	acmeapi "golang.org/x/crypto/acme"
)

// LetsEncrypt is the directory of Let's Encrypt's production service.
const LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

// checkEvery is how often the manager looks at every domain again when
// nothing is due sooner: it picks up certificates another node renewed.
const checkEvery = time.Hour

// retryFirst and retryMax bound the wait after a failed order, doubled at
// each failure: Let's Encrypt allows five failed validations per domain
// and hour.
const (
	retryFirst = 5 * time.Minute
	retryMax   = 6 * time.Hour
)

// orderTimeout bounds one order, from the first request to the
// certificate.
const orderTimeout = 5 * time.Minute

// Store keeps what the manager shares between restarts and nodes.
type Store interface {
	// AccountKey returns the PEM account key stored for directory, storing
	// newKey first when there is none (the first node to store wins).
	AccountKey(ctx context.Context, directory string, newKey []byte) ([]byte, error)
	// Certificate returns domain's certificate chain and key in PEM, or
	// nil ones when none is stored.
	Certificate(ctx context.Context, domain string) (certPEM, keyPEM []byte, err error)
	// PutCertificate stores domain's certificate chain and key in PEM.
	PutCertificate(ctx context.Context, domain string, certPEM, keyPEM []byte, notAfter time.Time) error
	// PutChallenge stores the key authorization to answer for token.
	PutChallenge(ctx context.Context, token, keyAuthorization string) error
	// Challenge returns the key authorization of token, "" when none.
	Challenge(ctx context.Context, token string) (string, error)
	// DeleteChallenge forgets token.
	DeleteChallenge(ctx context.Context, token string) error
	// Lock runs fn holding a lock on domain that one node at a time may
	// hold, waiting for it while another node holds it.
	Lock(ctx context.Context, domain string, fn func() error) error
}

// Config configures a Manager.
type Config struct {
	// Directory is the URL of the ACME directory; empty is Let's Encrypt.
	Directory string
	// Email, if set, is the contact given to the authority for expiry and
	// policy notices.
	Email string
	// Domains are the DNS names to get certificates for, one each.
	Domains []string
	// Store keeps keys, certificates and challenges.
	Store Store
	// Install hands a domain's current certificate to the TLS listeners;
	// it is called at start for stored certificates and after each renewal.
	Install func(domain string, cert *tls.Certificate)
	// HTTPClient talks to the authority; nil is http.DefaultClient.
	HTTPClient *http.Client
	// Logger receives what was obtained and what failed; nil discards.
	Logger *slog.Logger
}

// Manager keeps the configured domains' certificates current.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	installed map[string]*x509.Certificate // leaf handed to Install, by domain
	client    *acmeapi.Client              // registered at the first order
}

// New returns a manager for cfg; Run does the work.
func New(cfg Config) *Manager {
	if cfg.Directory == "" {
		cfg.Directory = LetsEncrypt
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg, log: log, installed: make(map[string]*x509.Certificate)}
}

// Run installs the stored certificates, obtains the missing ones and
// renews those due, until ctx ends. Failures are logged and retried later.
func (m *Manager) Run(ctx context.Context) {
	retry := make(map[string]time.Duration) // wait after the last failure, by domain
	next := make(map[string]time.Time)      // earliest next attempt after a failure
	for {
		wait := checkEvery
		for _, domain := range m.cfg.Domains {
			if time.Now().Before(next[domain]) {
				wait = min(wait, time.Until(next[domain]))
				continue
			}
			due, err := m.check(ctx, domain)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				retry[domain] = min(max(2*retry[domain], retryFirst), retryMax)
				next[domain] = time.Now().Add(retry[domain])
				m.log.Error("acme: no certificate obtained; trying again later", "domain", domain,
					"directory", m.cfg.Directory, "retry_in", retry[domain], "err", err)
				wait = min(wait, retry[domain])
				continue
			}
			delete(retry, domain)
			delete(next, domain)
			wait = min(wait, max(time.Until(due), time.Minute))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// check installs domain's stored certificate if it is new to this node,
// and renews it if it is due. It returns when the certificate falls due.
func (m *Manager) check(ctx context.Context, domain string) (time.Time, error) {
	leaf, err := m.installStored(ctx, domain)
	if err != nil {
		return time.Time{}, err
	}
	if leaf != nil && !due(leaf, domain, time.Now()) {
		return renewAt(leaf), nil
	}
	err = m.cfg.Store.Lock(ctx, domain, func() error {
		// Another node may have renewed it since the read above.
		if leaf, err = m.installStored(ctx, domain); err != nil || (leaf != nil && !due(leaf, domain, time.Now())) {
			return err
		}
		leaf, err = m.obtain(ctx, domain)
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	return renewAt(leaf), nil
}

// installStored installs domain's stored certificate unless it is the one
// installed already, and returns its leaf (nil when none is stored).
func (m *Manager) installStored(ctx context.Context, domain string) (*x509.Certificate, error) {
	certPEM, keyPEM, err := m.cfg.Store.Certificate(ctx, domain)
	if err != nil || certPEM == nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		m.log.Warn("acme: stored certificate is unusable; ordering a new one", "domain", domain, "err", err)
		return nil, nil
	}
	m.mu.Lock()
	old := m.installed[domain]
	m.mu.Unlock()
	if old == nil || !old.Equal(pair.Leaf) {
		m.install(domain, &pair)
	}
	return pair.Leaf, nil
}

// install hands cert to the listeners and remembers it.
func (m *Manager) install(domain string, cert *tls.Certificate) {
	m.mu.Lock()
	m.installed[domain] = cert.Leaf
	m.mu.Unlock()
	m.log.Info("acme: serving certificate", "domain", domain, "issuer", cert.Leaf.Issuer.String(),
		"not_after", cert.Leaf.NotAfter)
	if m.cfg.Install != nil {
		m.cfg.Install(domain, cert)
	}
}

// due reports whether leaf must be replaced: it does not cover domain, or
// a third or less of its lifetime is left (Let's Encrypt's advice: 30 days
// of 90).
func due(leaf *x509.Certificate, domain string, now time.Time) bool {
	return leaf.VerifyHostname(domain) != nil || !now.Before(renewAt(leaf))
}

// renewAt returns when a third of leaf's lifetime is left.
func renewAt(leaf *x509.Certificate) time.Time {
	return leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3)
}

// errorf wraps err with what failed for domain.
func errorf(domain, what string, err error) error {
	return fmt.Errorf("acme: %s: %s: %w", domain, what, err)
}
