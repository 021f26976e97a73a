package server

import (
	"context"

	"xmppd/register"
	"xmppd/storage/postgres"
)

// registration wires XEP-0077: password change and account removal for
// logged-in users always, and registration on unauthenticated streams
// (w.registrar) when the configuration enables it.
func (w *wiring) registration(ctx context.Context) error {
	reg := w.cfg.Registration
	svc, err := register.New(register.Config{
		Enabled:           reg.Enabled,
		RequireInvite:     reg.RequireInvite,
		PerAddressPerHour: reg.PerAddressPerHour,
		Accounts:          w.accounts,
		Invites:           postgres.NewInvites(w.pool),
		BeforeDelete:      w.accountDeleted,
		Logger:            w.log,
	})
	if err != nil {
		return err
	}
	svc.Register(w.router)
	if reg.Enabled {
		w.registrar, w.invitePage = svc, svc.InvitePage(w.cfg.Hosts)
	}
	return nil
}
