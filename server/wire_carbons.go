package server

import (
	"context"

	"xmppd/carbons"
)

// carbons wires XEP-0280 message carbons: the enable and disable commands
// and the message observer that sends the copies. It keeps no stored state.
func (w *wiring) carbons(ctx context.Context) error {
	carbons.New(w.router).Register()
	return nil
}
