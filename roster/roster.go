// Package roster implements rosters, presence subscriptions and presence
// broadcast of RFC 6121 (§2-§4), roster versioning (XEP-0237), last
// activity of accounts and the server's uptime (XEP-0012), on top of the
// router's session table.
//
// Concurrency: Module.mu guards only the per-session map of directed
// presence; it is never held while querying the store or routing. Changes
// to one roster are serialised by the store, and their pushes go out in
// that order (update, order.go). Module.requests makes each subscription
// request reach a session once (lockRequests).
package roster

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/internal/turns"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces and stream features of the module.
const (
	NS            = "jabber:iq:roster"
	NSVersioning  = "urn:xmpp:features:rosterver"    // XEP-0237 stream feature
	NSPreApproval = "urn:xmpp:features:pre-approval" // RFC 6121 §3.4 stream feature
	NSLast        = "jabber:iq:last"                 // XEP-0012
	NSDelay       = "urn:xmpp:delay"                 // XEP-0203, on the last unavailable presence
)

// stampLayout is the XEP-0082 DateTime profile of <delay/> stamps.
const stampLayout = "2006-01-02T15:04:05.000Z"

// Limits on what a roster item may hold (RFC 6121 §2.3.3 lets the server
// choose them).
const (
	maxNameLen  = 1023
	maxGroupLen = 1023
	maxGroups   = 64
)

// Config is what a Module needs.
type Config struct {
	Router *router.Router
	Store  Store
	// MaxItems is the most items one roster may hold, and the most
	// subscription requests that may wait for the owner's answer.
	MaxItems int
	// Logger receives storage failures; nil discards them.
	Logger *slog.Logger
	// Now returns the time; nil means time.Now.
	Now func() time.Time
	// Privileged reports whether from, a privileged entity such as a
	// component (XEP-0356), may read (set false) or change (set true) the
	// roster of any account; nil grants that to nobody.
	Privileged func(from jid.JID, set bool) bool
	// PushTo are the privileged entities that get every account's
	// roster pushes (XEP-0356 §4.2).
	PushTo []jid.JID
	// Preauthorized uses token, from a subscription request of contact
	// to the local account owner (XEP-0379), and reports whether it is an
	// invitation owner made and contact may use: the request is then
	// approved and answered with one of owner's. nil: no token is.
	Preauthorized func(ctx context.Context, owner, contact jid.JID, token string) bool
}

// Module serves rosters, subscriptions, presence and last activity.
type Module struct {
	r     *router.Router
	store Store
	max   int
	log   *slog.Logger
	now   func() time.Time
	// started is when the module was made: the server's start, whose
	// uptime last activity tells (XEP-0012 §5).
	started time.Time
	// privileged is Config.Privileged, pushTo Config.PushTo.
	privileged func(from jid.JID, set bool) bool
	pushTo     []jid.JID
	// preauthorized is Config.Preauthorized.
	preauthorized func(ctx context.Context, owner, contact jid.JID, token string) bool

	mu       sync.Mutex
	directed map[string]map[string]bool // session full JID → JIDs that got directed presence

	// requests serialises, per account (striped by a hash of the bare
	// JID), storing a subscription request and delivering it live with
	// an initial presence's reading of the stored ones (lockRequests).
	requests [64]sync.Mutex

	approved []func(ctx context.Context, account, contact jid.JID)

	// turns orders the pushes of each owner's roster changes (order.go).
	turns turns.Queues
}

// OnApproved registers f to be called after an account approved a
// contact's subscription to its presence and the roster recorded it.
// Register it before the router routes.
func (m *Module) OnApproved(f func(ctx context.Context, account, contact jid.JID)) {
	m.approved = append(m.approved, f)
}

// tellApproved calls the OnApproved functions.
func (m *Module) tellApproved(ctx context.Context, account, contact jid.JID) {
	for _, f := range m.approved {
		f(ctx, account, contact)
	}
}

