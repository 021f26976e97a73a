// Package pep implements XEP-0163: Personal Eventing Protocol, the
// publish-subscribe service (XEP-0060) that every account has at its bare
// JID, with persistent items and publish options (XEP-0223). Clients keep
// there what their contacts or their other devices should see: the OMEMO
// device list and key bundles, the avatar, the nickname, the bookmarks
// (XEP-0402).
//
// What is supported, as XEP-0163 asks of a PEP service:
//
//   - publish, with publish-options as preconditions: an existing node
//     whose configuration differs gets conflict with precondition-not-met,
//     a new node is created with them (auto-create);
//   - create (with a configuration), configure (get and set), delete,
//     purge, retract, and retrieving all items, the newest max_items or
//     given ids;
//   - access models open, presence (the default), roster (contacts
//     subscribed to the owner's presence in some of its roster groups,
//     pubsub#roster_groups_allowed) and whitelist (the owner alone);
//     authorize is refused;
//   - notifications: a publish, a retraction (when asked or when the
//     node's pubsub#notify_retract says so), a purge or a
//     deletion goes to those of the owner's own sessions and of its
//     presence subscribers' sessions of non-negative priority (not for
//     whitelist; for roster, those in the allowed groups) that announce
//     node+notify in their entity capabilities (XEP-0115); a session that
//     announces it gets the last item of each such node when its
//     capabilities become known. Subscribers on other servers are
//     served alike, from the capabilities in the presence their
//     resources send the owner (contacts.go).
//
// Subscriptions are implied by presence subscriptions and +notify; an
// entity the access model lets read a node may also subscribe its bare
// or full JID explicitly (XEP-0060 §6.1, §6.2, §5.6), and gets the
// notifications then too, once per session. A configuration whose access
// model excludes a subscriber ends its subscription. Items are kept in PostgreSQL, newest last, at
// most pubsub#max_items of them per node (at most Config.MaxItems); a
// node with pubsub#persist_items false keeps none, and only notifies.
package pep

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0060.
const (
	NS        = "http://jabber.org/protocol/pubsub"
	NSOwner   = "http://jabber.org/protocol/pubsub#owner"
	NSEvent   = "http://jabber.org/protocol/pubsub#event"
	NSErrors  = "http://jabber.org/protocol/pubsub#errors"
	NSConfig  = "http://jabber.org/protocol/pubsub#node_config"
	NSOptions = "http://jabber.org/protocol/pubsub#publish-options"
	NSMeta    = "http://jabber.org/protocol/pubsub#meta-data"
	// NSDelay is XEP-0203's, which stamps a last item sent late.
	NSDelay = "urn:xmpp:delay"
)

// stampLayout is the XEP-0082 DateTime profile of <delay/> stamps.
const stampLayout = "2006-01-02T15:04:05.000Z"

// storeTimeout bounds one database call.
const storeTimeout = 10 * time.Second

// Errors a Store returns, wrapped.
var (
	// ErrPrecondition: the node exists and its configuration is not what
	// the publish options ask for.
	ErrPrecondition = errors.New("the node's configuration differs from the publish options")
	// ErrTooManyNodes: creating the node would exceed the account's limit.
	ErrTooManyNodes = errors.New("the account has as many nodes as it may")
	// ErrTooLarge: the account's items would take more than its limit.
	ErrTooLarge = errors.New("the account's items would exceed their size limit")
	// ErrExists: the node to create exists.
	ErrExists = errors.New("the node exists")
	// ErrTooManySubscriptions: the node has as many subscriptions as
	// it may.
	ErrTooManySubscriptions = errors.New("the node has as many subscriptions as it may")
)

// MaxSubscriptions is the most explicit subscriptions a node has.
const MaxSubscriptions = 1000

// Subscription is an explicit subscription to a node (XEP-0060 §6.1).
type Subscription struct {
	Node string
	// JID is the subscribed JID, bare or full.
	JID jid.JID
}

// Item is one published item.
type Item struct {
	ID string
	// Payload is the item's one child element, serialised.
	Payload []byte
}

// Limits bound what one account keeps.
type Limits struct {
	// Nodes is the most nodes.
	Nodes int
	// Bytes is the most bytes of item payloads over all nodes.
	Bytes int64
	// Items is the most items a node keeps whatever its
	// pubsub#max_items, which may be from before the operator lowered
	// pep.max_items; 0 sets no such bound.
	Items int
}

