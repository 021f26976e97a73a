package server

import (
	"context"

	"xmppd/private"
	"xmppd/storage/postgres"
	"xmppd/vcard"
)

// profile wires XEP-0054 vCards and XEP-0049 private XML storage. Private
// storage has no limit of its own in the configuration yet, so it shares
// vcard.max_bytes as its per-account limit.
func (w *wiring) profile(ctx context.Context) error {
	vcard.Register(w.router, vcard.Config{
		Store:    postgres.NewVCards(w.pool),
		MaxBytes: w.cfg.VCard.MaxBytes,
		Logger:   w.log,
	})
	private.Register(w.router, private.Config{
		Store:    postgres.NewPrivate(w.pool),
		MaxBytes: w.cfg.VCard.MaxBytes,
		Logger:   w.log,
	})
	return nil
}
