package pep

import (
	"hash/fnv"
	"slices"
	"strings"
	"sync"

	"mellium.im/xmpp/jid"
)

// lastSent records, for each local session whose interests PEP has
// answered, the accounts whose last items it was sent since, so that
// each new subscriber's session gets them once (XEP-0163 §4.3.4): a
// subscription approved while the session's capabilities are being
// learnt would otherwise bring them twice, once for the approval and
// once for the capabilities, and a contact that asks to subscribe again
// is no new subscriber.
//
// Lock order: a stripe of turns, then mu. A stripe is held while the
// session's subscriptions are read, so that an approval waits for that
// reading and sees what it covered.
type lastSent struct {
	turns [64]sync.Mutex

	mu       sync.Mutex
	sessions map[string]*sentTo // by full JID
}

// sentTo is what one session was sent the last items of.
type sentTo struct {
	nodes  string          // the nodes it asked for, sorted and joined, when they were sent
	owners map[string]bool // by bare JID
}

// turn locks the stripe of session and returns its unlock.
func (ls *lastSent) turn(session jid.JID) func() {
	h := fnv.New32a()
	h.Write([]byte(session.String()))
	mu := &ls.turns[h.Sum32()%uint32(len(ls.turns))]
	mu.Lock()
	return mu.Unlock
}

// nodesKey returns nodes in a form that compares.
func nodesKey(nodes []string) string {
	nodes = slices.Clone(nodes)
	slices.Sort(nodes)
	return strings.Join(nodes, "\n")
}

// answered records that session, asking for nodes, is being sent the
// last items of owners, and of no other account so far.
func (ls *lastSent) answered(session jid.JID, nodes []string, owners []jid.JID) {
	s := &sentTo{nodes: nodesKey(nodes), owners: make(map[string]bool, len(owners))}
	for _, o := range owners {
		s.owners[o.Bare().String()] = true
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.sessions == nil {
		ls.sessions = map[string]*sentTo{}
	}
	ls.sessions[session.String()] = s
}

// approved reports whether session, asking for nodes, should be sent
// owner's last items now that owner approved its subscription, and
// records that it is. It should not when it was sent them already, or
// when what it asks for has not been answered yet: that answer reads
// the subscriptions after the approval and sends them.
func (ls *lastSent) approved(session jid.JID, nodes []string, owner jid.JID) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	s := ls.sessions[session.String()]
	if s == nil || s.nodes != nodesKey(nodes) || s.owners[owner.Bare().String()] {
		return false
	}
	s.owners[owner.Bare().String()] = true
	return true
}

// forget drops what session was sent.
func (ls *lastSent) forget(session jid.JID) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	delete(ls.sessions, session.String())
}
