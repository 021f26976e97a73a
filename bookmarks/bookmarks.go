// Package bookmarks keeps XEP-0048 bookmarks stored through XEP-0049
// private XML storage and XEP-0402 bookmarks in PEP one list, as
// XEP-0402 §"Compatibility" describes and announces with the account
// feature urn:xmpp:bookmarks:1#compat: a client that still uses private
// storage sees and changes the same rooms as one that uses PEP.
//
// The PEP node urn:xmpp:bookmarks:1 is where the bookmarks are. A
// private-storage get of storage:bookmarks is answered from its items,
// one <conference jid=.../> per item; a set is made into publishes and
// retractions of the items that changed, so clients using PEP are
// notified of those only. XEP-0048's URL bookmarks have no place in
// XEP-0402 and are not kept. Bookmarks stored in private storage before
// the node existed move to the node at the first get through private
// storage.
//
// Clients of XEP-0048 §3 keep the list in PEP instead, as the one item
// of the node storage:bookmarks; the account feature
// urn:xmpp:bookmarks:1#compat-pep announces that it is kept in step
// too. A list such a client publishes is made into publishes and
// retractions as a private-storage set is; when the rooms change
// otherwise, the list is published again to that node, if a client made
// it, so that its clients are notified. A client that reads the node
// before any made it finds it made, with the rooms, so that the list it
// publishes next keeps them.
package bookmarks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"mellium.im/xmpp/jid"

	"xmppd/dataform"
	"xmppd/pep"
	"xmppd/private"
	"xmppd/router"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0402 and of XEP-0048.
const (
	NS       = "urn:xmpp:bookmarks:1"
	NSLegacy = "storage:bookmarks"
)

// Compat and CompatPEP are the account features announcing the
// conversion from private storage and from the PEP node NSLegacy.
const (
	Compat    = NS + "#compat"
	CompatPEP = NS + "#compat-pep"
)

// legacyItem is the id of the one item of the PEP node NSLegacy
// (XEP-0048 §3).
const legacyItem = "current"

// Converter is the private-storage handler of storage:bookmarks, and
// keeps the PEP node NSLegacy in step.
type Converter struct {
	pep *pep.Service
	log *slog.Logger
}

var _ private.Handler = (*Converter)(nil)

// Register announces the conversion on r and returns the handler to give
// private storage for NSLegacy. log receives the failures of conversions
// that follow a client's publish, which has its answer already; nil
// discards them.
func Register(r *router.Router, service *pep.Service, log *slog.Logger) *Converter {
	r.AddAccountFeature(Compat)
	r.AddAccountFeature(CompatPEP)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Converter{pep: service, log: log}
	service.OnPublish(c.published)
	service.OnRemove(func(ctx context.Context, owner jid.JID, node, _ string) {
		if node == NS {
			c.logged(c.mirror(ctx, owner), owner)
		}
	})
	service.OnRead(func(ctx context.Context, owner jid.JID, node string) {
		if node == NSLegacy {
			c.logged(c.makeLegacy(ctx, owner), owner)
		}
	})
	return c
}

// legacyConfig is the configuration of the node NSLegacy when the
// converter makes it: that of a client's publish with XEP-0048 §3's
// publish-options, PEP's defaults made private.
func legacyConfig() pep.NodeConfig {
	cfg := pep.Defaults()
	cfg.Access = pep.Whitelist
	return cfg
}

// makeLegacy makes the PEP node NSLegacy, with the account's bookmarks,
// when a client of XEP-0048 §3 reads it before any client made it: shown
// nothing, it would publish a list without the rooms it was not shown,
// and they would go.
func (c *Converter) makeLegacy(ctx context.Context, account jid.JID) error {
	_, _, exists, err := c.pep.Items(ctx, account, NSLegacy)
	if err != nil || exists {
		return err
	}
	list, ok, err := c.Get(ctx, account)
	if err != nil || !ok {
		return err
	}
	return c.pep.Publish(ctx, account, NSLegacy, legacyConfig(), legacyItem, list[0])
}

// published follows a client's publish: a list of XEP-0048 to the node
// NSLegacy becomes XEP-0402's items, a change of those items is
// published to NSLegacy.
func (c *Converter) published(ctx context.Context, owner jid.JID, node, _ string, payload *xmlstream.Element) {
	switch {
	case node == NSLegacy && payload.Name.Space == NSLegacy:
		c.logged(c.set(ctx, owner, []*xmlstream.Element{payload}), owner)
	case node == NS:
		c.logged(c.mirror(ctx, owner), owner)
	}
}

// logged logs err, if any, of a conversion for account.
func (c *Converter) logged(err error, account jid.JID) {
	if err != nil {
		c.log.Error("keeping the bookmarks' forms in step", "jid", account.String(), "err", err)
	}
}

