package server

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/avatar"
	"xmppd/bookmarks"
	"xmppd/private"
	"xmppd/storage/postgres"
	"xmppd/vcard"
)

// profile wires XEP-0054 vCards, with XEP-0398's conversion of their
// photos to and from PEP avatars, and XEP-0049 private storage, whose
// XEP-0048 bookmarks are XEP-0402's in PEP. Private storage has no limit
// of its own in the configuration yet, so it shares vcard.max_bytes as
// its per-account limit.
func (w *wiring) profile(ctx context.Context) error {
	vcards := vcard.Register(w.router, vcard.Config{
		Store:    postgres.NewVCards(w.pool),
		MaxBytes: w.cfg.VCard.MaxBytes,
		Logger:   w.log,
	})
	cfg := avatar.Config{PEP: w.pepService, VCards: vcards, Logger: w.log}
	if w.cluster != nil {
		cfg.Changed = func(account jid.JID) { w.cluster.Forget(avatarTopic, account.String()) }
	}
	avatars := avatar.Register(w.router, cfg)
	if w.cluster != nil {
		// Each node caches the photo hashes of its accounts.
		w.cluster.OnForget(avatarTopic, func(key string) {
			if account, err := jid.Parse(key); err == nil {
				avatars.Forget(account)
			}
		})
		w.cluster.OnLost(avatars.ForgetAll)
	}
	// A new account of a deleted one's name starts without its photo.
	w.accountDeleted = append(w.accountDeleted, func(_ context.Context, account jid.JID) error {
		avatars.Forget(account)
		if cfg.Changed != nil {
			cfg.Changed(account)
		}
		return nil
	})
	privates := private.Register(w.router, private.Config{
		Store:    postgres.NewPrivate(w.pool),
		Handlers: map[string]private.Handler{bookmarks.NSLegacy: bookmarks.Register(w.router, w.pepService, w.log)},
		MaxBytes: w.cfg.VCard.MaxBytes,
		Logger:   w.log,
	})
	// Bookmarks kept in private storage by an earlier xmppd, or imported
	// (xmppd import), become XEP-0402's before clients come.
	moved, err := privates.MoveToHandlers(ctx)
	if err != nil {
		return err
	}
	if moved > 0 {
		w.log.Info("moved bookmarks from private storage to PEP", "accounts", moved)
	}
	return nil
}

// avatarTopic names vCard photo changes among the nodes of a cluster.
const avatarTopic = "avatar"