// Node is a node and its configuration.
type Node struct {
	Name   string
	Config NodeConfig
}

// LastItem is the newest item of one node, with what decides who may
// have it.
type LastItem struct {
	Owner  jid.JID
	Node   string
	Config NodeConfig
	Item   Item
	// Published is when the item was published.
	Published time.Time
}

// Store keeps the nodes, items and explicit subscriptions of every
// account. The NodeConfig that Publish, Retract, Purge and Delete return
// holds the node's Subscribers. Errors for a node that
// does not exist wrap storage.ErrNotFound; so do those for an unknown
// account.
type Store interface {
	// Publish stores item in owner's node, replacing an item with its id
	// and keeping only the newest MaxItems (at most limits.Items); a
	// node whose Persist is false stores nothing (a transient node,
	// XEP-0060 §4.3). A node that does not exist is
	// created with create, unless owner has limits.Nodes nodes already
	// (ErrTooManyNodes). For an existing node, check is called with its
	// configuration first; its error stops the publish. Nothing changes
	// if the payloads of owner's items would then take more than
	// limits.Bytes (ErrTooLarge).
	Publish(ctx context.Context, owner jid.JID, node string, create NodeConfig, check func(NodeConfig) error, item Item, limits Limits) (NodeConfig, error)
	// Create creates owner's node with cfg (ErrExists, ErrTooManyNodes).
	Create(ctx context.Context, owner jid.JID, node string, cfg NodeConfig, limits Limits) error
	// Node returns the configuration of owner's node.
	Node(ctx context.Context, owner jid.JID, node string) (NodeConfig, error)
	// Nodes returns owner's nodes, sorted by name.
	Nodes(ctx context.Context, owner jid.JID) ([]Node, error)
	// Configure replaces the configuration of owner's node, dropping the
	// oldest items beyond its new MaxItems, or all of them when its
	// Persist is false.
	Configure(ctx context.Context, owner jid.JID, node string, cfg NodeConfig) error
	// Items returns the node's configuration and items, oldest first: those
	// with the given ids if ids is not empty, else the newest max.
	Items(ctx context.Context, owner jid.JID, node string, ids []string, max int) (NodeConfig, []Item, error)
	// Retract removes one item; an error wrapping storage.ErrNotFound when
	// the node or the item does not exist.
	Retract(ctx context.Context, owner jid.JID, node, id string) (NodeConfig, error)
	// Purge removes every item of the node.
	Purge(ctx context.Context, owner jid.JID, node string) (NodeConfig, error)
	// Delete removes the node and its items.
	Delete(ctx context.Context, owner jid.JID, node string) (NodeConfig, error)
	// LastItems returns the newest item of each node of the owners that
	// has one, among nodes (all when empty).
	LastItems(ctx context.Context, owners []jid.JID, nodes []string) ([]LastItem, error)
	// Subscribe records subscriber's subscription to owner's node,
	// unless the node has max subscriptions (ErrTooManySubscriptions).
	Subscribe(ctx context.Context, owner jid.JID, node string, subscriber jid.JID, max int) error
	// Unsubscribe removes subscriber's subscription to owner's node and
	// reports whether there was one.
	Unsubscribe(ctx context.Context, owner jid.JID, node string, subscriber jid.JID) (bool, error)
	// Subscriptions returns the subscriptions to owner's nodes, sorted
	// by node.
	Subscriptions(ctx context.Context, owner jid.JID) ([]Subscription, error)
}

// Contacts is what PEP needs to know of presence subscriptions (RFC 6121).
type Contacts interface {
	// MaySeePresence reports whether contact is subscribed to account's
	// presence.
	MaySeePresence(ctx context.Context, account, contact jid.JID) (bool, error)
	// Subscribers returns the contacts subscribed to account's presence.
	Subscribers(ctx context.Context, account jid.JID) ([]jid.JID, error)
	// Subscriptions returns the contacts whose presence account is
	// subscribed to.
	Subscriptions(ctx context.Context, account jid.JID) ([]jid.JID, error)
	// ContactGroups reports whether contact is subscribed to account's
	// presence, and returns the groups of account's roster that
	// contact is in.
	ContactGroups(ctx context.Context, account, contact jid.JID) (subscribed bool, groups []string, err error)
	// SubscribersIn returns the contacts subscribed to account's
	// presence that are in one of groups of its roster.
	SubscribersIn(ctx context.Context, account jid.JID, groups []string) ([]jid.JID, error)
	// RosterGroups returns the groups of account's roster, sorted.
	RosterGroups(ctx context.Context, account jid.JID) ([]string, error)
	// OnApproved registers f to be called after account approved
	// contact's subscription to its presence.
	OnApproved(f func(ctx context.Context, account, contact jid.JID))
}

