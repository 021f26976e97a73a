package cluster

import (
	"context"

	"github.com/nats-io/nats.go"
	"mellium.im/xmpp/jid"
)

// A client that binds on this node the full JID of a session on another
// node replaces that session (RFC 6120 §7.7.2.2). The other node ends it,
// and tells the account's contacts and other resources that it is
// unavailable, before this node binds the new one and announces it: else
// the old session's unavailable presence could reach them after the new
// one's available presence, and show the new session offline.

// SetReplace has the node end its local session bound to a full JID that
// another node binds (Replace) with end, which c2s.Server.Replace is.
// Call it before Join.
func (c *Cluster) SetReplace(end func(full jid.JID)) { c.replace = end }

// Replace has the node holding the session bound to full, if another node
// does, end it, and returns once that node answered and this one handled
// what it had sent before: the session's removal, and its unavailable
// presence for the sessions of this node. It gives up when ctx ends. It
// implements c2s.Elsewhere.
func (c *Cluster) Replace(ctx context.Context, full jid.JID) {
	rs, ok := c.r.Mirrored(full).(*remoteSession)
	if !ok {
		return
	}
	_, err := c.nc.RequestMsgWithContext(ctx, message(c.nodeSubject(rs.node), opReplace, nil,
		"node", c.id, "to", full.String()))
	if err != nil {
		c.log.Warn("cluster: ending a replaced session on another node", "node", rs.node, "jid", full.String(), "err", err)
		return
	}
	// NATS delivers that node's messages in order, and those to the inbox
	// as they arrive: what it sent before its answer is waiting there.
	c.catchUp(ctx)
}

// answerReplace ends the local session that another node's new session
// replaces, and answers once it is gone, on its own goroutine: ending a
// session routes what it held, which may wait for the database, and the
// run loop goes on meanwhile.
func (c *Cluster) answerReplace(m *nats.Msg) error {
	full, err := headerJID(m, "to")
	if err != nil || m.Reply == "" {
		return err
	}
	go func() {
		if c.replace != nil {
			c.replace(full)
		}
		if err := m.Respond(nil); err != nil {
			c.log.Warn("cluster: answering the end of a replaced session", "jid", full.String(), "err", err)
		}
	}()
	return nil
}
