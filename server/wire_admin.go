package server

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/adhoc"
	"xmppd/admin"
)

// admin offers ad-hoc commands (XEP-0050) at the hosts' JIDs, and the
// service administration commands (XEP-0133) to the configured admins.
func (w *wiring) admin(ctx context.Context) error {
	admin.Register(adhoc.New(w.router), w.router, admin.Config{
		Admins:   w.admins(),
		Accounts: w.accounts,
		Delete: func(ctx context.Context, account jid.JID) error {
			if err := deleteAccount(ctx, w, account); err != nil {
				return err
			}
			w.router.EndSessions(account, "not-authorized", "the account was deleted")
			return nil
		},
		Logger: w.log,
	})
	return nil
}

// admins returns the configured administrators, which config.Validate
// checked.
func (w *wiring) admins() []jid.JID {
	var admins []jid.JID
	for _, a := range w.cfg.Admins {
		admins = append(admins, jid.MustParse(a))
	}
	return admins
}
