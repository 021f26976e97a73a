package cluster

import (
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Core NATS keeps nothing for a node that is away: what another node
// publishes while this one is cut from NATS, however briefly, is lost to
// it. Most of it is asked for again (session changes are numbered) or
// dropped with the caches (OnLost); but an end (opEnd) or a revocation
// (opForget) lost would leave up a session that an administrator ended,
// or that logged in with a password since changed. So a node tells those
// under an id, and tells them again at each heartbeat, to each node it
// knows, until that node acknowledges them (opAck) or tellFor passes. A
// node handles each id once, and acknowledges each copy.

// tellFor is how long a node tells again what another has not
// acknowledged, and remembers the ids it handled: as long as the router
// remembers a revocation (router.revokedFor). A node away for longer has
// been counted as gone, and its sessions with it.
const tellFor = 15 * time.Minute

// tells are the messages this node tells until they are acknowledged,
// and the ids of those it handled.
type tells struct {
	mu      sync.Mutex
	next    uint64
	pending map[string]*told     // by id
	seen    map[string]time.Time // ids handled here, and when
}

// told is one message waiting for nodes to acknowledge it.
type told struct {
	op    string
	kv    []string // its headers, id and node among them
	nodes map[string]bool
	at    time.Time // when it was first told
}

// tell publishes op with the header pairs kv on subject, and tells it
// again to each of nodes until it acknowledges it.
func (c *Cluster) tell(subject string, nodes []string, op string, kv ...string) {
	c.tells.mu.Lock()
	c.tells.next++
	id := c.id + "-" + strconv.FormatUint(c.tells.next, 10)
	kv = append(kv, "node", c.id, "id", id)
	t := &told{op: op, kv: kv, nodes: map[string]bool{}, at: time.Now()}
	for _, n := range nodes {
		if n != c.id {
			t.nodes[n] = true
		}
	}
	if len(t.nodes) > 0 {
		c.tells.pending[id] = t
	}
	c.tells.mu.Unlock()
	c.publish(message(subject, op, nil, kv...))
}

// tellAgain tells each node that is up what it has not acknowledged yet,
// and forgets what is older than tellFor. It runs on the run goroutine
// at each heartbeat.
func (c *Cluster) tellAgain() {
	now := time.Now()
	var again []*nats.Msg
	c.tells.mu.Lock()
	for id, t := range c.tells.pending {
		if now.Sub(t.at) > tellFor {
			delete(c.tells.pending, id)
			continue
		}
		if now.Sub(t.at) < c.cfg.Heartbeat {
			continue // its first copy may still be on its way
		}
		for n := range t.nodes {
			// A node that does not say it acknowledges (an older
			// version) would act on each copy.
			if p := c.peers[n]; p != nil && p.acks {
				again = append(again, message(c.nodeSubject(n), t.op, nil, t.kv...))
			}
		}
	}
	for id, at := range c.tells.seen {
		if now.Sub(at) > tellFor {
			delete(c.tells.seen, id)
		}
	}
	c.tells.mu.Unlock()
	for _, m := range again {
		c.publish(m)
	}
}

// firstHeard acknowledges m, which another node told, and reports whether it
// is the first copy of it this node got: only that one is acted on. A
// message without an id is acted on.
func (c *Cluster) firstHeard(m *nats.Msg) bool {
	id, from := m.Header.Get("id"), m.Header.Get("node")
	if id == "" || from == "" {
		return true
	}
	c.publish(message(c.nodeSubject(from), opAck, nil, "node", c.id, "id", id))
	c.tells.mu.Lock()
	defer c.tells.mu.Unlock()
	if _, ok := c.tells.seen[id]; ok {
		return false
	}
	c.tells.seen[id] = time.Now()
	return true
}

// acknowledged notes that the node of m has what this node told it under
// m's id.
func (c *Cluster) acknowledged(m *nats.Msg) {
	id := m.Header.Get("id")
	c.tells.mu.Lock()
	defer c.tells.mu.Unlock()
	if t := c.tells.pending[id]; t != nil {
		delete(t.nodes, m.Header.Get("node"))
		if len(t.nodes) == 0 {
			delete(c.tells.pending, id)
		}
	}
}
