// Package blocking implements XEP-0191: Blocking Command.
//
// A user keeps a list of blocked JIDs on the server. The module answers the
// blocklist, block and unblock commands, pushes changes to the user's
// resources that retrieved the list, and, as a router filter, stops stanzas
// between the user and the JIDs they blocked in both directions. JIDs match
// as XEP-0191 §6 and XEP-0016 §2.1 say: a full JID matches only itself, a
// bare JID any of its resources, domain/resource that resource at the
// domain (of any user), and a domain the domain itself and everything at
// it (not its subdomains).
//
// Blocklists are read from the Store once per account and then served from
// a bounded in-memory cache, so that the filter does not touch the database
// for every stanza. In a cluster, a change makes the other nodes forget
// the account's cached list (Config.Changed, Module.Forget).
package blocking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/router"
)

// Namespaces of XEP-0191.
const (
	// NS qualifies the blocklist, block and unblock payloads.
	NS = "urn:xmpp:blocking"
	// NSErrors qualifies the <blocked/> application error condition.
	NSErrors = "urn:xmpp:blocking:errors"
)

// Store keeps the blocklists of accounts. account is always a bare JID;
// items are JIDs in canonical form, with or without localpart and
// resourcepart.
type Store interface {
	// List returns the JIDs account has blocked, in no particular order.
	// An unknown account has an empty list.
	List(ctx context.Context, account jid.JID) ([]jid.JID, error)
	// Block adds items to the blocklist of account and returns those that
	// were not in it yet. An unknown account is an error wrapping
	// storage.ErrNotFound.
	Block(ctx context.Context, account jid.JID, items []jid.JID) (added []jid.JID, err error)
	// Unblock removes items from the blocklist of account and returns
	// those that were in it.
	Unblock(ctx context.Context, account jid.JID, items []jid.JID) (removed []jid.JID, err error)
	// UnblockAll empties the blocklist of account and returns what it held.
	UnblockAll(ctx context.Context, account jid.JID) (removed []jid.JID, err error)
}

// Config configures the module.
type Config struct {
	// Store keeps the blocklists. Required.
	Store Store
	// CachedAccounts bounds how many accounts' blocklists are kept in
	// memory (rounded up to a multiple of 16, the cache's shards); the
	// least recently used are forgotten first. Default 10000.
	CachedAccounts int
	// MaxItems bounds the length of one account's blocklist; a block
	// command that would exceed it gets policy-violation. Default 1000.
	MaxItems int
	// Timeout bounds each database operation. Default 5s.
	Timeout time.Duration
	// Logger receives database failures; nil discards them.
	Logger *slog.Logger
	// Presence tells whom a user's presence is shown to and sends it again
	// after an unblock, and keeps the subscription requests (the roster
	// module). Without it, a newly blocked contact is told the user is
	// unavailable whether or not they were subscribed or got directed
	// presence, an unblocked one gets no presence, and a blocked
	// contact's request comes back after the unblock.
	Presence Presence
	// Admins get the abuse reports users attach to their blocks
	// (XEP-0377), which are logged in any case.
	Admins []jid.JID
	// Changed, when set, is told of each account whose blocklist changed,
	// once the change is stored: a cluster has its other nodes Forget it.
	Changed func(account jid.JID)
}

// Presence is what blocking needs to know of subscriptions (RFC 6121).
type Presence interface {
	// MaySeePresence reports whether contact is subscribed to account's
	// presence.
	MaySeePresence(ctx context.Context, account, contact jid.JID) (bool, error)
	// SendPresence sends account's current presence to contact if contact
	// is subscribed to it.
	SendPresence(ctx context.Context, account, contact jid.JID)
	// Subscribers returns the contacts subscribed to account's presence,
	// for blocked domains, which name no contact themselves.
	Subscribers(ctx context.Context, account jid.JID) ([]jid.JID, error)
	// Directed returns the JIDs, bare or full, that account's available
	// sessions sent directed presence to (RFC 6121 §4.6) and have not
	// told they went unavailable.
	Directed(account jid.JID) []jid.JID
	// DropRequests forgets, unanswered, the stored subscription requests
	// to account from the contacts that from reports.
	DropRequests(ctx context.Context, account jid.JID, from func(contact jid.JID) bool) error
}

// Validate fills in defaults and reports what is wrong with c.
func (c *Config) Validate() error {
	if c.Store == nil {
		return errors.New("blocking: no store")
	}
	if c.CachedAccounts == 0 {
		c.CachedAccounts = 10000
	}
	if c.MaxItems == 0 {
		c.MaxItems = 1000
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	switch {
	case c.CachedAccounts < 0:
		return fmt.Errorf("blocking: cached accounts %d is negative", c.CachedAccounts)
	case c.MaxItems < 0:
		return fmt.Errorf("blocking: max items %d is negative", c.MaxItems)
	case c.Timeout < 0:
		return fmt.Errorf("blocking: timeout %v is negative", c.Timeout)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Module is the blocking command and filter for one router.
type Module struct {
	cfg   Config
	r     *router.Router
	lists *cache
}

// Mark is the router mark (router.Router.Mark) of a session that
// retrieved its blocklist: XEP-0191 §3.3 pushes changes to those only.
const Mark = "blocklist"

// Module is a router filter, and screens what services hand straight to
// sessions.
var (
	_ router.Filter       = (*Module)(nil)
	_ router.DirectFilter = (*Module)(nil)
)

// New returns the module for cfg and r; Register plugs it in.
func New(cfg Config, r *router.Router) (*Module, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lists := newCache(cfg.Store, cfg.CachedAccounts, cfg.Timeout)
	lists.changed = cfg.Changed
	return &Module{cfg: cfg, r: r, lists: lists}, nil
}

// Forget drops what the module remembers of account's blocklist, which
// another node of a cluster changed.
func (m *Module) Forget(account jid.JID) { m.lists.drop(account) }

// ForgetAll drops every cached blocklist: another node of a cluster may
// have changed any of them unheard (its NATS connection was cut).
func (m *Module) ForgetAll() { m.lists.dropAll() }

// Register announces urn:xmpp:blocking, registers the commands and adds
// the module as a filter of the router given to New.
func (m *Module) Register() {
	m.r.AddFeature(NS)
	m.r.AddFeature(NSReporting)
	m.r.HandleIQ(router.ToAccount, "get", NS, "blocklist", m.handleBlocklist)
	m.r.HandleIQ(router.ToAccount, "set", NS, "block", m.handleBlock)
	m.r.HandleIQ(router.ToAccount, "set", NS, "unblock", m.handleUnblock)
	m.r.AddFilter(m)
}

// Blocks reports whether account has blocked peer. It reads the database
// only when account's blocklist is not cached.
func (m *Module) Blocks(ctx context.Context, account, peer jid.JID) (bool, error) {
	l, err := m.lists.get(ctx, account)
	if err != nil {
		return false, err
	}
	return l.matches(split(peer)), nil
}
