package roster

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/internal/turns"
)

// update is Store.Update of owner's state for contact, which also
// returns the change's turn (package turns): the caller sends the
// change's roster push in t.Run, and so in the order the store made the
// changes to owner's roster, so each resource sees the versions rise
// (RFC 6121 §2.6.3, XEP-0237 §3). The turn is taken inside Store.Update,
// while the store holds back every other change to the roster. The
// caller must call t.Run once, soon: later changes wait for it. On
// error there is no turn to run.
func (m *Module) update(ctx context.Context, owner, contact jid.JID, f func(State) (State, error)) (ch Change, t *turns.Turn, err error) {
	ch, err = m.store.Update(ctx, owner, contact, m.max, func(st State) (State, error) {
		if t == nil {
			t = m.turns.Take(owner.String())
		}
		return f(st)
	})
	if err != nil {
		if t != nil {
			// Nothing to push; the changes after this one wait only for
			// those before it, and the caller not at all (it may hold
			// lockRequests).
			t.Skip()
		}
		return ch, nil, err
	}
	return ch, t, nil
}
