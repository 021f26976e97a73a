package server

import (
	"context"

	"xmppd/bookmarks"
	"xmppd/caps"
	"xmppd/pep"
	"xmppd/private"
	"xmppd/storage/postgres"
)

// pep wires XEP-0163 personal eventing, with nodes and items in
// PostgreSQL, subscriptions from the roster and notification interests
// from the sessions' entity capabilities (XEP-0115); and XEP-0049 private
// storage, whose XEP-0048 bookmarks are XEP-0402's in PEP. Private
// storage has no limit of its own in the configuration yet, so it shares
// vcard.max_bytes as its per-account limit.
func (w *wiring) pep(ctx context.Context) error {
	service := pep.Register(w.router, pep.Config{
		Store:     postgres.NewPEP(w.pool),
		Contacts:  w.rosters,
		Interests: caps.New(w.router, w.log),
		MaxItems:  w.cfg.PEP.MaxItems,
		Limits:    pep.Limits{Nodes: w.cfg.PEP.MaxNodes, Bytes: w.cfg.PEP.MaxBytes},
		Logger:    w.log,
	})
	private.Register(w.router, private.Config{
		Store:    postgres.NewPrivate(w.pool),
		Handlers: map[string]private.Handler{bookmarks.NSLegacy: bookmarks.Register(w.router, service)},
		MaxBytes: w.cfg.VCard.MaxBytes,
		Logger:   w.log,
	})
	return nil
}