// mirror publishes the account's bookmarks as XEP-0048's list to the
// PEP node NSLegacy, when a client made that node: an empty list when
// the XEP-0402 node is gone. A node made without XEP-0048's
// publish-options is made whitelist first, so that rooms kept private
// in XEP-0402, and their passwords, stay private there.
func (c *Converter) mirror(ctx context.Context, account jid.JID) error {
	cfg, _, exists, err := c.pep.Items(ctx, account, NSLegacy)
	if err != nil || !exists {
		return err
	}
	list, ok, err := c.Get(ctx, account)
	if err != nil {
		return err
	}
	if !ok {
		list = []*xmlstream.Element{xmlstream.NewElement(NSLegacy, "storage")}
	}
	if cfg.Access != pep.Whitelist {
		cfg.Access = pep.Whitelist
		if err := c.pep.Configure(ctx, account, NSLegacy, cfg); err != nil {
			return err
		}
	}
	return c.pep.Publish(ctx, account, NSLegacy, cfg, legacyItem, list[0])
}

// nodeConfig is the configuration XEP-0402 asks of the node.
func (c *Converter) nodeConfig() pep.NodeConfig {
	return pep.NodeConfig{Access: pep.Whitelist, MaxItems: c.pep.MaxItems(), Persist: true, SendLast: pep.Never, NotifyRetract: true}
}

// Get returns the account's bookmarks as one XEP-0048 <storage/>; ok is
// false when the account has no bookmarks node.
func (c *Converter) Get(ctx context.Context, account jid.JID) ([]*xmlstream.Element, bool, error) {
	_, items, exists, err := c.pep.Items(ctx, account, NS)
	if err != nil || !exists {
		return nil, false, err
	}
	storage := xmlstream.NewElement(NSLegacy, "storage")
	for _, it := range items {
		if conf := legacyConference(it); conf != nil {
			storage.AddChild(conf)
		}
	}
	return []*xmlstream.Element{storage}, true, nil
}

// Set makes the account's bookmarks those of the XEP-0048 <storage/> in
// elems: new and changed ones are published, missing ones retracted.
// Elements other than <storage/> are refused (private.ErrMalformed).
func (c *Converter) Set(ctx context.Context, account jid.JID, elems []*xmlstream.Element) error {
	if err := c.set(ctx, account, elems); err != nil {
		return err
	}
	// The set is done: a failure to show it in the other form is not
	// its failure.
	c.logged(c.mirror(ctx, account), account)
	return nil
}

