package cluster

import (
	"context"
	"slices"
	"strconv"
	"sync"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/xmlstream"
)

// A stanza a stream-managed client sent is acknowledged to it only once
// it is safe (DESIGN.md §4). One handed to a session on another node is
// held, under a receipt number, until that node says the session's client
// acknowledged it or it was stored (opSafe). If that node goes away
// first, the stanza is routed again here, as for a session that ended.

// receipts are the stanzas this node handed to other nodes and holds.
type receipts struct {
	mu      sync.Mutex
	next    uint64
	pending map[uint64]*held
	bySent  map[sent]uint64 // the receipt numbers of pending, by what was sent to whom
}

// held is one stanza waiting for its node to say it is safe.
type held struct {
	node    string
	to      jid.JID
	st      *xmlstream.Element
	release func()
	sent    sent
	// others are the account's other sessions that took st as well
	// (Shared): while one of them is bound, st is not routed again.
	others []router.Session
}

// sent is a stanza handed to one session on another node.
type sent struct {
	st *xmlstream.Element
	to *remoteSession
}

// SetHold gives the cluster what holds the acknowledgement of a client's
// stanza while it is routed (c2s.Server.Hold). Call it before Join.
func (c *Cluster) SetHold(hold func(st *xmlstream.Element) (release func())) { c.hold = hold }

// add holds h and returns its receipt number.
func (rs *receipts) add(h *held) string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.next++
	rs.pending[rs.next] = h
	rs.bySent[h.sent] = rs.next
	return strconv.FormatUint(rs.next, 10)
}

// take removes and returns the stanza held under id, or nil.
func (rs *receipts) take(id string) *held {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	h := rs.pending[n]
	if h != nil {
		delete(rs.pending, n)
		delete(rs.bySent, h.sent)
	}
	return h
}

// share notes that others took st as well when the session to did, if
// st is still held for to.
func (rs *receipts) share(to *remoteSession, st *xmlstream.Element, others []router.Session) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if n, ok := rs.bySent[sent{st, to}]; ok {
		h := rs.pending[n]
		h.others = append(h.others, others...)
	}
}

// takeNode removes and returns the stanzas held for node, in the order
// they were sent.
func (rs *receipts) takeNode(node string) []*held {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var ns []uint64
	for n, h := range rs.pending {
		if h.node == node {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	hs := make([]*held, len(ns))
	for i, n := range ns {
		hs[i] = rs.pending[n]
		delete(rs.pending, n)
		delete(rs.bySent, hs[i].sent)
	}
	return hs
}

// safe tells the node that sent a stanza under receipt id that it is safe.
func (c *Cluster) safe(node, id string) func() {
	return func() { c.publish(message(c.nodeSubject(node), opSafe, nil, "receipt", id)) }
}

// settle releases the stanza another node says is safe.
func (c *Cluster) settle(id string) {
	if h := c.receipts.take(id); h != nil {
		h.release()
	}
}

// reroute routes again, here, what this node held for node, which is
// gone: its sessions are gone with it, so a message goes to the
// recipient's other resources, on any node left, or is stored offline
// (router.Reroute). A message that other sessions of the account took as
// well, one of which is still bound, is not: the user has it.
func (c *Cluster) reroute(ctx context.Context, node string) {
	for _, h := range c.receipts.takeNode(node) {
		if c.r.AnyBound(h.others) {
			h.release()
			continue
		}
		c.r.Reroute(ctx, h.to, h.st, h.release)
	}
}