// Interests tells which nodes' notifications a session asked for: those
// it announces as 'node+notify' in its entity capabilities (XEP-0115,
// XEP-0163 §4.1).
type Interests interface {
	// Wants reports whether the session asked for node's notifications.
	Wants(session jid.JID, node string) bool
	// Notify returns every node the session asked for notifications of.
	Notify(session jid.JID) []string
	// OnChange registers f to be called when what a session asked for
	// became known or changed.
	OnChange(f func(ctx context.Context, session jid.JID))
	// NotifyOf returns the nodes whose notifications an entity of another
	// server asks for with the capabilities caps (its <c/>), asking it
	// from the address from if they are not known.
	NotifyOf(ctx context.Context, from, entity jid.JID, caps *xmlstream.Element) ([]string, error)
}

// Config is what the module needs.
type Config struct {
	Store     Store
	Contacts  Contacts
	Interests Interests
	// MaxItems is the most items a node keeps; pubsub#max_items 'max'
	// means this.
	MaxItems int
	// Limits bound each account's nodes and items.
	Limits Limits
	// Logger receives storage failures; nil discards them.
	Logger *slog.Logger
}

// module is the PEP service of every local account.
type module struct {
	Config
	r      *router.Router
	remote remote
	sent   answered
	// published are told of each item an account's client published.
	published []func(ctx context.Context, owner jid.JID, node, id string, payload *xmlstream.Element)
	// removed are told of each item an account's client retracted, and
	// of each node it purged or deleted (id "").
	removed []func(ctx context.Context, owner jid.JID, node, id string)
	// reading are told before an account's client reads items of one
	// of its nodes.
	reading []func(ctx context.Context, owner jid.JID, node string)
}

// features are the XEP-0060 features a PEP service announces on the
// account's bare JID (XEP-0163 §6).
var features = []string{
	"access-open", "access-presence", "access-roster", "access-whitelist", "auto-create",
	"auto-subscribe", "config-node", "create-and-configure", "create-nodes",
	"delete-items", "delete-nodes", "filtered-notifications", "item-ids",
	"last-published", "persistent-items", "publish", "publish-options",
	"purge-nodes", "retract-items", "retrieve-items", "retrieve-subscriptions",
	"subscribe",
}

// Register serves PEP on the bare JID of every account of r and returns
// the service for the server's other modules.
func Register(r *router.Router, cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &module{Config: cfg, r: r}
	r.AddAccountIdentity(router.Identity{Category: "pubsub", Type: "pep"})
	for _, f := range features {
		r.AddAccountFeature(NS + "#" + f)
	}
	r.HandleIQ(router.ToAccount, "set", NS, "pubsub", m.set)
	r.HandleIQ(router.ToAccount, "get", NS, "pubsub", m.get)
	r.HandleIQ(router.ToAccount, "set", NSOwner, "pubsub", m.ownerSet)
	r.HandleIQ(router.ToAccount, "get", NSOwner, "pubsub", m.ownerGet)
	r.AddAccountItems(m.discoItems)
	r.AddAccountNodes(m.discoInfo)
	r.AddFilter(contactPresence{m})
	cfg.Contacts.OnApproved(m.approved)
	cfg.Interests.OnChange(m.sendLastItems)
	r.OnUnbind(m.sent.forget)
	return &Service{m}
}

// timeout returns ctx bounded by storeTimeout.
func timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, storeTimeout)
}

// pubsubError returns the error answering iq with condition and, if app
// is not empty, the XEP-0060 application condition app.
func pubsubError(iq router.IQ, condition, app string) *xmlstream.Element {
	reply := iq.Error(condition, "")
	if app != "" {
		reply.Child("", "error").AddChild(xmlstream.NewElement(NSErrors, app))
	}
	return reply
}
