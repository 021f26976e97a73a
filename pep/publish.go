package pep

import (
	"context"
	"encoding/xml"
	"errors"
	"strconv"

	"mellium.im/xmpp/jid"

	"xmppd/dataform"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// Bounds of names, which are keys in the database.
const (
	// MaxNodeName is the longest node name.
	MaxNodeName = 1024
	// MaxItemID is the longest item id.
	MaxItemID = 1024
)

// set answers <pubsub/> sets: subscribe and unsubscribe, and publish,
// retract and create, by which only the account itself may change its
// nodes.
func (m *module) set(ctx context.Context, iq router.IQ) *xmlstream.Element {
	children := iq.Payload.ChildElements()
	if len(children) == 0 {
		return iq.Error(stanza.BadRequest, "the pubsub element is empty")
	}
	op := children[0]
	switch {
	case op.Name.Space == NS && op.Name.Local == "subscribe":
		return m.subscribe(ctx, iq, op)
	case op.Name.Space == NS && op.Name.Local == "unsubscribe":
		return m.unsubscribe(ctx, iq, op)
	case !owner(iq.From, iq.To):
		return iq.Error(stanza.Forbidden, "only the account itself publishes to its nodes")
	}
	node := op.Attr("node")
	switch {
	case op.Name.Space != NS:
		return iq.Error(stanza.BadRequest, "")
	case node == "" && op.Name.Local != "create":
		return pubsubError(iq, stanza.BadRequest, "nodeid-required")
	case len(node) > MaxNodeName:
		return iq.Error(stanza.NotAcceptable, "the node name is too long")
	}
	switch op.Name.Local {
	case "publish":
		return m.publish(ctx, iq, op, children[1:])
	case "retract":
		return m.retract(ctx, iq, op)
	case "create":
		return m.create(ctx, iq, op, children[1:])
	}
	return unsupported(iq, op)
}

// requestFeatures names the XEP-0060 feature (§10) that each request
// the service does not offer needs, as its error must (§5.6.3, §5.7.3,
// §6.1.3.x, §6.3.4.x, §6.4.3.x, §8.3.3.x, §8.8.x, §8.9.x).
var requestFeatures = map[xml.Name]string{
	{Space: NS, Local: "affiliations"}:       "retrieve-affiliations",
	{Space: NS, Local: "options"}:            "subscription-options",
	{Space: NS, Local: "default"}:            "retrieve-default-sub",
	{Space: NSOwner, Local: "default"}:       "retrieve-default",
	{Space: NSOwner, Local: "subscriptions"}: "manage-subscriptions",
	{Space: NSOwner, Local: "affiliations"}:  "modify-affiliations",
}

// unsupported answers op, a pubsub request the service does not offer,
// with feature-not-implemented naming the feature it needs (XEP-0060
// §10), or the request's name when it has none.
func unsupported(iq router.IQ, op *xmlstream.Element) *xmlstream.Element {
	feature, ok := requestFeatures[op.Name]
	if !ok {
		feature = op.Name.Local
	}
	reply := pubsubError(iq, stanza.FeatureNotImplemented, "unsupported")
	reply.Child("", "error").Child(NSErrors, "unsupported").SetAttr("feature", feature)
	return reply
}

// publish stores an item (XEP-0060 §7.1) and notifies.
func (m *module) publish(ctx context.Context, iq router.IQ, op *xmlstream.Element, rest []*xmlstream.Element) *xmlstream.Element {
	node := op.Attr("node")
	items := op.ChildElements()
	switch {
	case len(items) == 0:
		return pubsubError(iq, stanza.BadRequest, "item-required")
	case len(items) > 1 || items[0].Name.Space != NS || items[0].Name.Local != "item":
		return pubsubError(iq, stanza.BadRequest, "invalid-payload")
	}
	payloads := items[0].ChildElements()
	switch {
	case len(payloads) == 0:
		return pubsubError(iq, stanza.BadRequest, "payload-required")
	case len(payloads) > 1:
		return pubsubError(iq, stanza.BadRequest, "invalid-payload")
	}
	id := items[0].Attr("id")
	if id == "" {
		id = stanza.NewID()
	}
	if len(id) > MaxItemID {
		return iq.Error(stanza.NotAcceptable, "the item id is too long")
	}
	create := Defaults()
	check := func(NodeConfig) error { return nil }
	if po := child(rest, NS, "publish-options"); po != nil {
		f, ok := formOf(po.Child(dataform.NS, "x"), NSOptions)
		if !ok {
			return iq.Error(stanza.BadRequest, "publish-options without a "+NSOptions+" form")
		}
		if err := apply(&create, f, m.MaxItems); err != nil {
			return pubsubError(iq, stanza.Conflict, "precondition-not-met")
		}
		check = func(c NodeConfig) error { return satisfies(c, f, m.MaxItems) }
	}
	item := Item{ID: id, Payload: payloads[0].Append(nil, "")}
	ctx2, cancel := timeout(ctx)
	defer cancel()
	cfg, err := m.Store.Publish(ctx2, iq.To, node, create, check, item, m.Limits)
	if reply := m.storeError(iq, err, "publishing"); reply != nil {
		return reply
	}
	m.notify(ctx, iq.To, node, cfg, itemsEvent(node, eventItem(id, payloads[0])))
	for _, f := range m.published {
		f(ctx, iq.To, node, id, payloads[0])
	}
	pub := xmlstream.NewElement(NS, "publish", "node", node)
	pub.AddChild(xmlstream.NewElement(NS, "item", "id", id))
	return iq.Result(xmlstream.NewElement(NS, "pubsub").AddChild(pub))
}

// tellRemoved tells the OnRemove functions that owner's client removed
// item id of node, or the node's items (id "").
func (m *module) tellRemoved(ctx context.Context, owner jid.JID, node, id string) {
	for _, f := range m.removed {
		f(ctx, owner, node, id)
	}
}

// storeError returns the answer to iq for a Store error, or nil for none.
func (m *module) storeError(iq router.IQ, err error, doing string) *xmlstream.Element {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrPrecondition):
		return pubsubError(iq, stanza.Conflict, "precondition-not-met")
	case errors.Is(err, ErrTooManyNodes):
		return iq.Error(stanza.PolicyViolation, "the account has as many nodes as it may")
	case errors.Is(err, ErrTooLarge):
		return iq.Error(stanza.PolicyViolation, "the account's items would take more than "+strconv.FormatInt(m.Limits.Bytes, 10)+" bytes")
	case errors.Is(err, ErrTooManySubscriptions):
		return iq.Error(stanza.PolicyViolation, "the node has as many subscriptions as it may")
	case errors.Is(err, ErrExists):
		return iq.Error(stanza.Conflict, "the node exists")
	case errors.Is(err, storage.ErrNotFound):
		return iq.Error(stanza.ItemNotFound, "")
	}
	m.Logger.Error(doing+" a PEP node", "jid", iq.To.String(), "err", err)
	return iq.Error(stanza.InternalServerError, "")
}

