package server

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/push"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// pushes wires XEP-0357 push notifications: registrations in PostgreSQL,
// notifications for messages stored offline and, through c2s, for
// sessions waiting to be resumed.
func (w *wiring) pushes(ctx context.Context) error {
	if !w.cfg.Push.Enabled {
		return nil
	}
	w.push = push.Register(w.router, push.Config{
		Store:         postgres.NewPush(w.pool),
		IncludeSender: w.cfg.Push.IncludeSender,
		IncludeBody:   w.cfg.Push.IncludeBody,
		Logger:        w.log,
	})
	return nil
}

// waiting is what c2s tells of the messages held for sessions waiting to
// be resumed: push, or nobody.
func (w *wiring) waiting() func(jid.JID, []*xmlstream.Element) {
	if w.push == nil {
		return nil
	}
	return w.push.Waiting
}
