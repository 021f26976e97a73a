package server

import (
	"context"
	"slices"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/adhoc"
	"xmppd/admin"
	"xmppd/motd"
	"xmppd/register"
	"xmppd/storage/postgres"
)

// admin offers ad-hoc commands (XEP-0050) at the hosts' JIDs: the
// service administration commands (XEP-0133) to the configured admins,
// and, when registration is on, invitations of friends (XEP-0401) to
// every user.
func (w *wiring) admin(ctx context.Context) error {
	motds := motd.New(w.router, postgres.NewMOTD(w.pool), w.log)
	if w.cluster != nil {
		// Each node caches the messages: a change on one is dropped by the others.
		motds.Changed = func(host string) { w.cluster.Forget(motdTopic, host) }
		w.cluster.OnForget(motdTopic, motds.Forget)
		w.cluster.OnLost(func() {
			for _, host := range w.cfg.Hosts {
				motds.Forget(host)
			}
		})
	}
	commands := adhoc.New(w.router)
	admins := w.admins()
	if w.cfg.Registration.Enabled {
		invites := postgres.NewInvites(w.pool)
		commands.Add(register.InviteCommand(w.cfg.Hosts, func(ctx context.Context, domain, inviter string, expires time.Time) (string, error) {
			inv, err := invites.Add(ctx, postgres.Invite{Domain: domain, Inviter: inviter, Expires: expires})
			return inv.Token, err
		}, w.landingBase, time.Now))
		isAdmin := func(j jid.JID) bool {
			return slices.ContainsFunc(admins, func(a jid.JID) bool { return a.Equal(j.Bare()) })
		}
		commands.Add(register.CreateAccountCommand(w.cfg.Hosts, isAdmin, func(ctx context.Context, domain, inviter, username string, expires time.Time) (string, error) {
			inv, err := invites.Add(ctx, postgres.Invite{Domain: domain, Inviter: inviter, Username: username, Expires: expires})
			return inv.Token, err
		}, w.landingBase, time.Now))
	}
	admin.Register(commands, w.router, admin.Config{
		MOTD:     motds,
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

// landingBase is the base of the invitation pages' links for host
// (register.InviteLink); "" when no HTTP listener serves them.
func (w *wiring) landingBase(host string) string {
	if plain, secure := w.httpAddrs(); plain == nil && secure == nil && w.cfg.HTTP.PublicURL == "" {
		return ""
	}
	return w.httpBaseURL(host)
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
