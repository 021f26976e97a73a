package server

import (
	"context"

	"xmppd/offline"
	"xmppd/storage/postgres"
)

// offline wires XEP-0160 offline messages.
func (w *wiring) offline(ctx context.Context) error {
	h, err := offline.Register(w.router, offline.Config{
		Store:  postgres.NewOffline(w.pool),
		Quota:  w.cfg.Offline.Quota,
		Logger: w.log,
	})
	w.offlineMessages = h
	return err
}
