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
	var admins []jid.JID
	for _, a := range w.cfg.Admins {
		j, err := jid.Parse(a)
		if err != nil {
			return err // config.Validate checked them
		}
		admins = append(admins, j)
	}
	admin.Register(adhoc.New(w.router), w.router, admin.Config{
		Admins:   admins,
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
