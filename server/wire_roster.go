package server

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/component"
	"xmppd/roster"
	"xmppd/storage/postgres"
)

// roster wires rosters, subscriptions and presence (RFC 6121), with
// subscriptions a user's invitation approves (XEP-0379), and last
// activity (XEP-0012).
func (w *wiring) roster(ctx context.Context) error {
	invites := postgres.NewInvites(w.pool)
	m := roster.New(roster.Config{
		Router:     w.router,
		Store:      postgres.NewRoster(w.pool),
		MaxItems:   w.cfg.Roster.MaxItems,
		Logger:     w.log,
		Privileged: w.rosterPrivileged,
		PushTo:     w.rosterPushTo(),
		Preauthorized: func(ctx context.Context, owner, contact jid.JID, token string) bool {
			ok, err := invites.Subscribe(ctx, owner.Domainpart(), owner.Localpart(), token, contact.Bare().String(), time.Now())
			if err != nil {
				w.log.Error("checking a subscription's invitation token", "jid", owner.String(), "from", contact.String(), "err", err)
			}
			return ok
		},
	})
	m.Register()
	w.accountDeleted = append(w.accountDeleted, m.AccountDeleted)
	w.rosters = m
	return nil
}

// rosterPrivileged reports whether from is a component configured to
// read (set false) or change (set true) the accounts' rosters (XEP-0356).
func (w *wiring) rosterPrivileged(from jid.JID, set bool) bool {
	if from.Localpart() != "" || from.Resourcepart() != "" {
		return false
	}
	for _, ec := range w.cfg.Components.External {
		if ec.Domain == from.Domainpart() {
			r := ec.Privileges.Roster
			return r == "both" || (set && r == "set") || (!set && r == "get")
		}
	}
	return false
}

// rosterPushTo returns the components that get every account's roster
// pushes: those with the roster privilege to read (XEP-0356 §4.2).
func (w *wiring) rosterPushTo() []jid.JID {
	var to []jid.JID
	for _, ec := range w.cfg.Components.External {
		if component.Privileges(ec.Privileges).PushesRoster() {
			to = append(to, jid.MustParse(ec.Domain))
		}
	}
	return to
}
