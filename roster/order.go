package roster

import (
	"context"

	"mellium.im/xmpp/jid"
)

// turns orders what follows the changes to each roster: the pushes of a
// change go out after those of every change stored before it, so each
// resource sees the versions rise (RFC 6121 §2.6.3, XEP-0237 §3).
//
// A change takes its turn inside Store.Update, while the store holds
// back every other change to the roster, so turns follow the stored
// order; it waits for the turns before it only after the store let go.
// Module.turnsMu guards only the map, never held while waiting.

// rosterTurns is the queue of one roster's changes that are stored or
// being stored and not yet pushed.
type rosterTurns struct {
	last    chan struct{} // closed when the newest turn is over
	waiting int           // turns taken and not over
}

// turn is one change's place in its roster's queue.
type turn struct {
	m      *Module
	owner  string
	before chan struct{} // closed when the turn before is over; nil for none
	over   chan struct{}
}

// takeTurn queues a change of owner's roster after the ones taken before.
func (m *Module) takeTurn(owner jid.JID) *turn {
	t := &turn{m: m, owner: owner.String(), over: make(chan struct{})}
	m.turnsMu.Lock()
	defer m.turnsMu.Unlock()
	q := m.turns[t.owner]
	if q == nil {
		q = &rosterTurns{}
		m.turns[t.owner] = q
	}
	t.before, q.last = q.last, t.over
	q.waiting++
	return t
}

// run waits until the turns before t are over, runs then and ends t.
// A nil t is no turn: then runs at once.
func (t *turn) run(then func()) {
	if t == nil {
		then()
		return
	}
	if t.before != nil {
		<-t.before
	}
	then()
	close(t.over)
	t.m.turnsMu.Lock()
	defer t.m.turnsMu.Unlock()
	if q := t.m.turns[t.owner]; q != nil {
		if q.waiting--; q.waiting == 0 {
			delete(t.m.turns, t.owner)
		}
	}
}

// update is Store.Update of owner's state for contact, which also
// returns the change's turn: the caller sends the change's roster push
// in t.run, and so in the order the store made the changes to owner's
// roster. It must call t.run once, soon: later changes wait for it.
// On error there is no turn to run.
func (m *Module) update(ctx context.Context, owner, contact jid.JID, f func(State) (State, error)) (ch Change, t *turn, err error) {
	ch, err = m.store.Update(ctx, owner, contact, m.max, func(st State) (State, error) {
		if t == nil {
			t = m.takeTurn(owner)
		}
		return f(st)
	})
	if err != nil {
		if t != nil {
			// Nothing to push; the changes after this one wait only for
			// those before it, and the caller not at all (it may hold
			// lockRequests).
			go t.run(func() {})
		}
		return ch, nil, err
	}
	return ch, t, nil
}