// set is Set without publishing the list to the node NSLegacy, for a
// list that came from there.
func (c *Converter) set(ctx context.Context, account jid.JID, elems []*xmlstream.Element) error {
	want := map[string]*xmlstream.Element{}
	var order []string
	for _, storage := range elems {
		// Anything else is no list at all, not an empty one that would
		// remove every room.
		if storage.Name.Local != "storage" {
			return fmt.Errorf("%w: <%s/> where XEP-0048 has <storage/>", private.ErrMalformed, storage.Name.Local)
		}
		for _, conf := range storage.ChildElements() {
			id, payload, ok := conference(conf)
			if !ok {
				continue
			}
			if _, dup := want[id]; !dup {
				order = append(order, id)
			}
			want[id] = payload
		}
	}
	if len(want) > c.pep.MaxItems() {
		return fmt.Errorf("%w: %d bookmarks, a node keeps %d", private.ErrTooLarge, len(want), c.pep.MaxItems())
	}
	cfg, items, exists, err := c.pep.Items(ctx, account, NS)
	if err != nil {
		return err
	}
	// The node's items as XEP-0048 shows them, by room, so that an item
	// published in another form (autojoin='1', whitespace, a room JID in
	// capitals) counts as unchanged. Items it does not show are left
	// alone. A room whose JID items spell in several ways (XEP-0048
	// showed each) is one room: the item of its normal spelling, or
	// the first, stands for it and the others go.
	type existing struct {
		id      string
		payload *xmlstream.Element
		others  []string
	}
	have := map[string]existing{}
	for _, it := range items {
		if legacy := legacyConference(it); legacy != nil {
			if room, payload, ok := conference(legacy); ok {
				id := it.Attr("id")
				old, seen := have[room]
				switch {
				case !seen:
					have[room] = existing{id: id, payload: payload}
				case id == room:
					have[room] = existing{id, payload, append(old.others, old.id)}
				default:
					old.others = append(old.others, id)
					have[room] = old
				}
			}
		}
	}
	var publish []string
	for _, room := range order {
		if old, ok := have[room]; !ok || !old.payload.Equal(want[room]) {
			publish = append(publish, room)
		}
	}
	// Publishes come first, so that a failure never removes a room the
	// list keeps, when the node can hold the new rooms beside all it has;
	// otherwise the retractions make room first.
	added := 0
	for _, room := range publish {
		if _, ok := have[room]; !ok {
			added++
		}
	}
	retractFirst := len(items)+added > c.pep.MaxItems()
	if err := c.prepare(ctx, account, cfg, exists, min(len(items)+added, c.pep.MaxItems())); err != nil {
		return err
	}
	retract := func() error {
		for room, old := range have {
			ids := old.others
			if _, keep := want[room]; !keep {
				ids = append(ids, old.id)
			}
			for _, id := range ids {
				if err := c.pep.Retract(ctx, account, NS, id); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if retractFirst {
		if err := retract(); err != nil {
			return err
		}
	}
	for _, room := range publish {
		id := room
		if old, ok := have[room]; ok {
			id = old.id
		}
		if err := c.pep.Publish(ctx, account, NS, c.nodeConfig(), id, want[room]); err != nil {
			return tooLarge(err)
		}
	}
	if retractFirst {
		return nil
	}
	return retract()
}

// prepare makes sure the node exists, keeps n items and is private: a
// node another client made with presence access would show the rooms'
// passwords to the account's contacts. A node it has to change gets the
// whole configuration XEP-0402 asks, which its clients' publish-options
// then meet.
func (c *Converter) prepare(ctx context.Context, account jid.JID, cfg pep.NodeConfig, exists bool, n int) error {
	if !exists {
		return tooLarge(c.pep.Create(ctx, account, NS, c.nodeConfig()))
	}
	if cfg.MaxItems >= n && cfg.Access == pep.Whitelist {
		return nil
	}
	want := c.nodeConfig()
	want.Title = cfg.Title
	return c.pep.Configure(ctx, account, NS, want)
}

// tooLarge marks the errors of the account's PEP limits as private
// storage's.
func tooLarge(err error) error {
	if errors.Is(err, pep.ErrTooLarge) || errors.Is(err, pep.ErrTooManyNodes) {
		return fmt.Errorf("%w: %w", private.ErrTooLarge, err)
	}
	return err
}

// conference converts a XEP-0048 <conference/> into the id and payload
// of a XEP-0402 item; ok is false for anything else, or for a conference
// without a valid room JID.
func conference(el *xmlstream.Element) (id string, payload *xmlstream.Element, ok bool) {
	if el.Name.Space != NSLegacy || el.Name.Local != "conference" {
		return "", nil, false
	}
	room, err := jid.Parse(el.Attr("jid"))
	if err != nil || room.Resourcepart() != "" || len(room.String()) > pep.MaxItemID {
		return "", nil, false
	}
	out := xmlstream.NewElement(NS, "conference")
	if name := el.Attr("name"); name != "" {
		out.SetAttr("name", name)
	}
	if autojoin, _ := dataform.ParseBool(el.Attr("autojoin")); autojoin {
		out.SetAttr("autojoin", "true")
	}
	var ext *xmlstream.Element
	for _, c := range el.ChildElements() {
		switch {
		case c.Name.Space == NSLegacy && (c.Name.Local == "nick" || c.Name.Local == "password"):
			out.AddChild(xmlstream.NewElement(NS, c.Name.Local).AddText(c.Text()))
		case c.Name.Space != NSLegacy:
			if ext == nil {
				ext = xmlstream.NewElement(NS, "extensions")
			}
			ext.AddChild(c)
		}
	}
	if ext != nil {
		out.AddChild(ext)
	}
	return room.String(), out, true
}

// legacyConference converts a XEP-0402 item into a XEP-0048
// <conference/>, or nil when its payload is not a conference or its id
// not a room JID.
func legacyConference(item *xmlstream.Element) *xmlstream.Element {
	conf := item.FirstChildElement()
	if conf == nil || conf.Name.Space != NS || conf.Name.Local != "conference" {
		return nil
	}
	if room, err := jid.Parse(item.Attr("id")); err != nil || room.Resourcepart() != "" {
		return nil
	}
	out := xmlstream.NewElement(NSLegacy, "conference", "jid", item.Attr("id"))
	if name := conf.Attr("name"); name != "" {
		out.SetAttr("name", name)
	}
	autojoin, _ := dataform.ParseBool(conf.Attr("autojoin"))
	out.SetAttr("autojoin", fmt.Sprint(autojoin))
	for _, c := range conf.ChildElements() {
		switch {
		case c.Name.Space == NS && (c.Name.Local == "nick" || c.Name.Local == "password"):
			out.AddChild(xmlstream.NewElement(NSLegacy, c.Name.Local).AddText(c.Text()))
		case c.Name.Space == NS && c.Name.Local == "extensions":
			for _, e := range c.ChildElements() {
				out.AddChild(e)
			}
		}
	}
	return out
}
