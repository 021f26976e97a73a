// Package certs provides the TLS certificates of xmppd's virtual hosts: PEM
// files per host chosen by SNI, self-signed certificates generated for hosts
// without one, and reload on demand (SIGHUP).
//
// Certificates are selected by the TLS Server Name Indication extension
// (RFC 6066, section 3) as RFC 6120, section 13.7.1.2 and XEP-0368 expect of
// an XMPP server; names are matched as RFC 6125 describes (a wildcard covers
// exactly one left-most label).
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// renewBefore is how long before expiry a generated certificate is replaced,
// and from when a loaded certificate's approaching expiry is warned about.
const renewBefore = 30 * 24 * time.Hour

// HostCert names the PEM files for one virtual host; empty paths mean
// "generate a self-signed certificate".
//
// Host is a DNS name in ASCII (A-label) form, a wildcard such as
// "*.example.com", "localhost" or an IP address. CertFile may hold the
// certificate chain, leaf first; KeyFile holds the private key in PKCS#8,
// PKCS#1 or SEC 1 (EC) form.
type HostCert struct {
	Host, CertFile, KeyFile string
	// ACME marks a host whose certificate Install will bring; its
	// self-signed certificate serves until then, without a warning.
	ACME bool
}

// Config configures the store.
type Config struct {
	// Hosts are the virtual hosts in order; the first one's certificate is
	// served to clients that send no or an unknown server name.
	Hosts []HostCert
	// DataDir is where generated self-signed certificates are kept
	// (DataDir/certs/<host>.crt and .key, the directory created 0700). A
	// generated certificate is reused on the next start and regenerated if
	// it has expired or expires within 30 days. Empty DataDir keeps
	// generated certificates in memory only.
	DataDir string
	// Logger receives a warning once per host that uses a self-signed
	// certificate and notes about loaded certificates; nil discards.
	Logger *slog.Logger
}

// Store holds the current certificates. Its methods are safe for concurrent
// use; handshakes read an immutable snapshot that Reload replaces atomically.
type Store struct {
	logger  *slog.Logger
	dataDir string
	hosts   []hostSpec // normalised, immutable after New

	mu     sync.Mutex                  // serialises loading; guards certs, issued and warned
	certs  []*tls.Certificate          // current certificate per hosts[i]
	issued map[string]*tls.Certificate // installed by Install, by name
	warned map[string]bool             // hosts already warned about self-signed use

	cur atomic.Pointer[snapshot]
	// validation, if set, answers handshakes that are certificate
	// validations (ACME's TLS-ALPN-01) instead of the configuration.
	validation atomic.Pointer[func(*tls.ClientHelloInfo) (*tls.Config, error)]
}

// hostSpec is one configured host after normalisation.
type hostSpec struct {
	name     string // lower case, no trailing dot, no IPv6 brackets
	certFile string
	keyFile  string
	acme     bool
}

// snapshot is an immutable view of the certificates used by handshakes.
type snapshot struct {
	exact    map[string]*tls.Certificate // by host name
	wildcard map[string]*tls.Certificate // "*.example.com" stored as "example.com"
	def      *tls.Certificate            // the first host's certificate
}

// New loads the configured certificate files and loads or generates the
// self-signed certificates of hosts without files. Errors name the host and
// the file.
func New(cfg Config) (*Store, error) {
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("certs: new: no hosts configured")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		logger:  logger,
		dataDir: cfg.DataDir,
		issued:  make(map[string]*tls.Certificate),
		warned:  make(map[string]bool),
	}
	seen := make(map[string]bool, len(cfg.Hosts))
	for _, hc := range cfg.Hosts {
		name, err := normaliseHost(hc.Host)
		if err != nil {
			return nil, fmt.Errorf("certs: new: %w", err)
		}
		if seen[name] {
			return nil, fmt.Errorf("certs: new: host %q is configured twice", hc.Host)
		}
		seen[name] = true
		if (hc.CertFile == "") != (hc.KeyFile == "") {
			return nil, fmt.Errorf("certs: new: host %q: cert file and key file must both be set or both be empty", hc.Host)
		}
		s.hosts = append(s.hosts, hostSpec{name: name, certFile: hc.CertFile, keyFile: hc.KeyFile, acme: hc.ACME})
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs = make([]*tls.Certificate, len(s.hosts))
	for i, h := range s.hosts {
		c, err := s.load(h)
		if err != nil {
			return nil, fmt.Errorf("certs: new: %w", err)
		}
		s.certs[i] = c
	}
	s.publish()
	return s, nil
}

