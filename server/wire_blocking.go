package server

import (
	"context"
	"fmt"

	"xmppd/blocking"
	"xmppd/storage/postgres"
)

// blocking wires XEP-0191: the blocklist commands and the router filter
// that enforces them, with blocklists in PostgreSQL.
func (w *wiring) blocking(ctx context.Context) error {
	m, err := blocking.New(blocking.Config{Store: postgres.NewBlocking(w.pool), Logger: w.log, Presence: w.rosters}, w.router)
	if err != nil {
		return fmt.Errorf("blocking: %w", err)
	}
	m.Register()
	return nil
}
