package pep

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"mellium.im/xmpp/jid"

	"xmppd/dataform"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// get answers <pubsub><items/></pubsub> (XEP-0060 §6.5) from the owner or
// anyone the node's access model lets see it, and <subscriptions/>
// (§5.6).
func (m *module) get(ctx context.Context, iq router.IQ) *xmlstream.Element {
	children := iq.Payload.ChildElements()
	if len(children) == 0 {
		return iq.Error(stanza.BadRequest, "the pubsub element is empty")
	}
	op := children[0]
	if op.Name.Space == NS && op.Name.Local == "subscriptions" {
		return m.subscriptions(ctx, iq, op)
	}
	if op.Name.Space != NS || op.Name.Local != "items" {
		return unsupported(iq, op)
	}
	node := op.Attr("node")
	if node == "" {
		return pubsubError(iq, stanza.BadRequest, "nodeid-required")
	}
	max := m.MaxItems
	if v := op.Attr("max_items"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return iq.Error(stanza.BadRequest, "max_items must be a positive number")
		}
		max = min(n, max)
	}
	var ids []string
	for _, it := range op.ChildElements() {
		if it.Name.Local == "item" && it.Attr("id") != "" {
			ids = append(ids, it.Attr("id"))
		}
	}
	if owner(iq.From, iq.To) {
		for _, f := range m.reading {
			f(ctx, iq.To, node)
		}
	}
	ctx, cancel := timeout(ctx)
	defer cancel()
	cfg, items, err := m.Store.Items(ctx, iq.To, node, ids, max)
	if reply := m.storeError(iq, err, "reading"); reply != nil {
		return reply
	}
	if reply := m.mayRead(ctx, iq, cfg); reply != nil {
		return reply
	}
	res := xmlstream.NewElement(NS, "items", "node", node)
	for _, it := range items {
		p, err := parsePayload(it.Payload)
		if err != nil {
			m.Logger.Error("parsing a stored PEP item", "jid", iq.To.String(), "node", node, "id", it.ID, "err", err)
			return iq.Error(stanza.InternalServerError, "")
		}
		res.AddChild(xmlstream.NewElement(NS, "item", "id", it.ID).AddChild(p))
	}
	return iq.Result(xmlstream.NewElement(NS, "pubsub").AddChild(res))
}

// mayRead returns nil when the sender of iq may read a node with cfg, or
// the error refusing it (XEP-0060 §6.5.9).
func (m *module) mayRead(ctx context.Context, iq router.IQ, cfg NodeConfig) *xmlstream.Element {
	condition, app, err := m.access(ctx, iq.To, iq.From.Bare(), cfg)
	switch {
	case err != nil:
		m.Logger.Error("checking a presence subscription or roster groups", "jid", iq.To.String(), "contact", iq.From.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	case condition != "":
		return pubsubError(iq, condition, app)
	}
	return nil
}

// access returns "" when the account reader may read owner's node with
// cfg, or the condition and pubsub condition that refuse it.
func (m *module) access(ctx context.Context, owner, reader jid.JID, cfg NodeConfig) (condition, app string, err error) {
	switch {
	case owner.Equal(reader) || cfg.Access == Open:
		return "", "", nil
	case cfg.Access == Whitelist:
		return stanza.NotAllowed, "closed-node", nil
	case cfg.Access == Roster:
		subscribed, groups, err := m.Contacts.ContactGroups(ctx, owner, reader)
		if err != nil || subscribed && cfg.allows(groups) {
			return "", "", err
		}
		return stanza.NotAuthorized, "not-in-roster-group", nil
	}
	ok, err := m.Contacts.MaySeePresence(ctx, owner, reader)
	if err != nil || ok {
		return "", "", err
	}
	return stanza.NotAuthorized, "presence-subscription-required", nil
}

// discoItems lists the nodes of the account that the sender of iq may
// read (XEP-0060 §5.2).
func (m *module) discoItems(ctx context.Context, iq router.IQ) ([]router.DiscoItem, error) {
	ctx, cancel := timeout(ctx)
	defer cancel()
	nodes, err := m.Store.Nodes(ctx, iq.To)
	if err != nil {
		return nil, err
	}
	var items []router.DiscoItem
	for _, n := range nodes {
		condition, _, err := m.access(ctx, iq.To, iq.From.Bare(), n.Config)
		if err != nil {
			return nil, err
		}
		if condition == "" {
			items = append(items, router.DiscoItem{JID: iq.To, Node: n.Name})
		}
	}
	return items, nil
}

// discoInfo answers disco#info on a node of the account (XEP-0060 §5.3,
// §5.4): a leaf node with its meta-data. A node the sender of iq may not
// read is not shown, as disco#items leaves it out, so that its existence
// is not told (ok is false: item-not-found).
func (m *module) discoInfo(ctx context.Context, iq router.IQ, node string) (router.DiscoInfo, bool, error) {
	ctx, cancel := timeout(ctx)
	defer cancel()
	cfg, err := m.Store.Node(ctx, iq.To, node)
	if errors.Is(err, storage.ErrNotFound) {
		return router.DiscoInfo{}, false, nil
	}
	if err != nil {
		return router.DiscoInfo{}, false, fmt.Errorf("pep: read %s of %s: %w", node, iq.To, err)
	}
	condition, _, err := m.access(ctx, iq.To, iq.From.Bare(), cfg)
	if err != nil || condition != "" {
		return router.DiscoInfo{}, false, err
	}
	meta := dataform.Form{Type: "result", Fields: []dataform.Field{
		{Var: "FORM_TYPE", Type: "hidden", Values: []string{NSMeta}},
		{Var: "pubsub#title", Type: "text-single", Label: options["pubsub#title"].label, Values: []string{cfg.Title}},
		{Var: "pubsub#owner", Type: "jid-multi", Label: "Owner", Values: []string{iq.To.Bare().String()}},
		{Var: "pubsub#access_model", Type: "list-single", Label: options["pubsub#access_model"].label, Values: []string{cfg.Access}},
	}}
	return router.DiscoInfo{
		Identities: []router.Identity{{Category: "pubsub", Type: "leaf"}},
		Features:   []string{"http://jabber.org/protocol/disco#info", NS},
		Forms:      []*xmlstream.Element{meta.Element()},
	}, true, nil
}

// parsePayload reads a stored payload back.
func parsePayload(data []byte) (*xmlstream.Element, error) {
	return xmlstream.ParseStored(data)
}
