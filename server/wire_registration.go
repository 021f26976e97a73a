package server

import (
	"context"
	"strings"

	"mellium.im/xmpp/jid"

	"xmppd/register"
	"xmppd/storage/postgres"
)

// registration wires XEP-0077: password change and account removal for
// logged-in users always, and registration on unauthenticated streams
// (w.registrar) when the configuration enables it. With registration off
// the registrar still answers registration IQs, with service-unavailable
// (§3.1), and offers no feature.
func (w *wiring) registration(ctx context.Context) error {
	reg := w.cfg.Registration
	svc, err := register.New(register.Config{
		Enabled:           reg.Enabled,
		RequireInvite:     reg.RequireInvite,
		PerAddressPerHour: reg.PerAddressPerHour,
		Accounts:          w.accounts,
		Invites:           postgres.NewInvites(w.pool),
		Invited:           w.rosters.SubscribeMutually,
		// Run at removal, not copied now: modules wired later add theirs.
		BeforeDelete: []func(context.Context, jid.JID) error{w.beforeDelete},
		Logger:       w.log,
	})
	if err != nil {
		return err
	}
	svc.Register(w.router)
	w.registrar = svc
	if reg.Enabled {
		w.invitePage = svc.InvitePage(w.cfg.Hosts)
	}
	if w.cluster != nil {
		// A password change or an account's removal ends the logins made
		// before on every node, also those still to bind a resource.
		w.router.OnRevoke(func(bare jid.JID, condition, _ string) {
			w.cluster.Forget(revokeTopic, condition+" "+bare.String())
		})
		w.cluster.OnForget(revokeTopic, func(key string) {
			condition, account, _ := strings.Cut(key, " ")
			if bare, err := jid.Parse(account); err == nil {
				w.router.RevokeHere(bare, condition, "the account's logins were revoked")
			}
		})
	}
	return nil
}

// revokeTopic names revoked logins among the nodes of a cluster.
const revokeTopic = "revoke"
