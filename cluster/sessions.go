package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/xmlstream"
)

// The cluster tells the other nodes of the local sessions.
var _ router.Directory = (*Cluster)(nil)

// A session on another node says when a stanza it took is safe, and
// learns which messages the account's other sessions have too.
var (
	_ router.SafeSession    = (*remoteSession)(nil)
	_ router.SharingSession = (*remoteSession)(nil)
)

// Changed announces a local session's new state.
func (c *Cluster) Changed(s router.SessionState) {
	c.announce(opSet, encodeJSON(toWire(s)))
}

// Removed announces that the local session j is gone.
func (c *Cluster) Removed(j jid.JID) {
	c.announce(opDel, nil, "jid", j.String())
}

// announce publishes the next numbered change. A heartbeat, which tells
// the last number, is never published between numbering a change and
// publishing it, so it never makes the others ask for a table in vain.
func (c *Cluster) announce(op string, body []byte, kv ...string) {
	c.seqMu.Lock()
	defer c.seqMu.Unlock()
	c.seq++
	kv = append(kv, "node", c.id, "seq", strconv.FormatUint(c.seq, 10))
	c.publish(message(c.all, op, body, kv...))
}

// lastSeq returns the number of the last change announced.
func (c *Cluster) lastSeq() string {
	c.seqMu.Lock()
	defer c.seqMu.Unlock()
	return strconv.FormatUint(c.seq, 10)
}

// remoteSession is a session on another node, as the router sees it.
type remoteSession struct {
	c    *Cluster
	node string
	j    jid.JID
}

func (s *remoteSession) JID() jid.JID { return s.j }

// Deliver sends st to the session's node; it fails only when NATS does.
// A stanza whose sender waits for it to be safe is held until that node
// says it is (receipts.go).
func (s *remoteSession) Deliver(st *xmlstream.Element) bool {
	var release func()
	if s.c.hold != nil {
		release = s.c.hold(st)
	}
	return s.deliver(st, release)
}

// DeliverSafe is Deliver, and calls safe once the session's node says st
// is safe (router.SafeSession).
func (s *remoteSession) DeliverSafe(st *xmlstream.Element, safe func()) bool {
	return s.deliver(st, safe)
}

func (s *remoteSession) deliver(st *xmlstream.Element, release func()) bool {
	m := message(s.c.nodeSubject(s.node), opDeliver, encodeStanza(st), "node", s.c.id, "to", s.j.String())
	if release == nil {
		return s.c.publish(m) == nil
	}
	id := s.c.receipts.add(&held{node: s.node, to: s.j, st: st, release: release, sent: sent{st, s}})
	m.Header.Set("receipt", id)
	if s.c.publish(m) != nil {
		s.c.receipts.take(id) // not released: the router routes st on
		return false
	}
	return true
}

// Shared notes that the account's sessions others took st as well
// (router.SharingSession): if this session's node goes away before st
// is safe, st is not routed again while one of them is bound.
func (s *remoteSession) Shared(st *xmlstream.Element, others []router.Session) {
	s.c.receipts.share(s, st, others)
}

// End asks the session's node to end it, until that node says it heard
// (tell).
func (s *remoteSession) End(condition, text string) {
	s.c.tell(s.c.nodeSubject(s.node), []string{s.node}, opEnd, "to", s.j.String(), "condition", condition, "text", text)
}

// change applies a session change of another node, if it is the next in
// that node's order; after a gap the node is asked for its whole table,
// and its changes wait for it.
func (c *Cluster) change(m *nats.Msg) error {
	p := c.peer(m.Header.Get("node"), true)
	seq := headerUint(m, "seq")
	switch {
	case !p.asked.IsZero() || seq <= p.seq:
		return nil // the awaited table holds it, or it is old
	case seq != p.seq+1:
		c.log.Info("cluster: missed session changes; asking for the table", "node", p.id, "have", p.seq, "got", seq)
		c.askTable(p)
		return nil
	}
	p.seq = seq
	if m.Header.Get("op") == opDel {
		j, err := headerJID(m, "jid")
		if err != nil {
			return err
		}
		c.unmirror(p, j.String(), false)
		return nil
	}
	var w wireState
	if err := json.Unmarshal(m.Data, &w); err != nil {
		return fmt.Errorf("cluster: session change from %s: %w", p.id, err)
	}
	s, err := w.state(c.cfg.Limits)
	if err != nil {
		return err
	}
	c.mirror(p, s)
	return nil
}

func (c *Cluster) mirror(p *peer, s router.SessionState) {
	full := s.JID.String()
	rs := p.sessions[full]
	if rs == nil {
		rs = &remoteSession{c: c, node: p.id, j: s.JID}
		p.sessions[full] = rs
	}
	c.r.Mirror(rs, s)
}

func (c *Cluster) unmirror(p *peer, full string, announce bool) {
	if rs := p.sessions[full]; rs != nil {
		delete(p.sessions, full)
		c.r.Unmirror(rs, announce)
	}
}

func (c *Cluster) unmirrorAll(p *peer, announce bool) {
	for full := range p.sessions {
		c.unmirror(p, full, announce)
	}
}

// table is the whole session table of one node.
type table struct {
	Sessions []wireState `json:"sessions"`
}

// sendTable answers a node's request for the local sessions. The table
// and its sequence number are taken, and sent, with the router's table
// locked, so that the changes after it follow it in order.
func (c *Cluster) sendTable(to string) {
	c.r.LocalStates(func(states []router.SessionState) {
		t := table{Sessions: make([]wireState, 0, len(states))}
		for _, s := range states {
			t.Sessions = append(t.Sessions, toWire(s))
		}
		c.publish(message(c.nodeSubject(to), opTable, encodeJSON(t), "node", c.id,
			"started", strconv.FormatInt(c.started, 10), "seq", c.lastSeq()))
	})
}

// table replaces what this node mirrors of another node by its table.
func (c *Cluster) table(m *nats.Msg) error {
	p := c.peer(m.Header.Get("node"), false)
	var t table
	if err := json.Unmarshal(m.Data, &t); err != nil {
		return fmt.Errorf("cluster: table from %s: %w", p.id, err)
	}
	p.started, p.seq, p.asked = headerInt(m, "started"), headerUint(m, "seq"), time.Time{}
	c.elect()
	seen := make(map[string]bool, len(t.Sessions))
	for _, w := range t.Sessions {
		s, err := w.state(c.cfg.Limits)
		if err != nil {
			c.log.Warn("cluster: skipping a session of a table", "node", p.id, "err", err)
			continue
		}
		seen[s.JID.String()] = true
		c.mirror(p, s)
	}
	for full := range p.sessions {
		if !seen[full] {
			c.unmirror(p, full, false)
		}
	}
	return nil
}

// deliver hands a stanza another node routed to a local session.
func (c *Cluster) deliver(ctx context.Context, m *nats.Msg) error {
	to, err := headerJID(m, "to")
	if err != nil {
		return err
	}
	st, err := xmlstream.ParseElement(m.Data, c.cfg.Limits)
	if err != nil {
		return fmt.Errorf("cluster: stanza for %s: %w", to, err)
	}
	var safe func()
	if id := m.Header.Get("receipt"); id != "" {
		safe = c.safe(m.Header.Get("node"), id)
	}
	c.r.Redeliver(ctx, to, st, safe)
	return nil
}

// end ends a local session another node asked to end.
func (c *Cluster) end(m *nats.Msg) error {
	to, err := headerJID(m, "to")
	if err != nil {
		return err
	}
	c.r.EndLocal(to, m.Header.Get("condition"), m.Header.Get("text"))
	return nil
}