// Reload re-reads every certificate file (and renews generated certificates
// that are due). All hosts are attempted; a host whose files cannot be loaded
// keeps its previous certificate, and the errors, naming host and file, are
// returned joined. Handshakes in progress are not disturbed.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	changed := false
	for i, h := range s.hosts {
		c, err := s.load(h)
		if err != nil {
			errs = append(errs, fmt.Errorf("certs: reload: %w (keeping the previous certificate)", err))
			continue
		}
		s.certs[i] = c
		changed = true
	}
	if changed {
		s.publish()
	}
	return errors.Join(errs...)
}

// Install serves cert, from now on, to handshakes naming name exactly, in
// place of the host's files or self-signed certificate; Reload keeps it.
// Certificates obtained by ACME come this way.
func (s *Store) Install(name string, cert *tls.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issued[strings.TrimSuffix(strings.ToLower(name), ".")] = cert
	s.publish()
}

// TLSConfig returns a new server configuration that selects the certificate
// by SNI: the host of that name, else a configured wildcard covering it,
// else a host one label up whose certificate covers the name (so
// conference.example.com gets example.com's certificate, whose names include
// *.example.com), else the first host's certificate. The minimum version is
// TLS 1.2; NextProtos is left to the caller. The configuration follows
// Reload without being replaced.
//
// A handshake whose context carries a Presented records there the
// certificate its session is bound to (see Presented), and runs with a
// copy of this configuration as it is then: set fields such as
// NextProtos on the configuration returned, and do not Clone it, for a
// clone's handshakes that carry a Presented would run with this one's
// fields.
func (s *Store) TLSConfig() *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := s.Certificate(hello.ServerName)
			if err == nil {
				PresentedFrom(hello.Context()).choose(c)
			}
			return c, err
		},
	}
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if v := s.validation.Load(); v != nil {
			if c, err := (*v)(hello); c != nil || err != nil {
				return c, err
			}
		}
		if p := PresentedFrom(hello.Context()); p != nil {
			return p.config(cfg), nil
		}
		return nil, nil
	}
	return cfg
}

// SetValidation has f answer every handshake first: a configuration of
// its own for a certificate validation, such as ACME's TLS-ALPN-01, or
// nil, nil to go on with the store's. It reaches configurations made by
// TLSConfig before and after.
func (s *Store) SetValidation(f func(*tls.ClientHelloInfo) (*tls.Config, error)) {
	s.validation.Store(&f)
}

// Certificate returns the certificate a handshake with the server name host
// is given right now, using the same selection as TLSConfig, including the
// fallback to the first host for an empty or unknown name. The result must
// not be modified.
func (s *Store) Certificate(host string) (*tls.Certificate, error) {
	sn := s.cur.Load()
	if sn == nil {
		return nil, errors.New("certs: certificate: store has no certificates")
	}
	return sn.lookup(host), nil
}

// lookup selects the certificate for a server name.
func (sn *snapshot) lookup(serverName string) *tls.Certificate {
	name := strings.TrimSuffix(strings.ToLower(serverName), ".")
	if name == "" {
		return sn.def
	}
	if c := sn.exact[name]; c != nil {
		return c
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		parent := name[i+1:]
		if c := sn.wildcard[parent]; c != nil {
			return c
		}
		if c := sn.exact[parent]; c != nil && c.Leaf != nil && c.Leaf.VerifyHostname(name) == nil {
			return c
		}
	}
	return sn.def
}

// publish builds a snapshot from s.certs and makes it current. s.mu is held.
func (s *Store) publish() {
	sn := &snapshot{
		exact:    make(map[string]*tls.Certificate),
		wildcard: make(map[string]*tls.Certificate),
		def:      s.certs[0],
	}
	for i, h := range s.hosts {
		if suffix, ok := strings.CutPrefix(h.name, "*."); ok {
			sn.wildcard[suffix] = s.certs[i]
		} else {
			sn.exact[h.name] = s.certs[i]
		}
	}
	for name, c := range s.issued {
		sn.exact[name] = c
		if name == s.hosts[0].name {
			sn.def = c
		}
	}
	s.cur.Store(sn)
}

