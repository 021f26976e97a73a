package server

import (
	"context"

	"xmppd/roster"
	"xmppd/storage/postgres"
)

// roster wires rosters, subscriptions and presence (RFC 6121) and last
// activity (XEP-0012).
func (w *wiring) roster(ctx context.Context) error {
	m := roster.New(roster.Config{
		Router:   w.router,
		Store:    postgres.NewRoster(w.pool),
		MaxItems: w.cfg.Roster.MaxItems,
		Logger:   w.log,
	})
	m.Register()
	w.accountDeleted = append(w.accountDeleted, m.AccountDeleted)
	w.rosters = m
	return nil
}
