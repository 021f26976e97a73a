package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"xmppd/internal/clientaddr"
)

// Token is a FAST token (XEP-0484) as stored: a secret the server gave one
// client of an account, for logging in again with an HT mechanism
// (draft-schmaus-kitten-sasl-ht) instead of the password.
type Token struct {
	Secret    string // the token, the HMAC key of the HT mechanism
	Mechanism string // the HT mechanism the token is bound to
	Issued    time.Time
	Expiry    time.Time
	Used      bool // the client has logged in with it
}

// TokenStore keeps FAST tokens for each client of an account, the client
// known by ClientKey of its SASL2 user agent id. A store deletes an
// account's tokens with the account and when its credentials change.
type TokenStore interface {
	// ClientTokens returns the tokens of client at username@domain.
	ClientTokens(ctx context.Context, domain, username string, client []byte) ([]Token, error)
	// AddToken stores t for client, dropping the client's tokens not yet
	// used and the account's expired ones, if what the login proved (g)
	// is still the account's: else it stores nothing and returns an
	// error wrapping ErrGrantGone.
	AddToken(ctx context.Context, domain, username string, client []byte, t Token, g Grant) error
	// UseToken marks the client's token secret used and drops the
	// client's other used tokens, the one it replaces; if secret is gone
	// meanwhile, it changes nothing.
	UseToken(ctx context.Context, domain, username string, client []byte, secret string) error
	// DeleteTokens drops all of the client's tokens.
	DeleteTokens(ctx context.Context, domain, username string, client []byte) error
}

// Grant is what a login proved, which a token made for it must not
// outlive: the credential it used (its StoredKey), or the token.
type Grant struct {
	StoredKey []byte
	Token     string
}

// ErrGrantGone: the credential or token a login used is no longer the
// account's (its password changed meanwhile).
var ErrGrantGone = errors.New("the login's credential or token is gone")

// Token lifetimes, as Prosody's: a token lasts three weeks, and a login
// with one older than a day brings the client a new one.
const (
	DefaultTokenLifetime = 21 * 24 * time.Hour
	tokenRenewAge        = 24 * time.Hour
)

// htPrefix begins the names of the HT mechanisms with SHA-256, the only
// hash XEP-0484 clients use; the channel binding follows.
const htPrefix = "HT-SHA-256-"

// htBindings maps the HT mechanisms' channel-binding suffixes to the
// binding types, in the order offered: bound first. NONE binds nothing.
var htBindings = []struct{ suffix, binding string }{
	{"EXPR", BindingTLSExporter},
	{"ENDP", BindingTLSServerEndPoint},
	{"NONE", ""},
}

// ClientKey is how a TokenStore knows a client: a hash of its user agent
// id, which is not kept.
func ClientKey(agent string) []byte {
	sum := sha256.Sum256([]byte(agent))
	return sum[:]
}

// FastMechanisms returns the HT mechanisms to offer for FAST on a
// connection with TLS state cs: those whose channel binding cs has, and
// HT-SHA-256-NONE. It is empty without TLS or without Config.Tokens.
func (s *Server) FastMechanisms(cs *tls.ConnectionState) []string {
	if s.tokens == nil || cs == nil {
		return nil
	}
	have := s.ChannelBindings(cs)
	var names []string
	for _, b := range htBindings {
		if b.binding == "" || slices.Contains(have, b.binding) {
			names = append(names, htPrefix+b.suffix)
		}
	}
	return names
}

// IsFastMechanism reports whether name is an HT mechanism, which only a
// FAST login (TokenLogin) takes.
func IsFastMechanism(name string) bool { return strings.HasPrefix(name, "HT-") }

// NewToken makes and stores a token for the client with user agent id
// agent of username@domain, bound to mechanism, one of FastMechanisms,
// for a login that proved g: none if the password changed since (an
// error wrapping ErrGrantGone).
func (s *Server) NewToken(ctx context.Context, domain, username, agent, mechanism string, g Grant) (Token, error) {
	secret := make([]byte, 32) // 256 bits; the draft asks for at least 128
	rand.Read(secret)
	now := time.Now().UTC().Truncate(time.Second)
	t := Token{
		Secret:    "xmppd-fast-" + base64.RawURLEncoding.EncodeToString(secret),
		Mechanism: mechanism,
		Issued:    now,
		Expiry:    now.Add(s.tokenLifetime),
	}
	if err := s.tokens.AddToken(ctx, domain, username, ClientKey(agent), t, g); err != nil {
		return Token{}, fmt.Errorf("auth: new token for %s@%s: %w", username, domain, err)
	}
	return t, nil
}

// TokenLogin is one FAST login: an SASL2 <authenticate/> with an HT
// mechanism.
type TokenLogin struct {
	Mechanism  string
	Domain     string
	Agent      string // the SASL2 user agent id
	Response   []byte // the initial response, base64-decoded
	Invalidate bool   // the client asks that the token be dropped
	// Request is the mechanism of the client's <request-token/>, or ""
	// for none. With Invalidate, the new token is made by LoginWithToken
	// (TokenResult.Token): the one the login used, which proves it, is
	// then gone.
	Request string
	Conn    *tls.ConnectionState
	Remote  string // the client's address, for throttling as Start
}

