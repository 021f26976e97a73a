package server

import (
	"context"

	"xmppd/caps"
	"xmppd/pep"
	"xmppd/storage/postgres"
)

// pep wires XEP-0163 personal eventing, with nodes and items in
// PostgreSQL, subscriptions from the roster and notification interests
// from the sessions' entity capabilities (XEP-0115).
func (w *wiring) pep(ctx context.Context) error {
	w.pepService = pep.Register(w.router, pep.Config{
		Store:     postgres.NewPEP(w.pool),
		Contacts:  w.rosters,
		Interests: caps.New(w.router, w.log),
		MaxItems:  w.cfg.PEP.MaxItems,
		Limits:    pep.Limits{Nodes: w.cfg.PEP.MaxNodes, Bytes: w.cfg.PEP.MaxBytes, Items: w.cfg.PEP.MaxItems},
		Logger:    w.log,
	})
	return nil
}
