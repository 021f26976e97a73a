package register

import (
	"context"
	"errors"

	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// own reports whether iq is addressed to the sender's own server or own
// account: a user manages only the account it is logged in to.
func own(iq router.IQ) bool {
	return iq.To.Domainpart() == iq.From.Domainpart() && iq.To.Resourcepart() == "" &&
		(iq.To.Localpart() == "" || iq.To.Localpart() == iq.From.Localpart())
}

// accountGet tells a logged-in user that it is registered (XEP-0077 §3.1).
func (s *Service) accountGet(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !own(iq) {
		return errorReply(iq, stanza.Forbidden, "")
	}
	q := xmlstream.NewElement(NS, "query")
	q.AddChild(xmlstream.NewElement(NS, "instructions").AddText("You are registered. Send a new password to change it, or <remove/> to delete your account."))
	q.AddChild(xmlstream.NewElement(NS, "registered"))
	q.AddChild(xmlstream.NewElement(NS, "username").AddText(iq.From.Localpart()))
	q.AddChild(xmlstream.NewElement(NS, "password"))
	return iq.Result(q)
}

// accountSet changes the password (§3.3) or removes the account (§3.2).
func (s *Service) accountSet(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !own(iq) {
		return errorReply(iq, stanza.Forbidden, "")
	}
	req := parseQuery(iq.Payload)
	if req.remove {
		if !req.alone {
			return errorReply(iq, stanza.BadRequest, "<remove/> must be the only child of the query")
		}
		return s.remove(ctx, iq)
	}
	if req.username == "" || req.password == "" {
		// An empty password never replaces the current one (§3.3).
		return errorReply(iq, stanza.BadRequest, "give your username and the new password")
	}
	if j, err := jid.New(req.username, iq.From.Domainpart(), ""); err != nil || j.Localpart() != iq.From.Localpart() {
		return errorReply(iq, stanza.Forbidden, "you can only change your own password")
	}
	if req.hasOld {
		current, err := s.cfg.Accounts.Credentials(ctx, iq.From.Domainpart(), iq.From.Localpart())
		if err != nil {
			s.log.Error("checking the old password", "jid", iq.From.Bare().String(), "err", err)
			return errorReply(iq, stanza.InternalServerError, "")
		}
		if !auth.VerifyPassword(current, req.oldPassword) {
			return errorReply(iq, stanza.NotAuthorized, "the old password is wrong")
		}
	}
	creds, err := auth.DeriveCredentials(req.password, auth.DefaultIterations)
	if err != nil {
		return errorReply(iq, stanza.NotAcceptable, "the password is not acceptable")
	}
	if err := s.cfg.Accounts.SetCredentials(ctx, iq.From.Domainpart(), iq.From.Localpart(), creds); err != nil {
		s.log.Error("changing a password", "jid", iq.From.Bare().String(), "err", err)
		return errorReply(iq, stanza.InternalServerError, "")
	}
	s.log.Info("password changed", "jid", iq.From.Bare().String())
	// Whoever else logged in with the old password is out, and must log
	// in with the new one.
	s.router.EndSessionsExcept(iq.From.Bare(), iq.From, "reset", "the account's password was changed")
	return iq.Result(nil)
}

// remove deletes the sender's account. The result is routed before the
// sessions end, so that the client sees it before the <not-authorized/>
// stream error XEP-0077 §3.2 asks for.
func (s *Service) remove(ctx context.Context, iq router.IQ) *xmlstream.Element {
	bare := iq.From.Bare()
	for _, f := range s.cfg.BeforeDelete {
		if err := f(ctx, bare); err != nil {
			s.log.Error("preparing account removal", "jid", bare.String(), "err", err)
			return errorReply(iq, stanza.InternalServerError, "")
		}
	}
	err := s.cfg.Accounts.Delete(ctx, bare.Domainpart(), bare.Localpart())
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.log.Error("removing an account", "jid", bare.String(), "err", err)
		return errorReply(iq, stanza.InternalServerError, "")
	}
	s.log.Info("account removed", "jid", bare.String())
	s.router.Route(ctx, iq.Result(nil))
	s.router.EndSessions(bare, "not-authorized", "the account was removed")
	return nil
}