// New returns a Module for cfg; Register installs it.
func New(cfg Config) *Module {
	m := &Module{r: cfg.Router, store: cfg.Store, max: cfg.MaxItems, log: cfg.Logger, now: cfg.Now,
		privileged: cfg.Privileged, pushTo: cfg.PushTo, preauthorized: cfg.Preauthorized, directed: map[string]map[string]bool{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.started = m.now()
	return m
}

// Register installs the module's IQ handlers, its presence handler and its
// session hook in the router.
func (m *Module) Register() {
	m.r.HandleIQ(router.ToAccount, "get", NS, "query", m.rosterGet)
	m.r.HandleIQ(router.ToAccount, "set", NS, "query", m.rosterSet)
	m.r.HandleIQ(router.ToAccount, "get", NSLast, "query", m.lastActivity)
	m.r.HandleIQ(router.ToServer, "get", NSLast, "query", m.uptime)
	m.r.AddFeature(NSLast)
	m.r.SetPresenceHandler(m)
	m.r.OnUnbind(m.forget)
}

// forget drops the per-session state of a session that is gone.
func (m *Module) forget(session jid.JID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.directed, session.String())
}

// mayManage reports whether from, not the roster's owner, is privileged
// to read (set false) or change (set true) it (XEP-0356 §4.3).
func (m *Module) mayManage(from jid.JID, set bool) bool {
	return m.privileged != nil && m.privileged(from, set)
}

// itemElement is it as a roster <item/> (RFC 6121 §2.1.2).
func ItemElement(it Item) *xmlstream.Element {
	el := xmlstream.NewElement(NS, "item", "jid", it.Contact.String(), "subscription", string(it.Subscription))
	if it.Subscription == "" {
		el.SetAttr("subscription", string(None))
	}
	if it.Name != "" {
		el.SetAttr("name", it.Name)
	}
	if it.Ask {
		el.SetAttr("ask", "subscribe")
	}
	if it.Approved {
		el.SetAttr("approved", "true")
	}
	for _, g := range it.Groups {
		el.AddChild(xmlstream.NewElement(NS, "group").AddText(g))
	}
	return el
}

// Mark is the router mark (router.Router.Mark) of a session that
// requested the roster, and so gets roster pushes (RFC 6121 §2.1.6).
const Mark = "roster"

// push sends a roster push of item (RFC 6121 §2.1.6) to every resource of
// owner that requested the roster.
func (m *Module) push(owner jid.JID, item *xmlstream.Element, version int64) {
	pushIQ := func(to jid.JID) *xmlstream.Element {
		q := xmlstream.NewElement(NS, "query")
		if version > 0 { // 0: the roster did not change, and keeps its version
			q.SetAttr("ver", strconv.FormatInt(version, 10))
		}
		q.AddChild(item.Copy())
		iq := xmlstream.NewElement(stanza.NSClient, stanza.IQ, "type", "set", "id", "push-"+stanza.NewID(),
			"from", owner.String(), "to", to.String())
		return iq.AddChild(q)
	}
	for _, to := range m.r.Marked(owner, Mark) {
		m.r.DeliverToSession(to, pushIQ(to))
	}
	for _, to := range m.pushTo {
		m.r.Route(context.Background(), pushIQ(to))
	}
}

// rosterGet answers a roster get (RFC 6121 §2.2, XEP-0237 §2.3) and makes
// the requesting resource interested in pushes.
func (m *Module) rosterGet(ctx context.Context, iq router.IQ) *xmlstream.Element {
	own := iq.To.Equal(iq.From.Bare())
	if !own && !m.mayManage(iq.From, false) {
		return iq.Error(stanza.Forbidden, "a roster belongs to its account")
	}
	if own {
		m.r.Mark(iq.From, Mark, true)
	}
	ros, err := m.store.Roster(ctx, iq.To)
	if err != nil {
		m.log.Error("roster get", "jid", iq.From.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	ver := strconv.FormatInt(ros.Version, 10)
	if v := iq.Payload.Attr("ver"); v != "" && v == ver {
		return iq.Result(nil) // the client's cached copy is current
	}
	q := xmlstream.NewElement(NS, "query", "ver", ver)
	for _, it := range ros.Items {
		q.AddChild(ItemElement(it))
	}
	return iq.Result(q)
}