// retract removes an item (XEP-0060 §7.2), telling subscribers when the
// request or the node's configuration asks to.
func (m *module) retract(ctx context.Context, iq router.IQ, op *xmlstream.Element) *xmlstream.Element {
	node := op.Attr("node")
	items := op.ChildElements()
	if len(items) != 1 || items[0].Name.Local != "item" || items[0].Attr("id") == "" {
		return pubsubError(iq, stanza.BadRequest, "item-required")
	}
	id := items[0].Attr("id")
	ctx2, cancel := timeout(ctx)
	defer cancel()
	cfg, err := m.Store.Retract(ctx2, iq.To, node, id)
	if reply := m.storeError(iq, err, "retracting from"); reply != nil {
		return reply
	}
	// The node's pubsub#notify_retract asks for notifications as a
	// notify='true' does (§7.2.2.1), as ejabberd has it.
	if notify, _ := dataform.ParseBool(op.Attr("notify")); notify || cfg.NotifyRetract {
		m.notify(ctx, iq.To, node, cfg, itemsEvent(node, xmlstream.NewElement(NSEvent, "retract", "id", id)))
	}
	m.tellRemoved(ctx, iq.To, node, id)
	return iq.Result(nil)
}

// create creates a node (XEP-0060 §8.1), with the configuration form of
// a <configure/> beside it if there is one.
func (m *module) create(ctx context.Context, iq router.IQ, op *xmlstream.Element, rest []*xmlstream.Element) *xmlstream.Element {
	node := op.Attr("node")
	if node == "" {
		// Instant nodes (§8.1.2) make no sense for PEP, whose nodes are
		// named by what they hold.
		return pubsubError(iq, stanza.NotAcceptable, "nodeid-required")
	}
	cfg := Defaults()
	if c := child(rest, NS, "configure"); c != nil {
		// Read as a configure's form is (owner.go): one without a
		// FORM_TYPE still asks for its fields, and one of another
		// FORM_TYPE is refused rather than ignored, lest the node get
		// less private than the client believes.
		if x := c.Child(dataform.NS, "x"); x != nil {
			f, ok := formOf(x, NSConfig)
			if !ok {
				return iq.Error(stanza.BadRequest, "expected a "+NSConfig+" form")
			}
			if err := apply(&cfg, f, m.MaxItems); err != nil {
				return iq.Error(stanza.NotAcceptable, err.Error())
			}
		}
	}
	ctx, cancel := timeout(ctx)
	defer cancel()
	if reply := m.storeError(iq, m.Store.Create(ctx, iq.To, node, cfg, m.Limits), "creating"); reply != nil {
		return reply
	}
	return iq.Result(nil)
}

// formOf reads the data form x as one of formType. XEP-0060 only
// recommends the FORM_TYPE of publish options (§7.1.5) and of node
// configurations, so a form without one is read as formType too; ok is
// false when x is nil or a form of another type.
func formOf(x *xmlstream.Element, formType string) (f dataform.Form, ok bool) {
	if x == nil {
		return f, false
	}
	f = dataform.Parse(x)
	ft := f.FormType()
	return f, ft == "" || ft == formType
}

// child returns the first of els named {space}local, or nil.
func child(els []*xmlstream.Element, space, local string) *xmlstream.Element {
	for _, e := range els {
		if e.Name.Space == space && e.Name.Local == local {
			return e
		}
	}
	return nil
}

// itemsEvent returns the <items/> of an event notification for node.
func itemsEvent(node string, children ...*xmlstream.Element) *xmlstream.Element {
	items := xmlstream.NewElement(NSEvent, "items", "node", node)
	for _, c := range children {
		items.AddChild(c)
	}
	return items
}

// eventItem returns an item of an event notification.
func eventItem(id string, payload *xmlstream.Element) *xmlstream.Element {
	return xmlstream.NewElement(NSEvent, "item", "id", id).AddChild(payload)
}

// owner reports whether j is the account that owns the service at to.
func owner(j, to jid.JID) bool { return j.Bare().Equal(to) }
