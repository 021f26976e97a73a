package muc

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/xmlstream"
)

// maxHeld bounds the stanzas held for one account while its filters
// read their stores.
const maxHeld = 1000

// screen applies the router's filters (router.DirectFilter) to what
// rooms hand straight to local sessions, so that a user's blocklist
// (XEP-0191) stops a room's stanzas as it stops those routed to them.
//
// Rooms deliver under their lock, where nothing may wait for the
// database. When a filter cannot decide from memory (an account's
// blocklist is not cached), the stanza is held for its account, and
// every later one for that account too, so that they keep their order,
// until a goroutine of its own has had the filters read their stores and
// has delivered what they let through.
//
// Locks: mu is a leaf lock, taken under a room's lock.
type screen struct {
	r   *router.Router
	log *slog.Logger

	holding atomic.Int64 // len(held), read without mu on the fast path
	mu      sync.Mutex
	held    map[string]*heldStanzas // by bare JID of the recipient
}

// heldStanzas are the stanzas held for one account, oldest first.
type heldStanzas struct {
	items []heldStanza
}

type heldStanza struct {
	from, to jid.JID
	st       *xmlstream.Element
}

// deliver queues st, from from, for the local session to, unless a
// filter stops it. It reports whether st was queued or held, or stopped
// on purpose; false when the session did not take it.
func (sc *screen) deliver(from, to jid.JID, st *xmlstream.Element) bool {
	if sc.holding.Load() == 0 {
		if deliver, known := sc.r.DirectAllowed(from, to, st); known {
			return !deliver || sc.r.DeliverToSession(to, st)
		}
	}
	return sc.hold(from, to, st)
}

// hold holds st for to's account if stanzas are held for it already, or
// if the filters cannot decide about st from memory; otherwise it
// delivers st as deliver does.
func (sc *screen) hold(from, to jid.JID, st *xmlstream.Element) bool {
	key := to.Bare().String()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	h := sc.held[key]
	if h == nil {
		if deliver, known := sc.r.DirectAllowed(from, to, st); known {
			return !deliver || sc.r.DeliverToSession(to, st)
		}
		h = &heldStanzas{}
		if sc.held == nil {
			sc.held = map[string]*heldStanzas{}
		}
		sc.held[key] = h
		sc.holding.Add(1)
		go sc.release(key, h)
	}
	if len(h.items) >= maxHeld {
		sc.log.Warn("muc: dropping a stanza for a local occupant: too many wait for the blocklist", "to", to.String())
		return false
	}
	h.items = append(h.items, heldStanza{from: from, to: to, st: st})
	return true
}

// release delivers what is held for the account key, as the filters
// decide once they read their stores, until nothing more is held.
func (sc *screen) release(key string, h *heldStanzas) {
	ctx := context.Background()
	for {
		sc.mu.Lock()
		items := h.items
		h.items = nil
		if len(items) == 0 {
			delete(sc.held, key)
			sc.holding.Add(-1)
			sc.mu.Unlock()
			return
		}
		sc.mu.Unlock()
		for _, it := range items {
			if sc.r.DirectAllowedWait(ctx, it.from, it.to, it.st) {
				sc.r.DeliverToSession(it.to, it.st)
			}
		}
	}
}
