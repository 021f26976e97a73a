package pep

import (
	"context"
	"slices"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// subscriber returns the JID that op, a subscribe or unsubscribe, names,
// or the error answering iq: it must be the sender's, bare or full
// (XEP-0060 §6.1.3.1, §6.2.3.3).
func subscriber(iq router.IQ, op *xmlstream.Element) (jid.JID, *xmlstream.Element) {
	if op.Attr("node") == "" {
		return jid.JID{}, pubsubError(iq, stanza.BadRequest, "nodeid-required")
	}
	j, err := jid.Parse(op.Attr("jid"))
	switch {
	case err != nil || op.Name.Local == "subscribe" && !j.Bare().Equal(iq.From.Bare()):
		return jid.JID{}, pubsubError(iq, stanza.BadRequest, "invalid-jid")
	case !j.Bare().Equal(iq.From.Bare()):
		return jid.JID{}, iq.Error(stanza.Forbidden, "only the subscriber itself unsubscribes")
	}
	return j, nil
}

// subscribe subscribes the sender's JID to a node its access model lets
// it read (XEP-0060 §6.1), then sends it the node's last item (§6.1.7).
func (m *module) subscribe(ctx context.Context, iq router.IQ, op *xmlstream.Element) *xmlstream.Element {
	j, reply := subscriber(iq, op)
	if reply != nil {
		return reply
	}
	node := op.Attr("node")
	sctx, cancel := timeout(ctx)
	defer cancel()
	cfg, err := m.Store.Node(sctx, iq.To, node)
	if reply := m.storeError(iq, err, "reading"); reply != nil {
		return reply
	}
	if reply := m.mayRead(sctx, iq, cfg); reply != nil {
		return reply
	}
	if reply := m.storeError(iq, m.Store.Subscribe(sctx, iq.To, node, j, MaxSubscriptions), "subscribing to"); reply != nil {
		return reply
	}
	sub := xmlstream.NewElement(NS, "subscription", "node", node, "jid", j.String(), "subscription", "subscribed")
	m.r.Route(ctx, iq.Result(xmlstream.NewElement(NS, "pubsub").AddChild(sub)))
	m.sendLast(sctx, j, []jid.JID{iq.To}, []string{node}, true)
	return nil
}

// unsubscribe ends the sender's subscription to a node (XEP-0060 §6.2).
func (m *module) unsubscribe(ctx context.Context, iq router.IQ, op *xmlstream.Element) *xmlstream.Element {
	j, reply := subscriber(iq, op)
	if reply != nil {
		return reply
	}
	ctx, cancel := timeout(ctx)
	defer cancel()
	removed, err := m.Store.Unsubscribe(ctx, iq.To, op.Attr("node"), j)
	if reply := m.storeError(iq, err, "unsubscribing from"); reply != nil {
		return reply
	}
	if !removed {
		return pubsubError(iq, stanza.UnexpectedRequest, "not-subscribed")
	}
	return iq.Result(nil)
}

// subscriptions answers the sender's request for its subscriptions to
// the account's nodes, or to one (XEP-0060 §5.6).
func (m *module) subscriptions(ctx context.Context, iq router.IQ, op *xmlstream.Element) *xmlstream.Element {
	ctx, cancel := timeout(ctx)
	defer cancel()
	subs, err := m.Store.Subscriptions(ctx, iq.To)
	if reply := m.storeError(iq, err, "listing the subscriptions to"); reply != nil {
		return reply
	}
	node := op.Attr("node")
	res := xmlstream.NewElement(NS, "subscriptions")
	if node != "" {
		res.SetAttr("node", node)
	}
	for _, s := range subs {
		if s.JID.Bare().Equal(iq.From.Bare()) && (node == "" || s.Node == node) {
			res.AddChild(xmlstream.NewElement(NS, "subscription", "node", s.Node, "jid", s.JID.String(), "subscription", "subscribed"))
		}
	}
	return iq.Result(xmlstream.NewElement(NS, "pubsub").AddChild(res))
}

// cancelExcluded ends the subscriptions to owner's node that its new
// configuration cfg no longer lets read it.
func (m *module) cancelExcluded(ctx context.Context, owner jid.JID, node string, cfg NodeConfig) error {
	subs, err := m.Store.Subscriptions(ctx, owner)
	if err != nil {
		return err
	}
	for _, s := range subs {
		if s.Node != node {
			continue
		}
		condition, _, err := m.access(ctx, owner, s.JID.Bare(), cfg)
		if err != nil {
			return err
		}
		if condition == "" {
			continue
		}
		if _, err := m.Store.Unsubscribe(ctx, owner, node, s.JID); err != nil {
			return err
		}
	}
	return nil
}

// notifySubscribers sends event about owner's node to the sessions of
// its explicit subscribers that may read it and were not sent it yet
// (sent, by full JID): a full JID itself, a bare one's local available
// resources of non-negative priority, or a remote bare JID unless one of
// its resources had it (XEP-0163 §4.3.2). readers are the bare JIDs
// that the access model, other than open, lets read the node.
func (m *module) notifySubscribers(ctx context.Context, owner jid.JID, cfg NodeConfig, readers []jid.JID, sent map[string]bool, event *xmlstream.Element) {
	for _, s := range cfg.Subscribers {
		j, err := jid.Parse(s)
		if err != nil {
			continue
		}
		bare := j.Bare()
		allowed := bare.Equal(owner) || cfg.Access == Open ||
			cfg.Access != Whitelist && slices.ContainsFunc(readers, bare.Equal)
		if !allowed {
			continue
		}
		var to []jid.JID
		switch {
		case j.Resourcepart() != "":
			to = []jid.JID{j}
		case m.r.IsLocal(j.Domainpart()):
			for _, session := range m.r.AvailableResources(bare) {
				if bare.Equal(owner) || !m.negative(session) {
					to = append(to, session)
				}
			}
		case !slices.ContainsFunc(sentTo(sent), bare.Equal):
			to = []jid.JID{bare}
		}
		for _, t := range to {
			if !sent[t.String()] {
				sent[t.String()] = true
				m.send(ctx, owner, t, event)
			}
		}
	}
}

// sentTo returns the bare JIDs of the addresses in sent.
func sentTo(sent map[string]bool) []jid.JID {
	var bares []jid.JID
	for s := range sent {
		if j, err := jid.Parse(s); err == nil {
			bares = append(bares, j.Bare())
		}
	}
	return bares
}