// load returns the certificate of one host from its files or, without
// files, the self-signed one. s.mu is held.
func (s *Store) load(h hostSpec) (*tls.Certificate, error) {
	if h.certFile == "" {
		c, err := s.selfSigned(h)
		if err != nil {
			return nil, fmt.Errorf("host %q: %w", h.name, err)
		}
		return c, nil
	}
	c, err := loadPair(h.certFile, h.keyFile)
	if err != nil {
		return nil, fmt.Errorf("host %q: %w", h.name, err)
	}
	s.checkLeaf(h, c.Leaf)
	return c, nil
}

// checkLeaf logs whether a loaded certificate suits its host and when it
// expires. Problems are warnings: an operator may knowingly serve them.
func (s *Store) checkLeaf(h hostSpec, leaf *x509.Certificate) {
	if !covers(leaf, h.name) {
		s.logger.Warn("certs: TLS certificate does not cover its host; clients will reject it",
			"host", h.name, "file", h.certFile, "dns_names", leaf.DNSNames, "ip_addresses", leaf.IPAddresses)
	}
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		s.logger.Warn("certs: TLS certificate has expired",
			"host", h.name, "file", h.certFile, "not_after", leaf.NotAfter)
	case now.Before(leaf.NotBefore):
		s.logger.Warn("certs: TLS certificate is not valid yet",
			"host", h.name, "file", h.certFile, "not_before", leaf.NotBefore)
	case leaf.NotAfter.Sub(now) < renewBefore:
		s.logger.Warn("certs: TLS certificate expires soon",
			"host", h.name, "file", h.certFile, "not_after", leaf.NotAfter)
	default:
		s.logger.Info("certs: loaded TLS certificate",
			"host", h.name, "file", h.certFile, "not_after", leaf.NotAfter)
	}
}

// selfSigned reuses the generated certificate of a host if it is still good
// for more than renewBefore, and generates and stores a new one otherwise.
// s.mu is held.
func (s *Store) selfSigned(h hostSpec) (*tls.Certificate, error) {
	if s.dataDir == "" {
		certPEM, keyPEM, err := Generate(h.name, time.Now())
		if err != nil {
			return nil, err
		}
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("load generated certificate: %w", err)
		}
		s.warnSelfSigned(h, "(in memory, no data directory)", "")
		return &c, nil
	}

	dir := filepath.Join(s.dataDir, "certs")
	base, err := fileBase(h.name)
	if err != nil {
		return nil, err
	}
	certFile := filepath.Join(dir, base+".crt")
	keyFile := filepath.Join(dir, base+".key")

	now := time.Now()
	c, err := loadPair(certFile, keyFile)
	switch {
	case err == nil && usable(c.Leaf, h.name, now):
		s.warnSelfSigned(h, certFile, keyFile)
		return c, nil
	case err == nil:
		s.logger.Info("certs: renewing self-signed TLS certificate",
			"host", h.name, "file", certFile, "not_after", c.Leaf.NotAfter)
	case !errors.Is(err, fs.ErrNotExist):
		s.logger.Warn("certs: replacing unusable self-signed TLS certificate",
			"host", h.name, "file", certFile, "error", err)
	}

	certPEM, keyPEM, err := Generate(h.name, now)
	if err != nil {
		return nil, err
	}
	if err := makeDir(dir); err != nil {
		return nil, err
	}
	// The key goes first: a crash in between leaves a pair that does not
	// match, which the next start replaces.
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load generated certificate %s: %w", certFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse generated certificate %s: %w", certFile, err)
		}
	}
	s.logger.Info("certs: generated self-signed TLS certificate",
		"host", h.name, "file", certFile, "not_after", pair.Leaf.NotAfter)
	s.warnSelfSigned(h, certFile, keyFile)
	return &pair, nil
}

