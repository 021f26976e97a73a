package server

import (
	"context"
	"fmt"

	"mellium.im/xmpp/jid"

	"xmppd/blocking"
	"xmppd/storage/postgres"
)

// blocking wires XEP-0191: the blocklist commands and the router filter
// that enforces them, with blocklists in PostgreSQL.
func (w *wiring) blocking(ctx context.Context) error {
	cfg := blocking.Config{Store: postgres.NewBlocking(w.pool), Logger: w.log, Presence: w.rosters, Admins: w.admins()}
	if w.cluster != nil {
		cfg.Changed = func(account jid.JID) { w.cluster.Forget(blocklistTopic, account.String()) }
	}
	m, err := blocking.New(cfg, w.router)
	if err != nil {
		return fmt.Errorf("blocking: %w", err)
	}
	m.Register()
	if w.cluster != nil {
		// Each node caches blocklists: a change on one is dropped by the others.
		w.cluster.OnForget(blocklistTopic, func(key string) {
			if account, err := jid.Parse(key); err == nil {
				m.Forget(account)
			}
		})
		w.cluster.OnLost(m.ForgetAll)
	}
	return nil
}

// blocklistTopic names blocklist changes among the nodes of a cluster.
const blocklistTopic = "blocklist"
