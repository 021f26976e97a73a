package register

import (
	"context"
	"errors"

	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/internal/clientaddr"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// Features returns the iq-register stream feature (XEP-0077 §8) and,
// with an invitation store, the XEP-0445 one that apps look for before
// they send a preauth IQ (§3); none when registration is off.
func (s *Service) Features() []*xmlstream.Element {
	if !s.cfg.Enabled {
		return nil
	}
	features := []*xmlstream.Element{xmlstream.NewElement(NSFeature, "register")}
	if s.cfg.Invites != nil {
		features = append(features, xmlstream.NewElement(NSTokenFeature, "register"))
	}
	return features
}

// HandleIQ answers a registration IQ from a client that has not
// authenticated: the form (get), the registration (set), and the XEP-0445
// preauth IQ. remote identifies the connection; its address is the key of
// the per-address limit.
func (s *Service) HandleIQ(ctx context.Context, domain, remote string, secure bool, iq *xmlstream.Element) *xmlstream.Element {
	typ := iq.Attr("type")
	if typ != "get" && typ != "set" {
		return nil
	}
	if !s.cfg.Enabled {
		return streamError(iq, stanza.ServiceUnavailable, "")
	}
	q := iq.FirstChildElement()
	switch {
	case q != nil && q.Name.Space == NSPreauth && q.Name.Local == "preauth" && typ == "set":
		return s.preauth(ctx, domain, remote, iq, q.Attr("token"))
	case q == nil || q.Name.Space != NS || q.Name.Local != "query":
		return streamError(iq, stanza.ServiceUnavailable, "")
	case typ == "get":
		return stanza.Result(iq, registrationForm(s.cfg.RequireInvite))
	}
	return s.create(ctx, domain, remote, iq, parseQuery(q))
}

// streamError answers an IQ on an unauthenticated stream without echoing
// its payload.
func streamError(iq *xmlstream.Element, condition, text string) *xmlstream.Element {
	st := iq.Copy()
	st.Children = nil
	return stanza.ErrorReply(st, condition, text)
}

// preauth checks an invitation token before registration (XEP-0445) and
// remembers it for the connection. The token is used only when the
// account is created, and its expiry is judged now, not then.
func (s *Service) preauth(ctx context.Context, domain, remote string, iq *xmlstream.Element, token string) *xmlstream.Element {
	if s.cfg.Invites == nil {
		return streamError(iq, stanza.ServiceUnavailable, "")
	}
	now := s.now()
	ok, err := s.cfg.Invites.Valid(ctx, domain, token, now)
	if err != nil {
		s.log.Error("checking an invitation", "domain", domain, "err", err)
		return streamError(iq, stanza.InternalServerError, "")
	}
	if token == "" || !ok {
		return streamError(iq, stanza.ItemNotFound, "the invitation is unknown, used or expired")
	}
	s.preauths.put(remote, preauth{domain: domain, token: token, at: now})
	return stanza.Result(iq, nil)
}

// create registers a new account (XEP-0077 §3.1).
func (s *Service) create(ctx context.Context, domain, remote string, iq *xmlstream.Element, req request) *xmlstream.Element {
	if req.remove {
		return streamError(iq, "unexpected-request", "log in to remove your account")
	}
	if req.changePassword {
		// Not registered yet: no password to change (§3.3).
		return streamError(iq, "unexpected-request", "log in to change your password")
	}
	if req.username == "" || req.password == "" {
		return streamError(iq, stanza.NotAcceptable, "a username and a password are required")
	}
	j, err := jid.New(req.username, domain, "")
	if err != nil || j.Localpart() == "" {
		return streamError(iq, stanza.JIDMalformed, "the username is not valid in an XMPP address")
	}
	username := j.Localpart()
	now := s.now()
	token, validAt := req.token, now
	if token == "" {
		if p, ok := s.preauths.get(remote, domain, now); ok {
			token, validAt = p.token, p.at
		}
	}
	if s.cfg.Invites == nil {
		token = ""
	}
	if s.cfg.RequireInvite && token == "" {
		return streamError(iq, stanza.Forbidden, "registration needs an invitation")
	}
	// The cheap refusals first: deriving the credentials takes three
	// key stretchings, which a client must not have the server do for
	// nothing, again and again.
	key := clientaddr.Key(remote)
	if !s.limit.reserve(key, now) {
		s.log.Info("registration refused: too many from one address", "remote", remote, "domain", domain)
		return streamError(iq, stanza.ResourceConstraint, "too many accounts were created from your address; try again later")
	}
	if token != "" {
		if ok, err := s.cfg.Invites.Valid(ctx, domain, token, validAt); err == nil && !ok {
			if s.cfg.RequireInvite {
				s.limit.release(key, now)
				return streamError(iq, stanza.Forbidden, "the invitation is unknown, used or expired")
			}
			token = "" // open registration needs none
		}
	}
	if exists, err := s.cfg.Accounts.Exists(ctx, domain, username); err == nil && exists {
		s.limit.release(key, now)
		return streamError(iq, stanza.Conflict, "the username is taken")
	}
	if s.cfg.Invites != nil {
		// An administrator's invitation keeps its username for its holder
		// (XEP-0401 §6.2).
		reserved, err := s.cfg.Invites.Reserved(ctx, domain, username, token, now)
		if err != nil {
			s.limit.release(key, now)
			s.log.Error("checking reserved usernames", "domain", domain, "err", err)
			return streamError(iq, stanza.InternalServerError, "")
		}
		if reserved {
			s.limit.release(key, now)
			return streamError(iq, stanza.Conflict, "the username is reserved for an invited person")
		}
	}
	creds, err := auth.DeriveCredentials(req.password, auth.DefaultIterations)
	if err != nil {
		s.limit.release(key, now)
		return streamError(iq, stanza.NotAcceptable, "the password is not acceptable")
	}
	var inviter string
	if token != "" {
		inviter, err = s.cfg.Invites.CreateAccount(ctx, domain, token, validAt, username, creds)
	} else {
		err = s.cfg.Accounts.Create(ctx, domain, username, creds)
	}
	if err != nil {
		s.limit.release(key, now)
		switch {
		case errors.Is(err, storage.ErrExists):
			return streamError(iq, stanza.Conflict, "the username is taken")
		case errors.Is(err, storage.ErrNotFound):
			return streamError(iq, stanza.Forbidden, "the invitation is unknown, used or expired")
		case errors.Is(err, ErrOtherUsername):
			return streamError(iq, stanza.NotAllowed, "the invitation is for another username")
		}
		s.log.Error("registering an account", "jid", j.String(), "err", err)
		return streamError(iq, stanza.InternalServerError, "")
	}
	s.befriend(ctx, j, inviter)
	s.preauths.drop(remote)
	s.log.Info("account registered", "jid", j.String(), "remote", remote, "invite", token != "", "inviter", inviter)
	return stanza.Result(iq, nil)
}

// befriend subscribes account and inviter, the username of the account
// whose invitation created it, to each other; "" is none. A failure is
// logged: the account exists, and its user can still add the inviter.
func (s *Service) befriend(ctx context.Context, account jid.JID, inviter string) {
	if inviter == "" || s.cfg.Invited == nil {
		return
	}
	from, err := jid.New(inviter, account.Domainpart(), "")
	if err == nil {
		err = s.cfg.Invited(ctx, account, from)
	}
	if err != nil {
		s.log.Error("subscribing an invited account and its inviter", "jid", account.String(), "inviter", inviter, "err", err)
	}
}
