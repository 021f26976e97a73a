package server

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/muc"
	"xmppd/storage/postgres"
)

// muc wires XEP-0045 multi-user chat: one service on conference.<host>
// for each host, sharing one store, with the flood limit of [muc]. Each
// service's archive writer stops, after writing what is queued, with the
// wiring's closers. In a cluster the service runs on one node at a time.
func (w *wiring) muc(ctx context.Context) error {
	store := postgres.NewMUC(w.pool)
	for _, host := range w.cfg.Hosts {
		s, err := muc.New(ctx, w.router, muc.Config{
			Domain:        "conference." + host,
			Store:         store,
			MaxPage:       w.cfg.Archive.MaxPage,
			MaxVCardBytes: w.cfg.VCard.MaxBytes,
			FloodRate:     w.cfg.MUC.FloodRate,
			FloodBurst:    w.cfg.MUC.FloodBurst,
			MaxOwnedRooms: w.cfg.MUC.MaxOwnedRooms,
			Deferred:      w.cluster != nil,
			Logger:        w.log,
		})
		if err != nil {
			return err
		}
		w.accountDeleted = append(w.accountDeleted, s.AccountDeleted)
		if w.cluster != nil {
			// Rooms live in one node's memory: the oldest node runs them,
			// and forgets there a deleted account that another node
			// deleted.
			s.RegisterAs(w.cluster.Singleton("conference."+host, s, s.Load))
			topic := "muc-account " + host
			w.cluster.OnForget(topic, func(key string) {
				if bare, err := jid.Parse(key); err == nil {
					s.ForgetAccount(bare)
				}
			})
			w.accountDeleted = append(w.accountDeleted, func(_ context.Context, bare jid.JID) error {
				w.cluster.Forget(topic, bare.String())
				return nil
			})
		} else {
			s.Register()
		}
		w.stopping = append(w.stopping, s.Stopping)
		w.closers = append(w.closers, s.Close)
	}
	return nil
}
