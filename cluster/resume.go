package cluster

import (
	"context"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// ResumePrefix begins the stream management resumption ids of this
// node's sessions (c2s.Elsewhere): the node's id and a dash.
func (c *Cluster) ResumePrefix() string { return c.id + "-" }

// SetResumable has the node end its resumable sessions when another node
// asks (EndResumable) with end, which c2s.Server.EndResumable is. Call
// it before Join.
func (c *Cluster) SetResumable(end func(previd, account string) (handled uint32, found bool)) {
	c.endResumable = end
}

// EndResumable asks the node that previd names to end the session with
// that resumption id of account, and returns what that node answered:
// the count of the client's stanzas the session handled. found is false
// for a session of this node, an unknown node or session, or no answer
// before ctx ends. It implements c2s.Elsewhere.
func (c *Cluster) EndResumable(ctx context.Context, previd, account string) (handled uint32, found bool) {
	node, _, ok := strings.Cut(previd, "-")
	if !ok || node == c.id {
		return 0, false
	}
	reply, err := c.nc.RequestMsgWithContext(ctx, message(c.nodeSubject(node), opEndResumable, nil,
		"node", c.id, "previd", previd, "account", account))
	if err != nil {
		c.log.Info("cluster: ending a resumable session on another node", "node", node, "account", account, "err", err)
		return 0, false
	}
	if reply.Header.Get("found") != "true" {
		return 0, false
	}
	return uint32(headerUint(reply, "handled")), true
}

// answerEndResumable ends the session another node asks for and answers
// it, on its own goroutine: ending a session routes what it held, which
// may wait for the database, and the run loop goes on meanwhile.
func (c *Cluster) answerEndResumable(m *nats.Msg) {
	if c.endResumable == nil || m.Reply == "" {
		return
	}
	go func() {
		handled, found := c.endResumable(m.Header.Get("previd"), m.Header.Get("account"))
		r := nats.NewMsg(m.Reply)
		r.Header.Set("found", strconv.FormatBool(found))
		r.Header.Set("handled", strconv.FormatUint(uint64(handled), 10))
		if err := m.RespondMsg(r); err != nil {
			c.log.Warn("cluster: answering the end of a resumable session", "err", err)
		}
	}()
}
