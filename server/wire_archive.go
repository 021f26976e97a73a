package server

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/mam"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// archive wires XEP-0313 message archives with XEP-0359 stanza ids. The
// module's writer and retention job stop with the wiring's closers.
// Turned off, accounts have no archive.
func (w *wiring) archive(ctx context.Context) error {
	if !w.cfg.Archive.Enabled {
		return nil
	}
	store := postgres.NewArchive(w.pool)
	store.MergeTextAside(w.log)
	m, err := mam.New(w.router, mam.Config{
		Store:         store,
		MaxPage:       w.cfg.Archive.MaxPage,
		RetentionDays: w.cfg.Archive.RetentionDays,
		Clustered:     w.cfg.Cluster.NATS != "",
		Logger:        w.log,
	})
	if err != nil {
		return err
	}
	m.Register()
	w.mam = m
	w.closers = append(w.closers, m.Close)
	return nil
}

// bound is what the server does for an account when a client binds
// with Bind 2, when there is an archive (XEP-0386 §2.2, in its order):
// it clears the offline messages the archive holds, without sending
// them, since the client gets them with MAM, and then tells the client
// the archive's metadata. A failure to clear keeps the messages, which
// come at initial presence as they do without Bind 2.
func (w *wiring) bound() func(ctx context.Context, account jid.JID) (*xmlstream.Element, error) {
	if w.mam == nil {
		return nil
	}
	return func(ctx context.Context, account jid.JID) (*xmlstream.Element, error) {
		if w.offlineMessages != nil {
			if err := w.offlineMessages.DropArchived(ctx, account); err != nil {
				w.log.Error("bind 2: leaving offline messages to MAM", "jid", account.String(), "err", err)
			}
		}
		return w.mam.Metadata(ctx, account)
	}
}
