package pep

import (
	"context"

	"xmppd/dataform"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// ownerRequest checks what owner gets and sets share and returns the
// operation and its node, or the error answering iq.
func ownerRequest(iq router.IQ) (op *xmlstream.Element, node string, reply *xmlstream.Element) {
	if !owner(iq.From, iq.To) {
		return nil, "", iq.Error(stanza.Forbidden, "only the account itself manages its nodes")
	}
	children := iq.Payload.ChildElements()
	if len(children) != 1 || children[0].Name.Space != NSOwner {
		return nil, "", iq.Error(stanza.BadRequest, "")
	}
	op = children[0]
	if _, ok := requestFeatures[op.Name]; ok {
		return nil, "", unsupported(iq, op)
	}
	if node = op.Attr("node"); node == "" {
		return nil, "", pubsubError(iq, stanza.BadRequest, "nodeid-required")
	}
	return op, node, nil
}

// ownerGet answers a request for a node's configuration form (XEP-0060
// §8.2).
func (m *module) ownerGet(ctx context.Context, iq router.IQ) *xmlstream.Element {
	op, node, reply := ownerRequest(iq)
	if reply != nil {
		return reply
	}
	if op.Name.Local != "configure" {
		return unsupported(iq, op)
	}
	ctx, cancel := timeout(ctx)
	defer cancel()
	cfg, err := m.Store.Node(ctx, iq.To, node)
	if reply := m.storeError(iq, err, "reading"); reply != nil {
		return reply
	}
	groups, err := m.Contacts.RosterGroups(ctx, iq.To)
	if reply := m.storeError(iq, err, "reading the roster groups for"); reply != nil {
		return reply
	}
	conf := xmlstream.NewElement(NSOwner, "configure", "node", node).AddChild(cfg.within(m.MaxItems).form("form", groups).Element())
	return iq.Result(xmlstream.NewElement(NSOwner, "pubsub").AddChild(conf))
}

// ownerSet configures (§8.2.4), purges (§8.5) or deletes (§8.4) a node.
func (m *module) ownerSet(ctx context.Context, iq router.IQ) *xmlstream.Element {
	op, node, reply := ownerRequest(iq)
	if reply != nil {
		return reply
	}
	sctx, cancel := timeout(ctx)
	defer cancel()
	switch op.Name.Local {
	case "configure":
		return m.configure(sctx, iq, op, node)
	case "purge":
		cfg, err := m.Store.Purge(sctx, iq.To, node)
		if reply := m.storeError(iq, err, "purging"); reply != nil {
			return reply
		}
		// A purge is told as removing items is (§8.5.2): not by a node
		// configured not to notify retractions, as ejabberd has it.
		if cfg.NotifyRetract {
			m.notify(ctx, iq.To, node, cfg, xmlstream.NewElement(NSEvent, "purge", "node", node))
		}
		m.tellRemoved(ctx, iq.To, node, "")
	case "delete":
		cfg, err := m.Store.Delete(sctx, iq.To, node)
		if reply := m.storeError(iq, err, "deleting"); reply != nil {
			return reply
		}
		m.notify(ctx, iq.To, node, cfg, xmlstream.NewElement(NSEvent, "delete", "node", node))
		m.tellRemoved(ctx, iq.To, node, "")
	default:
		return unsupported(iq, op)
	}
	return iq.Result(nil)
}

// configure applies a submitted configuration form to a node; a cancel
// form changes nothing.
func (m *module) configure(ctx context.Context, iq router.IQ, op *xmlstream.Element, node string) *xmlstream.Element {
	x := op.Child(dataform.NS, "x")
	if x == nil {
		return iq.Error(stanza.BadRequest, "the configuration form is missing")
	}
	f, ok := formOf(x, NSConfig)
	cfg, err := m.Store.Node(ctx, iq.To, node)
	if reply := m.storeError(iq, err, "reading"); reply != nil {
		return reply
	}
	if f.Type == "cancel" {
		return iq.Result(nil)
	}
	if !ok || f.Type != "submit" {
		return iq.Error(stanza.BadRequest, "expected a submitted "+NSConfig+" form")
	}
	// The form a get returned, sent back, names the node's max_items as
	// the service applies it (within pep.max_items), so that a node made
	// before the operator lowered the limit can still be configured.
	cfg = cfg.within(m.MaxItems)
	if err := apply(&cfg, f, m.MaxItems); err != nil {
		return iq.Error(stanza.NotAcceptable, err.Error())
	}
	if reply := m.storeError(iq, m.Store.Configure(ctx, iq.To, node, cfg), "configuring"); reply != nil {
		return reply
	}
	if err := m.cancelExcluded(ctx, iq.To, node, cfg); err != nil {
		m.Logger.Error("ending the subscriptions a PEP node's access model excludes", "jid", iq.To.String(), "node", node, "err", err)
	}
	return iq.Result(nil)
}
