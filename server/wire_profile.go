package server

import (
	"context"

	"xmppd/storage/postgres"
	"xmppd/vcard"
)

// profile wires XEP-0054 vCards.
func (w *wiring) profile(ctx context.Context) error {
	vcard.Register(w.router, vcard.Config{
		Store:    postgres.NewVCards(w.pool),
		MaxBytes: w.cfg.VCard.MaxBytes,
		Logger:   w.log,
	})
	return nil
}
