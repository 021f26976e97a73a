package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// externals knows where the streams of external components (package
// component) are: each connects to one node, which lists its domain in
// its heartbeats, and the others forward the component's stanzas there.
type externals struct {
	held    map[string]func(context.Context, *xmlstream.Element) // the streams on this node, by domain
	holders map[string]string                                    // the other nodes' streams: domain → node
}

// Hold tells the other nodes that this node holds the stream of the
// external component of domain, and has them forward its stanzas to
// deliver; with deliver nil, that it no longer does. A heartbeat tells
// them at once.
func (c *Cluster) Hold(domain string, deliver func(context.Context, *xmlstream.Element)) {
	c.extMu.Lock()
	if deliver == nil {
		delete(c.ext.held, domain)
	} else {
		c.ext.held[domain] = deliver
	}
	c.extMu.Unlock()
	c.beat()
}

// HeldElsewhere reports whether another node holds the stream of
// domain's component.
func (c *Cluster) HeldElsewhere(domain string) bool {
	c.extMu.RLock()
	defer c.extMu.RUnlock()
	return c.ext.holders[domain] != ""
}

// Forward hands st, for domain's component, to the node that holds its
// stream; false when no other node does.
func (c *Cluster) Forward(domain string, st *xmlstream.Element) bool {
	c.extMu.RLock()
	node := c.ext.holders[domain]
	c.extMu.RUnlock()
	return node != "" && c.publish(message(c.nodeSubject(node), opExternal, encodeStanza(st), "domain", domain)) == nil
}

// heldList is the beat's list of the domains whose streams this node
// holds, separated by spaces.
func (c *Cluster) heldList() string {
	c.extMu.RLock()
	defer c.extMu.RUnlock()
	domains := make([]string, 0, len(c.ext.held))
	for d := range c.ext.held {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	return strings.Join(domains, " ")
}

// learnHeld records the domains a node's heartbeat lists; a node that is
// gone holds none.
func (c *Cluster) learnHeld(node, list string) {
	c.extMu.Lock()
	defer c.extMu.Unlock()
	for d, n := range c.ext.holders {
		if n == node {
			delete(c.ext.holders, d)
		}
	}
	for _, d := range strings.Fields(list) {
		c.ext.holders[d] = node
	}
}

// external hands a stanza another node forwarded to the component's
// stream here, or answers it when the stream has gone.
func (c *Cluster) external(ctx context.Context, m *nats.Msg) error {
	domain := m.Header.Get("domain")
	st, err := xmlstream.ParseElement(m.Data, c.cfg.Limits)
	if err != nil {
		return fmt.Errorf("cluster: stanza for the component %s: %w", domain, err)
	}
	c.extMu.RLock()
	deliver := c.ext.held[domain]
	c.extMu.RUnlock()
	if deliver == nil {
		c.r.Bounce(ctx, st, stanza.ServiceUnavailable, "the component "+domain+" is not connected")
		return nil
	}
	deliver(ctx, st)
	return nil
}
