// Package register implements XEP-0077: In-Band Registration — creating an
// account on a stream that has not authenticated yet, changing the
// password and removing the account once logged in — with invitation
// tokens (XEP-0401 tokens, redeemed as in XEP-0445 or through a form
// field) and a per-address limit.
//
// Behaviour and the choices XEP-0077 leaves open:
//
//   - Registration is off unless Config.Enabled; off, the Service (a
//     c2s.Registrar) offers no stream feature and answers registration
//     IQs with service-unavailable, as §3.1 requires. Password
//     change and account removal for logged-in users are always on, as in
//     Prosody and ejabberd, so disco#info announces jabber:iq:register
//     always: clients use it to offer "change password" (XEP-0077 §11).
//   - An invalid username is jid-malformed; missing or empty fields are
//     not-acceptable (§3.1); a taken username is conflict.
//   - A missing, unknown, used or expired invitation is forbidden (type
//     auth: the client may retry with a token). The XEP-0445 preauth IQ
//     answers item-not-found for a bad token, as that XEP shows.
//   - Too many registrations from one address is resource-constraint (type
//     wait), as ejabberd answers. Addresses are counted per IPv4 address
//     and per IPv6 /64; only successful registrations count.
//   - Error replies never echo the request: it holds a password (§3.3).
//   - A password change form (FORM_TYPE jabber:iq:register:changepassword)
//     that carries old_password changes the password only if it is the
//     current one; otherwise it is not-authorized (§3.3). Before login
//     such a form is unexpected-request, as §3.3 answers an entity not
//     registered with the server, and creates no account.
//   - A submitted cancellation form (FORM_TYPE jabber:iq:register:cancel)
//     asks for removal as <remove/> does; it never changes the password.
//   - Removal (§3.2) runs Config.BeforeDelete, deletes the account (the
//     database cascades the rest), answers the result, then ends every
//     session of the account with a <not-authorized/> stream error.
package register

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/router"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0077, XEP-0004 and XEP-0445.
const (
	NS        = "jabber:iq:register"
	NSFeature = "http://jabber.org/features/iq-register"
	NSData    = "jabber:x:data"
	NSPreauth = "urn:xmpp:pars:0"
	// NSTokenFeature is the stream feature of XEP-0445 §3.
	NSTokenFeature = "urn:xmpp:ibr-token:0"
)

// Accounts creates, changes and deletes accounts. Domain and username are
// normalised by the caller.
type Accounts interface {
	// Create creates the account; one that exists is storage.ErrExists.
	Create(ctx context.Context, domain, username string, creds []auth.Credential) error
	// Exists reports whether the account exists.
	Exists(ctx context.Context, domain, username string) (bool, error)
	// Credentials returns the account's credentials.
	Credentials(ctx context.Context, domain, username string) ([]auth.Credential, error)
	// SetCredentials replaces the account's credentials.
	SetCredentials(ctx context.Context, domain, username string, creds []auth.Credential) error
	// Delete deletes the account and, by cascade, its data.
	Delete(ctx context.Context, domain, username string) error
}

// Invites checks and redeems invitation tokens.
type Invites interface {
	// Valid reports whether token is an unused invitation for domain that
	// has not expired at time at.
	Valid(ctx context.Context, domain, token string, at time.Time) (bool, error)
	// Names returns the username of the account of domain that made the
	// invitation token and the username the invitation reserves, each ""
	// for none (both for an unknown token).
	Names(ctx context.Context, domain, token string) (inviter, username string, err error)
	// Reserved reports whether an unused invitation of domain, valid at
	// time at, reserves username for someone other than the holder of
	// token ("" for no token).
	Reserved(ctx context.Context, domain, username, token string, at time.Time) (bool, error)
	// CreateAccount uses token (unused, for domain, not expired at
	// validAt) and creates the account in one transaction, and returns
	// the username of the account that made the invitation, "" for none.
	// An unusable token is storage.ErrNotFound, a token that reserves
	// another username ErrOtherUsername, an existing account
	// storage.ErrExists.
	CreateAccount(ctx context.Context, domain, token string, validAt time.Time, username string, creds []auth.Credential) (inviter string, err error)
}

// ErrOtherUsername is the error of an invitation used to register a
// username other than the one it reserves.
var ErrOtherUsername = errors.New("the invitation is for another username")

// Config configures the Service.
type Config struct {
	// Enabled lets unauthenticated clients create accounts.
	Enabled bool
	// RequireInvite accepts a registration only with an invitation token.
	RequireInvite bool
	// PerAddressPerHour is how many accounts one address may create per
	// hour; 0 means no limit.
	PerAddressPerHour int
	// Accounts is the account store.
	Accounts Accounts
	// Invites is the invitation store; required with RequireInvite.
	Invites Invites
	// Invited is called after an account was created with an invitation
	// that inviter, an account of the same domain, made (XEP-0401): the
	// two are to be subscribed to each other. nil: nothing is done.
	Invited func(ctx context.Context, account, inviter jid.JID) error
	// BeforeDelete is called, in order, before an account is removed, so
	// that modules can undo what the database cascade cannot (e.g. tell
	// contacts that subscriptions end). An error keeps the account.
	BeforeDelete []func(ctx context.Context, bare jid.JID) error
	// Logger receives one line per account created or removed; nil
	// discards.
	Logger *slog.Logger
	// Now returns the current time; nil is time.Now. Tests set it.
	Now func() time.Time
}

// Validate reports what is wrong with cfg.
func (cfg *Config) Validate() error {
	switch {
	case cfg.Accounts == nil:
		return fmt.Errorf("register: no account store")
	case cfg.RequireInvite && cfg.Invites == nil:
		return fmt.Errorf("register: invitations are required but there is no invitation store")
	case cfg.PerAddressPerHour < 0:
		return fmt.Errorf("register: per-address limit %d is negative", cfg.PerAddressPerHour)
	}
	return nil
}

// Service serves in-band registration. Its Feature and HandleIQ make it a
// c2s.Registrar; Register adds the handlers for logged-in users.
type Service struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	limit    *limiter
	preauths *preauths
	router   *router.Router // set by Register
}

// New returns the Service for cfg.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.limit = newLimiter(cfg.PerAddressPerHour, time.Hour, maxTracked)
	s.preauths = newPreauths(preauthTTL, maxTracked)
	return s, nil
}

// Register answers jabber:iq:register queries from logged-in users, sent
// to their server or to their own account (password change, removal,
// "am I registered"), and announces the feature in disco#info.
func (s *Service) Register(r *router.Router) {
	s.router = r
	r.AddFeature(NS)
	for _, target := range []router.Target{router.ToServer, router.ToAccount} {
		r.HandleIQ(target, "get", NS, "query", s.accountGet)
		r.HandleIQ(target, "set", NS, "query", s.accountSet)
	}
}

// errorReply answers iq with condition, without echoing its payload, which
// may hold a password (XEP-0077 §3.3).
func errorReply(iq router.IQ, condition, text string) *xmlstream.Element {
	st := iq.Stanza.Copy()
	st.Children = nil
	iq.Stanza = st
	return iq.Error(condition, text)
}
