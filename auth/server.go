package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
	"xmppd/internal/clientaddr"

	"github.com/xdg-go/scram"
	"mellium.im/xmpp/jid"
)

// ErrNoSuchUser is the error a Store returns (possibly wrapped) for an
// account that does not exist. Returning (nil, nil) or credentials without
// one for the requested hash is treated the same way.
var ErrNoSuchUser = errors.New("auth: no such user")

// Store looks up the stored credentials of an account.
type Store interface {
	// Credentials returns the credentials of username (a normalized
	// localpart) at domain (a normalized domainpart). For an unknown account
	// it returns an error wrapping ErrNoSuchUser. Any other error makes the
	// attempt fail with temporary-auth-failure.
	Credentials(ctx context.Context, domain, username string) ([]Credential, error)
}

// SASL failure conditions of RFC 6120 §6.5.
const (
	Aborted              = "aborted"
	AccountDisabled      = "account-disabled"
	CredentialsExpired   = "credentials-expired"
	EncryptionRequired   = "encryption-required"
	IncorrectEncoding    = "incorrect-encoding"
	InvalidAuthzID       = "invalid-authzid"
	InvalidMechanism     = "invalid-mechanism"
	MalformedRequest     = "malformed-request"
	MechanismTooWeak     = "mechanism-too-weak"
	NotAuthorized        = "not-authorized"
	TemporaryAuthFailure = "temporary-auth-failure"
)

// Failure is a SASL failure with an RFC 6120 §6.5 condition. Condition and
// Text may be sent to the client; Err, when set, is the internal cause (for
// example a store error) for the server's log and must not be sent.
type Failure struct {
	Condition string
	Text      string
	Err       error
}

// Error implements error.
func (f *Failure) Error() string {
	s := "auth: sasl failure: " + f.Condition
	if f.Text != "" {
		s += ": " + f.Text
	}
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

// Unwrap returns the internal cause, if any.
func (f *Failure) Unwrap() error { return f.Err }

// Config configures the SASL server.
type Config struct {
	// Store looks up credentials. Required.
	Store Store

	// Secret is the server secret used to derive fake credentials for
	// unknown users (deterministic per domain and username), so that the
	// salt shown for an unknown account is as stable as a real one. Required,
	// at least 16 bytes; keep it stable across restarts and cluster nodes.
	Secret []byte

	// Iterations is the iteration count shown in fake credentials of unknown
	// users. Set it to the count used for new accounts. Default
	// DefaultIterations.
	Iterations int

	// FailureDelay is the base delay added (inside Exchange.Step, before the
	// failure is returned) after a failed attempt from a remote host. The
	// n-th recent failure from the same host waits FailureDelay·2^(n-1),
	// capped at MaxFailureDelay; the count of recent failures drops by one
	// per minute without failures, and a success resets it. Default 1s;
	// negative disables the delay.
	FailureDelay time.Duration

	// MaxFailureDelay caps the delay. Default 30s.
	MaxFailureDelay time.Duration

	// MaxTrackedHosts bounds the number of remote hosts whose failures are
	// remembered; the least recently failing host is forgotten first.
	// Default 10000.
	MaxTrackedHosts int

	// ServerCertificate returns the leaf certificate this server presented
	// on the connection whose state is cs (the same pointer given to
	// Mechanisms, ChannelBindings or Start), or nil if unknown. It enables the
	// tls-server-end-point channel binding; when nil, or for certificates
	// whose signature algorithm RFC 5929 does not cover (e.g. Ed25519), that
	// binding is not offered.
	ServerCertificate func(cs *tls.ConnectionState) *x509.Certificate

	// Hashes are the SCRAM hashes offered (HashSHA1, HashSHA256,
	// HashSHA512); empty offers all. Accounts imported from another
	// server may have credentials of one hash only, and a client that
	// picks another fails: offering only that hash lets them log in.
	Hashes []string

	// Tokens keeps FAST tokens (XEP-0484); nil turns FAST off.
	Tokens TokenStore

	// TokenLifetime is how long a FAST token lasts. Default
	// DefaultTokenLifetime.
	TokenLifetime time.Duration
}

// Server is the SASL server. It is safe for concurrent use.
type Server struct {
	hashes     []*hashInfo // offered, strongest first
	store      Store
	secret     []byte
	iterations int
	serverCert func(*tls.ConnectionState) *x509.Certificate
	throttle   *throttle
	tokens     TokenStore
	// tokenLifetime is Config.TokenLifetime.
	tokenLifetime time.Duration
	// sleep waits for d or until ctx is done; replaced in tests.
	sleep func(ctx context.Context, d time.Duration)
}

// Default configuration values.
const (
	DefaultFailureDelay    = time.Second
	DefaultMaxFailureDelay = 30 * time.Second
	DefaultMaxTrackedHosts = 10000
	failureDecay           = time.Minute
)

// NewServer returns a Server for cfg.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("auth: new server: no store")
	}
	if len(cfg.Secret) < 16 {
		return nil, errors.New("auth: new server: secret shorter than 16 bytes")
	}
	if cfg.Iterations == 0 {
		cfg.Iterations = DefaultIterations
	}
	if cfg.Iterations < 1 {
		return nil, fmt.Errorf("auth: new server: iteration count %d is not positive", cfg.Iterations)
	}
	if cfg.FailureDelay == 0 {
		cfg.FailureDelay = DefaultFailureDelay
	}
	if cfg.MaxFailureDelay <= 0 {
		cfg.MaxFailureDelay = DefaultMaxFailureDelay
	}
	if cfg.MaxTrackedHosts <= 0 {
		cfg.MaxTrackedHosts = DefaultMaxTrackedHosts
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	hashes := hashesByStrength
	if len(cfg.Hashes) > 0 {
		hashes = nil
		for _, h := range hashesByStrength {
			if slices.Contains(cfg.Hashes, h.name) {
				hashes = append(hashes, h)
			}
		}
		if len(hashes) != len(cfg.Hashes) {
			return nil, fmt.Errorf("auth: new server: hashes %q: each must be one of %s, %s and %s, once", cfg.Hashes, HashSHA1, HashSHA256, HashSHA512)
		}
	}
	return &Server{
		hashes:        hashes,
		tokens:        cfg.Tokens,
		tokenLifetime: cfg.TokenLifetime,
		store:         cfg.Store,
		secret:        slices.Clone(cfg.Secret),
		iterations:    cfg.Iterations,
		serverCert:    cfg.ServerCertificate,
		throttle:      newThrottle(cfg.FailureDelay, cfg.MaxFailureDelay, failureDecay, cfg.MaxTrackedHosts, time.Now),
		sleep:         sleepContext,
	}, nil
}

