package pep

import (
	"hash/fnv"
	"slices"
	"strings"
	"sync"

	"mellium.im/xmpp/jid"
)

// answered records, for each local session, the interests whose last
// items PEP read the session's subscriptions for, so that a
// subscription approved while the session's capabilities are being
// learnt brings the last items once (XEP-0163 §4.3.4): by the answer
// to the capabilities, which reads the subscriptions after the
// approval, and not by the approval too.
//
// Lock order: a stripe of turns, then mu. A stripe is held while the
// session's subscriptions are read, so that an approval waits for that
// reading.
type answered struct {
	turns [64]sync.Mutex

	mu       sync.Mutex
	sessions map[string]string // by full JID: the nodes, sorted and joined
}

// turn locks the stripe of session and returns its unlock.
func (a *answered) turn(session jid.JID) func() {
	h := fnv.New32a()
	h.Write([]byte(session.String()))
	mu := &a.turns[h.Sum32()%uint32(len(a.turns))]
	mu.Lock()
	return mu.Unlock
}

// nodesKey returns nodes in a form that compares.
func nodesKey(nodes []string) string {
	nodes = slices.Clone(nodes)
	slices.Sort(nodes)
	return strings.Join(nodes, "\n")
}

// record notes that session, asking for nodes, is being sent the last
// items of its subscriptions as they are now.
func (a *answered) record(session jid.JID, nodes []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sessions == nil {
		a.sessions = map[string]string{}
	}
	a.sessions[session.String()] = nodesKey(nodes)
}

// has reports whether session's asking for nodes was answered already;
// when it was not, that answer is still to come.
func (a *answered) has(session jid.JID, nodes []string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	key, ok := a.sessions[session.String()]
	return ok && key == nodesKey(nodes)
}

// forget drops what session asked for.
func (a *answered) forget(session jid.JID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, session.String())
}