// warnSelfSigned logs, once per host and store, that a host serves a
// self-signed certificate. s.mu is held.
func (s *Store) warnSelfSigned(h hostSpec, certFile, keyFile string) {
	if s.warned[h.name] || h.acme {
		return
	}
	s.warned[h.name] = true
	s.logger.Warn("certs: host uses a self-signed TLS certificate that clients will not trust; "+
		"to use a real one, turn on [acme] to get it from Let's Encrypt, or configure a certificate and key PEM file "+
		"for this host (a [[tls.certificates]] entry with host, cert and key), and restart xmppd",
		"host", h.name, "cert_file", certFile, "key_file", keyFile)
}

// usable reports whether a generated certificate may be kept: it covers the
// host, is already valid, and stays valid for more than renewBefore.
func usable(leaf *x509.Certificate, host string, now time.Time) bool {
	return leaf != nil && covers(leaf, host) &&
		!now.Before(leaf.NotBefore) && leaf.NotAfter.Sub(now) > renewBefore
}

// covers reports whether the leaf certificate is valid for host; a wildcard
// host must appear literally among the DNS names.
func covers(leaf *x509.Certificate, host string) bool {
	if strings.HasPrefix(host, "*.") {
		for _, n := range leaf.DNSNames {
			if strings.EqualFold(n, host) {
				return true
			}
		}
		return false
	}
	return leaf.VerifyHostname(host) == nil
}

// LoadFiles reads and checks a certificate (chain) file and its key file
// as the store does, for `xmppd check-config`: the certificates parse and
// the key is the certificate's.
func LoadFiles(certFile, keyFile string) (*tls.Certificate, error) {
	return loadPair(certFile, keyFile)
}

// loadPair reads a certificate (chain) file and a key file. Errors name the
// file at fault and wrap fs errors.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read certificate file: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if err := checkCertPEM(certPEM); err != nil {
		return nil, fmt.Errorf("parse certificate file %s: %w", certFile, err)
	}
	if !hasKeyBlock(keyPEM) {
		return nil, fmt.Errorf("parse key file %s: no PEM private key block found", keyFile)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load key pair %s and %s: %w", certFile, keyFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse certificate file %s: %w", certFile, err)
		}
	}
	return &pair, nil
}

// checkCertPEM verifies that data holds at least one certificate and that
// every certificate in it parses.
func checkCertPEM(data []byte) error {
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		n++
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %w", n, err)
		}
	}
	if n == 0 {
		return errors.New("no PEM CERTIFICATE block found")
	}
	return nil
}

// hasKeyBlock reports whether data holds a PEM private key block of any of
// the forms tls.X509KeyPair accepts.
func hasKeyBlock(data []byte) bool {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return false
		}
		if block.Type == "PRIVATE KEY" || strings.HasSuffix(block.Type, " PRIVATE KEY") {
			return true
		}
	}
}

// normaliseHost lower-cases a host, drops a trailing dot and IPv6 brackets.
func normaliseHost(host string) (string, error) {
	name := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		name = name[1 : len(name)-1]
	}
	if name == "" || name == "*." || strings.ContainsAny(name, "/\\\x00") ||
		(strings.Contains(name, "*") && !(strings.HasPrefix(name, "*.") && !strings.Contains(name[2:], "*"))) {
		return "", fmt.Errorf("host %q is not a valid host name", host)
	}
	if a, err := netip.ParseAddr(name); err == nil {
		name = a.String()
	}
	return name, nil
}

// fileBase returns the file name (without extension) for a host's generated
// certificate, refusing names that could escape the directory.
func fileBase(host string) (string, error) {
	if host == "" || host[0] == '.' || strings.Contains(host, "..") {
		return "", fmt.Errorf("cannot store a certificate for host name %q; configure certificate files", host)
	}
	var b strings.Builder
	for _, r := range host {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.', r == '_', r == ':':
			b.WriteRune(r)
		case r == '*':
			b.WriteByte('_')
		default:
			return "", fmt.Errorf("cannot store a certificate for host name %q; configure certificate files", host)
		}
	}
	return b.String(), nil
}

// makeDir creates dir (and its parents) with mode 0700.
func makeDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create certificate directory: %w", err)
	}
	// MkdirAll is subject to the umask; make the mode exact.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("create certificate directory: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside name with mode perm
// and renames it into place, so readers never see a partial file.
func writeFileAtomic(name string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
