package server

import (
	"context"

	"xmppd/mam"
	"xmppd/storage/postgres"
)

// archive wires XEP-0313 message archives with XEP-0359 stanza ids. The
// module's writer and retention job stop with the wiring's closers.
// Turned off, accounts have no archive.
func (w *wiring) archive(ctx context.Context) error {
	if !w.cfg.Archive.Enabled {
		return nil
	}
	m, err := mam.New(w.router, mam.Config{
		Store:         postgres.NewArchive(w.pool),
		MaxPage:       w.cfg.Archive.MaxPage,
		RetentionDays: w.cfg.Archive.RetentionDays,
		Logger:        w.log,
	})
	if err != nil {
		return err
	}
	m.Register()
	w.closers = append(w.closers, m.Close)
	return nil
}
