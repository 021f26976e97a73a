package server

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/adhoc"
	"xmppd/admin"
	"xmppd/motd"
	"xmppd/storage/postgres"
)

// admin offers ad-hoc commands (XEP-0050) at the hosts' JIDs, and the
// service administration commands (XEP-0133) to the configured admins.
func (w *wiring) admin(ctx context.Context) error {
	motds := motd.New(w.router, postgres.NewMOTD(w.pool), w.log)
	if w.cluster != nil {
		// Each node caches the messages: a change on one is dropped by the others.
		motds.Changed = func(host string) { w.cluster.Forget(motdTopic, host) }
		w.cluster.OnForget(motdTopic, motds.Forget)
	}
	admin.Register(adhoc.New(w.router), w.router, admin.Config{
		MOTD:     motds,
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

// motdTopic names message of the day changes among the nodes of a cluster.
const motdTopic = "motd"
