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
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	acmeapi "golang.org/x/crypto/acme"
)

// The challenge types answered (RFC 8555 section 8.3, RFC 8737).
const (
	HTTP01    = "http-01"
	TLSALPN01 = "tls-alpn-01"
)

// LetsEncrypt is the directory of Let's Encrypt's production service.
const LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

// checkEvery is how often the manager looks at every domain again when
// nothing is due sooner: it picks up certificates another node renewed.
const checkEvery = time.Hour

// retryFirst and retryMax bound the wait after a failed order, doubled at
// each failure in a row: Let's Encrypt allows five failed validations per
// domain and hour. The count is shared by the nodes (Store.Failures).
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
	// PutChallenge stores the key authorization to answer for token, a
	// challenge for domain.
	PutChallenge(ctx context.Context, token, domain, keyAuthorization string) error
	// Challenge returns the key authorization of token, "" when none.
	Challenge(ctx context.Context, token string) (string, error)
	// DomainChallenge returns the latest key authorization waiting for a
	// challenge for domain, "" when none.
	DomainChallenge(ctx context.Context, domain string) (string, error)
	// DeleteChallenge forgets token.
	DeleteChallenge(ctx context.Context, token string) error
	// Lock runs fn holding a lock on domain that one node at a time may
	// hold, waiting for it while another node holds it.
	Lock(ctx context.Context, domain string, fn func() error) error
	// Failures returns how many orders for domain failed in a row and
	// when the next may start (zero: any time).
	Failures(ctx context.Context, domain string) (n int, retryAt time.Time, err error)
	// SetFailures records them, with the last reason; n = 0 forgets them.
	SetFailures(ctx context.Context, domain string, n int, retryAt time.Time, reason string) error
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
	// Challenge is the challenge type answered: HTTP01 (the default) or
	// TLSALPN01.
	Challenge string
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

	lookups      chan struct{} // challenge lookups under way
	lookupFailed atomic.Int64  // Unix time of the last logged lookup failure

	mu        sync.Mutex
	installed map[string]*x509.Certificate // leaf handed to Install, by domain
	client    *acmeapi.Client              // registered at the first order
}

// New returns a manager for cfg; Run does the work.
func New(cfg Config) *Manager {
	if cfg.Directory == "" {
		cfg.Directory = LetsEncrypt
	}
	if cfg.Challenge == "" {
		cfg.Challenge = HTTP01
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg, log: log, lookups: make(chan struct{}, maxLookups), installed: make(map[string]*x509.Certificate)}
}

// LoadStored installs the stored certificate of every domain that has a
// usable one; the server calls it before its listeners open.
func (m *Manager) LoadStored(ctx context.Context) {
	for _, domain := range m.cfg.Domains {
		if _, err := m.installStored(ctx, domain); err != nil {
			m.log.Error("acme: reading the stored certificate", "domain", domain, "err", err)
		}
	}
}

// Run keeps the certificates current until ctx ends: it installs those
// another node stored, obtains the missing ones and renews those due.
// Failures are logged and retried later.
func (m *Manager) Run(ctx context.Context) {
	for {
		wait := checkEvery
		for _, domain := range m.cfg.Domains {
			next, err := m.check(ctx, domain)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				m.log.Error("acme: no certificate obtained; trying again later", "domain", domain,
					"directory", m.cfg.Directory, "retry_at", next, "err", err)
			}
			wait = min(wait, max(time.Until(next), time.Minute))
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
// and renews it if it is due and no failure makes it wait. It returns
// when to look again.
func (m *Manager) check(ctx context.Context, domain string) (next time.Time, err error) {
	leaf, err := m.installStored(ctx, domain)
	if err != nil {
		return time.Time{}, err
	}
	if leaf != nil && !due(leaf, domain, time.Now()) {
		return renewAt(leaf), nil
	}
	err = m.cfg.Store.Lock(ctx, domain, func() error {
		// Another node may have renewed it, or failed, since the read above.
		if leaf, err = m.installStored(ctx, domain); err != nil {
			return err
		}
		if leaf != nil && !due(leaf, domain, time.Now()) {
			next = renewAt(leaf)
			return nil
		}
		failures, retryAt, err := m.cfg.Store.Failures(ctx, domain)
		if err != nil || time.Now().Before(retryAt) {
			next = retryAt
			return err
		}
		if leaf, err = m.obtain(ctx, domain); err != nil {
			if ctx.Err() != nil {
				return err // stopped: not the authority's failure
			}
			next = time.Now().Add(retryWait(failures+1, err))
			sctx, cancel := detached(ctx)
			defer cancel()
			if serr := m.cfg.Store.SetFailures(sctx, domain, failures+1, next, err.Error()); serr != nil {
				m.log.Error("acme: recording a failed order", "domain", domain, "err", serr)
			}
			return err
		}
		next = renewAt(leaf)
		if failures > 0 {
			return m.cfg.Store.SetFailures(ctx, domain, 0, time.Time{}, "")
		}
		return nil
	})
	return next, err
}

// retryWait is how long to wait after the n-th failure in a row: 5
// minutes, doubled at each failure up to 6 hours, or longer if the
// authority's rate limit says so.
func retryWait(n int, err error) time.Duration {
	wait := retryMax
	if n < 10 {
		wait = min(retryFirst<<(n-1), retryMax)
	}
	// RateLimit looks at an *acme.Error itself, not at one wrapped in it.
	var aerr *acmeapi.Error
	if errors.As(err, &aerr) {
		if limited, ok := acmeapi.RateLimit(aerr); ok {
			wait = max(wait, limited)
		}
	}
	return wait
}

// detached returns a context for finishing work after ctx ends: its
// values, without its cancellation, for at most 30 seconds.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// installStored installs domain's stored certificate unless it is the one
// installed already, and returns its leaf: nil when none is stored or it
// is unusable (expired, not for domain).
func (m *Manager) installStored(ctx context.Context, domain string) (*x509.Certificate, error) {
	certPEM, keyPEM, err := m.cfg.Store.Certificate(ctx, domain)
	if err != nil || certPEM == nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err == nil && (pair.Leaf.VerifyHostname(domain) != nil || !time.Now().Before(pair.Leaf.NotAfter)) {
		err = errors.New("expired, or not for this domain")
	}
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
	if m.cfg.Install != nil {
		m.cfg.Install(domain, cert)
	}
	m.mu.Lock()
	m.installed[domain] = cert.Leaf
	m.mu.Unlock()
	m.log.Info("acme: serving certificate", "domain", domain, "issuer", cert.Leaf.Issuer.String(),
		"not_after", cert.Leaf.NotAfter)
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