func sleepContext(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Channel-binding type names (RFC 9266, RFC 5929).
const (
	BindingTLSExporter       = "tls-exporter"
	BindingTLSServerEndPoint = "tls-server-end-point"
)

// bindings returns the channel bindings available for cs, preferred first.
func (s *Server) bindings(cs *tls.ConnectionState) []scram.ChannelBinding {
	if cs == nil || !cs.HandshakeComplete {
		return nil
	}
	var cbs []scram.ChannelBinding
	if cs.Version >= tls.VersionTLS13 {
		if cb, err := scram.NewTLSExporterBinding(cs); err == nil && cb.IsSupported() {
			cbs = append(cbs, cb)
		}
	}
	if s.serverCert != nil {
		if leaf := s.serverCert(cs); leaf != nil {
			// The library hashes the peer's leaf; on the server side that is
			// our own certificate, so present it the way a client sees it.
			view := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
			if cb, err := scram.NewTLSServerEndpointBinding(view); err == nil && cb.IsSupported() {
				cbs = append(cbs, cb)
			}
		}
	}
	return cbs
}

// ChannelBindings returns the channel-binding type names available for cs,
// for the XEP-0440 <sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>
// feature: "tls-exporter" (TLS 1.3 only) and "tls-server-end-point" (when
// Config.ServerCertificate yields a certificate RFC 5929 covers). It is empty
// without TLS.
func (s *Server) ChannelBindings(cs *tls.ConnectionState) []string {
	var names []string
	for _, cb := range s.bindings(cs) {
		names = append(names, string(cb.Type))
	}
	return names
}

// mechanism is one offered SASL mechanism.
type mechanism struct {
	name string
	hash *hashInfo // nil for PLAIN
	plus bool
}

// mechanisms returns the mechanisms of hashes for a connection with or
// without TLS and with or without channel bindings, strongest first.
func mechanisms(hashes []*hashInfo, tlsOn, bindings bool) []mechanism {
	var ms []mechanism
	if tlsOn && bindings {
		for _, h := range hashes {
			ms = append(ms, mechanism{name: h.mech + "-PLUS", hash: h, plus: true})
		}
	}
	for _, h := range hashes {
		ms = append(ms, mechanism{name: h.mech, hash: h})
	}
	if tlsOn {
		ms = append(ms, mechanism{name: "PLAIN"})
	}
	return ms
}

// Mechanisms returns the mechanism names to offer on a connection, strongest
// first. With TLS (cs != nil): SCRAM-SHA-512-PLUS, SCRAM-SHA-256-PLUS,
// SCRAM-SHA-1-PLUS (only when a channel binding is available for cs),
// SCRAM-SHA-512, SCRAM-SHA-256, SCRAM-SHA-1, PLAIN. Without TLS: no -PLUS,
// no PLAIN. Only the SCRAM mechanisms of Config.Hashes are offered.
func (s *Server) Mechanisms(cs *tls.ConnectionState) []string {
	var names []string
	for _, m := range mechanisms(s.hashes, cs != nil, len(s.bindings(cs)) > 0) {
		names = append(names, m.name)
	}
	return names
}

// Start begins an authentication attempt with mechanism for an account at
// domain on a connection with TLS state cs (nil without TLS). remote is the
// client's address ("host:port" or a bare host); its host part keys the
// failure throttling. The error is a *Failure: invalid-mechanism for an
// unknown or unoffered mechanism, encryption-required for PLAIN without TLS,
// temporary-auth-failure for an invalid domain.
//
// A SCRAM exchange's server-first message carries the XEP-0474 hash of
// Mechanisms(cs) and, when there are any, ChannelBindings(cs): the caller
// must have offered exactly those, the latter as XEP-0440's feature.
func (s *Server) Start(ctx context.Context, mechanism, domain string, cs *tls.ConnectionState, remote string) (*Exchange, error) {
	if mechanism == "PLAIN" && cs == nil {
		return nil, &Failure{Condition: EncryptionRequired, Text: "PLAIN requires TLS"}
	}
	d, err := jid.New("", domain, "")
	if err != nil {
		return nil, &Failure{Condition: TemporaryAuthFailure, Err: fmt.Errorf("auth: start: invalid domain %q: %w", domain, err)}
	}
	cbs := s.bindings(cs)
	ex := &Exchange{srv: s, domain: d.Domainpart(), bindings: cbs, throttleKey: clientaddr.Key(remote)}
	var offered []string
	for _, m := range mechanisms(s.hashes, cs != nil, len(cbs) > 0) {
		if m.name == mechanism {
			ex.mech = m
		}
		offered = append(offered, m.name)
	}
	if ex.mech.name == "" {
		return nil, &Failure{Condition: InvalidMechanism}
	}
	if ex.mech.hash != nil {
		var types []string
		for _, cb := range cbs {
			types = append(types, string(cb.Type))
		}
		ex.ssdp = ssdpHash(ex.mech.hash, offered, types)
	}
	return ex, nil
}

// fakeCredential returns the credential shown for an account that does not
// exist (or has no usable credential for h): deterministic per secret, hash,
// domain and username, with the configured iteration count.
func (s *Server) fakeCredential(h *hashInfo, domain, username string) Credential {
	derive := func(label string, n int) []byte {
		m := hmac.New(sha512.New, s.secret)
		for _, part := range []string{"xmppd auth fake credential", label, h.name, domain, username} {
			m.Write(binary.AppendUvarint(nil, uint64(len(part))))
			m.Write([]byte(part))
		}
		return m.Sum(nil)[:n]
	}
	return Credential{
		Hash:       h.name,
		Salt:       derive("salt", SaltLen),
		Iterations: s.iterations,
		StoredKey:  derive("stored key", h.size),
		ServerKey:  derive("server key", h.size),
	}
}

// normalizeUsername returns the username as a normalized XMPP localpart.
func normalizeUsername(username, domain string) (string, bool) {
	if username == "" {
		return "", false
	}
	j, err := jid.New(username, domain, "")
	if err != nil || j.Localpart() == "" {
		return "", false
	}
	return j.Localpart(), true
}
