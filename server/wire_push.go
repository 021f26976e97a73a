package server

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/push"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// pushes wires XEP-0357 push notifications: registrations in PostgreSQL,
// notifications for messages stored offline, for messages other sessions
// got while a device has none and, through c2s, for sessions waiting to
// be resumed, whose counts start again when they are.
func (w *wiring) pushes(ctx context.Context) error {
	if !w.cfg.Push.Enabled {
		return nil
	}
	cfg := push.Config{
		Store:         postgres.NewPush(w.pool),
		IncludeSender: w.cfg.Push.IncludeSender,
		IncludeBody:   w.cfg.Push.IncludeBody,
		Logger:        w.log,
	}
	if w.cluster != nil {
		cfg.Changed = func(account jid.JID) { w.cluster.Forget(pushTopic, account.String()) }
	}
	w.push = push.Register(w.router, cfg)
	w.accountDeleted = append(w.accountDeleted, w.push.AccountDeleted)
	if err := w.push.Load(ctx); err != nil {
		w.log.Warn("push: each account's first message will ask the database for its registrations", "err", err)
	}
	if w.cluster != nil {
		// Each node caches accounts' registrations: a change on one is
		// dropped by the others.
		w.cluster.OnForget(pushTopic, func(key string) {
			if account, err := jid.Parse(key); err == nil {
				w.push.Forget(account)
			}
		})
	}
	return nil
}

// pushTopic names push registration changes among the nodes of a cluster.
const pushTopic = "push"

// waiting is what c2s tells of the messages held for sessions waiting to
// be resumed: push, or nobody.
func (w *wiring) waiting() func(jid.JID, []*xmlstream.Element) {
	if w.push == nil {
		return nil
	}
	return w.push.Waiting
}

// resumed is what c2s tells of the sessions resumed: push, or nobody.
func (w *wiring) resumed() func(jid.JID) {
	if w.push == nil {
		return nil
	}
	return w.push.Resumed
}
