// Package disco implements XEP-0030: Service Discovery, answering
// disco#info and disco#items for the server and for accounts.
package disco

import (
	"context"
	"log/slog"
	"strings"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0030.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
)

// Presence tells who may see an account's presence (package roster).
type Presence interface {
	// MaySeePresence reports whether contact is subscribed to account's
	// presence.
	MaySeePresence(ctx context.Context, account, contact jid.JID) (bool, error)
}

// Register answers disco#info and disco#items on r. The server's features
// are those announced with router.AddFeature at the time of each query;
// forms are added to the server's disco#info as extended information
// (XEP-0128), such as its contact addresses (XEP-0157). An account's
// disco#info is told only to the account and to those who may see its
// presence, as presence tells. log receives the
// failures of the modules that list an account's items and nodes; nil
// discards them.
func Register(r *router.Router, log *slog.Logger, presence Presence, forms ...*xmlstream.Element) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r.AddFeature(NSInfo)
	r.AddFeature(NSItems)
	r.AddAccountFeature(NSInfo)
	r.HandleIQ(router.ToServer, "get", NSInfo, "query", func(ctx context.Context, iq router.IQ) *xmlstream.Element {
		if node := iq.Payload.Attr("node"); node != "" {
			return nodeInfo(ctx, r, iq, node)
		}
		q := xmlstream.NewElement(NSInfo, "query")
		q.AddChild(xmlstream.NewElement(NSInfo, "identity", "category", "server", "type", "im", "name", "xmppd"))
		for _, f := range r.Features() {
			q.AddChild(xmlstream.NewElement(NSInfo, "feature", "var", f))
		}
		for _, f := range forms {
			q.AddChild(f.Copy())
		}
		return iq.Result(q)
	})
	r.HandleIQ(router.ToAccount, "get", NSInfo, "query", func(ctx context.Context, iq router.IQ) *xmlstream.Element {
		if node := iq.Payload.Attr("node"); node != "" {
			return accountNodeInfo(ctx, r, log, iq, node)
		}
		if ok, err := maySee(ctx, presence, iq); err != nil {
			log.Error("disco#info of an account", "jid", iq.To.String(), "err", err)
			return iq.Error(stanza.InternalServerError, "")
		} else if !ok {
			// XEP-0030 §8: it would tell strangers which accounts
			// exist, and what they use.
			return iq.Error(stanza.ServiceUnavailable, "")
		}
		q := xmlstream.NewElement(NSInfo, "query")
		q.AddChild(xmlstream.NewElement(NSInfo, "identity", "category", "account", "type", "registered"))
		for _, id := range r.AccountIdentities() {
			q.AddChild(xmlstream.NewElement(NSInfo, "identity", "category", id.Category, "type", id.Type))
		}
		for _, f := range r.AccountFeatures() {
			q.AddChild(xmlstream.NewElement(NSInfo, "feature", "var", f))
		}
		return iq.Result(q)
	})
	r.HandleIQ(router.ToAccount, "get", NSItems, "query", func(ctx context.Context, iq router.IQ) *xmlstream.Element {
		if iq.Payload.Attr("node") != "" {
			return iq.Error("item-not-found", "")
		}
		q := xmlstream.NewElement(NSItems, "query")
		for _, list := range r.AccountItems() {
			items, err := list(ctx, iq)
			if err != nil {
				log.Error("listing an account's disco#items", "jid", iq.To.String(), "err", err)
				return iq.Error("internal-server-error", "")
			}
			for _, it := range items {
				q.AddChild(xmlstream.NewElement(NSItems, "item", "jid", it.JID.String(), "node", it.Node))
			}
		}
		return iq.Result(q)
	})
	// The server's items are its services, such as conference.<host>.
	r.HandleIQ(router.ToServer, "get", NSItems, "query", func(ctx context.Context, iq router.IQ) *xmlstream.Element {
		if node := iq.Payload.Attr("node"); node != "" {
			return nodeItems(ctx, r, iq, node)
		}
		q := xmlstream.NewElement(NSItems, "query")
		for _, d := range r.Components() {
			if strings.HasSuffix(d, "."+iq.To.Domainpart()) {
				q.AddChild(xmlstream.NewElement(NSItems, "item", "jid", d))
			}
		}
		return iq.Result(q)
	})
}

// maySee reports whether the sender of iq may see the presence of the
// account it is addressed to: it is the account, or subscribed to it.
func maySee(ctx context.Context, presence Presence, iq router.IQ) (bool, error) {
	if iq.From.Bare().Equal(iq.To.Bare()) {
		return true, nil
	}
	return presence.MaySeePresence(ctx, iq.To.Bare(), iq.From.Bare())
}

// nodeInfo answers disco#info for a node of the server from the module
// that owns it (router.AddServerNodes), or with item-not-found.
func nodeInfo(ctx context.Context, r *router.Router, iq router.IQ, node string) *xmlstream.Element {
	for _, h := range r.ServerNodes() {
		ids, features, ok := h.NodeInfo(ctx, iq, node)
		if !ok {
			continue
		}
		return iq.Result(infoQuery(node, router.DiscoInfo{Identities: ids, Features: features}))
	}
	return iq.Error("item-not-found", "")
}

// infoQuery is the disco#info answer for node telling info.
func infoQuery(node string, info router.DiscoInfo) *xmlstream.Element {
	q := xmlstream.NewElement(NSInfo, "query", "node", node)
	for _, id := range info.Identities {
		el := xmlstream.NewElement(NSInfo, "identity", "category", id.Category, "type", id.Type)
		if id.Name != "" {
			el.SetAttr("name", id.Name)
		}
		q.AddChild(el)
	}
	for _, f := range info.Features {
		q.AddChild(xmlstream.NewElement(NSInfo, "feature", "var", f))
	}
	for _, x := range info.Forms {
		q.AddChild(x)
	}
	return q
}

// accountNodeInfo answers disco#info for a node of an account from the
// module that has it (router.AddAccountNodes), or with item-not-found.
func accountNodeInfo(ctx context.Context, r *router.Router, log *slog.Logger, iq router.IQ, node string) *xmlstream.Element {
	for _, f := range r.AccountNodes() {
		info, ok, err := f(ctx, iq, node)
		if err != nil {
			log.Error("disco#info of an account's node", "jid", iq.To.String(), "node", node, "err", err)
			return iq.Error("internal-server-error", "")
		}
		if !ok {
			continue
		}
		return iq.Result(infoQuery(node, info))
	}
	return iq.Error("item-not-found", "")
}

// nodeItems answers disco#items for a node of the server likewise.
func nodeItems(ctx context.Context, r *router.Router, iq router.IQ, node string) *xmlstream.Element {
	for _, h := range r.ServerNodes() {
		items, ok := h.NodeItems(ctx, iq, node)
		if !ok {
			continue
		}
		q := xmlstream.NewElement(NSItems, "query", "node", node)
		for _, it := range items {
			el := xmlstream.NewElement(NSItems, "item", "jid", it.JID.String())
			if it.Node != "" {
				el.SetAttr("node", it.Node)
			}
			if it.Name != "" {
				el.SetAttr("name", it.Name)
			}
			q.AddChild(el)
		}
		return iq.Result(q)
	}
	return iq.Error("item-not-found", "")
}
