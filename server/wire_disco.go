package server

import (
	"context"

	"xmppd/disco"
)

// disco wires XEP-0030 service discovery of the server and of the
// accounts, whose disco#info only those who see their presence get, and
// the server's contact addresses (XEP-0157).
func (w *wiring) disco(ctx context.Context) error {
	disco.Register(w.router, w.log, w.rosters, contactForm(w.cfg.Contact)...)
	return nil
}