// TokenResult is what a successful FAST login gives.
type TokenResult struct {
	Username string // the normalized localpart
	Final    []byte // the responder message, for <additional-data/>
	// Renew is true when the token is old enough for the client to get a
	// new one (never when it was invalidated).
	Renew bool
	// Grant is the token the login used.
	Grant Grant
	// Token is the new token of an invalidating login that requested
	// one (TokenLogin.Request), or nil.
	Token *Token
}

// LoginWithToken verifies a FAST login (XEP-0484 §4.4). The initial
// response is "username NUL HMAC(token, 'Initiator' ‖ cb-data)"; the
// token must be one of the client's, bound to the mechanism and not
// expired. The error is a *Failure: malformed-request for a faulty
// request, credentials-expired for an expired token, not-authorized for
// anything else, delayed like a failed password.
func (s *Server) LoginWithToken(ctx context.Context, l TokenLogin) (TokenResult, error) {
	key := clientaddr.Key(l.Remote)
	fail := func(f *Failure) (TokenResult, error) {
		if f.Condition != TemporaryAuthFailure {
			s.sleep(ctx, s.throttle.failure(key))
		}
		return TokenResult{}, f
	}
	if !slices.Contains(s.FastMechanisms(l.Conn), l.Mechanism) {
		return TokenResult{}, &Failure{Condition: InvalidMechanism}
	}
	if l.Agent == "" {
		return fail(&Failure{Condition: MalformedRequest, Text: "FAST needs the client's user agent id"})
	}
	user, mac, ok := bytes.Cut(l.Response, []byte{0})
	if !ok || len(mac) != sha256.Size {
		return fail(&Failure{Condition: MalformedRequest, Text: "the response is not a username and an HMAC"})
	}
	username, ok := normalizeUsername(string(user), l.Domain)
	if !ok {
		return fail(&Failure{Condition: NotAuthorized})
	}
	cb, err := s.bindingData(l.Conn, l.Mechanism)
	if err != nil {
		return fail(&Failure{Condition: TemporaryAuthFailure, Err: err})
	}
	client := ClientKey(l.Agent)
	tokens, err := s.tokens.ClientTokens(ctx, l.Domain, username, client)
	if err != nil {
		return fail(&Failure{Condition: TemporaryAuthFailure, Err: fmt.Errorf("auth: tokens of %s@%s: %w", username, l.Domain, err)})
	}
	for _, t := range tokens {
		if !hmac.Equal(mac, htMAC(t.Secret, "Initiator", cb)) {
			continue
		}
		switch {
		case t.Mechanism != l.Mechanism:
			return fail(&Failure{Condition: NotAuthorized, Text: "the token is bound to another mechanism"})
		case !time.Now().Before(t.Expiry):
			return fail(&Failure{Condition: CredentialsExpired, Text: "the token has expired"})
		}
		var replacement *Token
		switch {
		case l.Invalidate:
			replacement, err = s.invalidate(ctx, l, username, client, t)
		case !t.Used:
			err = s.tokens.UseToken(ctx, l.Domain, username, client, t.Secret)
		}
		if err != nil {
			return fail(&Failure{Condition: TemporaryAuthFailure, Err: fmt.Errorf("auth: token of %s@%s: %w", username, l.Domain, err)})
		}
		return TokenResult{
			Username: username,
			Final:    htMAC(t.Secret, "Responder", cb),
			Renew:    !l.Invalidate && time.Since(t.Issued) >= tokenRenewAge,
			Grant:    Grant{Token: t.Secret},
			Token:    replacement,
		}, nil
	}
	return fail(&Failure{Condition: NotAuthorized})
}

// invalidate drops the tokens of the client, which logged in with t and
// logs out (XEP-0484 §3.6): a token it holds beside t must not log it in
// either. When the login also requested a token for a mechanism offered
// (l.Request), it returns the new token, which is then the client's only
// one: made while t still proves the login (AddToken's grant), which
// drops the client's unused tokens, and marked used, which drops the
// used ones, t among them.
func (s *Server) invalidate(ctx context.Context, l TokenLogin, username string, client []byte, t Token) (*Token, error) {
	if l.Request == "" || !slices.Contains(s.FastMechanisms(l.Conn), l.Request) {
		return nil, s.tokens.DeleteTokens(ctx, l.Domain, username, client)
	}
	nt, err := s.NewToken(ctx, l.Domain, username, l.Agent, l.Request, Grant{Token: t.Secret})
	if err != nil {
		return nil, err
	}
	if err := s.tokens.UseToken(ctx, l.Domain, username, client, nt.Secret); err != nil {
		return nil, err
	}
	return &nt, nil
}

// bindingData returns the channel-binding data of the HT mechanism mech
// on cs: empty for NONE.
func (s *Server) bindingData(cs *tls.ConnectionState, mech string) ([]byte, error) {
	for _, b := range htBindings {
		if htPrefix+b.suffix != mech || b.binding == "" {
			continue
		}
		for _, cb := range s.bindings(cs) {
			if string(cb.Type) == b.binding {
				return cb.Data, nil
			}
		}
		return nil, fmt.Errorf("auth: no %s channel binding on this connection", b.binding)
	}
	return nil, nil
}

// htMAC is the HT mechanism's HMAC-SHA-256 keyed with the token over
// label ‖ cb-data.
func htMAC(token, label string, cb []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(label))
	m.Write(cb)
	return m.Sum(nil)
}
