package router

import (
	"context"
	"sort"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// The router asks feature modules at fixed points of a stanza's way. The
// points, in the order a stanza meets them:
//
//  1. Filters' Outbound, for every stanza a client sends (FromClient), in
//     the order the filters were added.
//  2. For presence: the PresenceHandler decides broadcasts, subscriptions,
//     probes and directed presence (RFC 6121 §3, §4).
//  3. Filters' Inbound, before anything is delivered to a local account
//     (its bare or full JID), in the order the filters were added; or, for
//     what the server itself sends from a local account to another
//     server, the DepartingFilters. What a local service hands straight
//     to a session (DeliverToSession) meets the DirectFilters instead,
//     which the service asks itself (DirectAllowed).
//  4. For messages: the Archiver stores and stamps them.
//  5. Delivery to sessions, or an IQ handler; for messages no session
//     takes, the OfflineHandler.
//  6. MessageObservers: Received after delivery to a local account, Sent
//     after a client's message was routed.
//
// Modules are registered once, at wiring time, before the router routes.

// Filter can stop a stanza on its way out of a client or into an account,
// e.g. for blocking (XEP-0191).
type Filter interface {
	// Outbound is asked about each stanza a client sends, from its full
	// JID; to is the parsed 'to' (the sender's bare JID when absent). It
	// returns pass to let the stanza go on; otherwise the stanza stops,
	// and reply, if not nil, is sent back to the client instead.
	Outbound(ctx context.Context, from, to jid.JID, st *xmlstream.Element) (pass bool, reply *xmlstream.Element)
	// Inbound is asked before st is delivered to the local account of to.
	// It returns false to drop the stanza; IQ requests that are dropped are
	// answered with service-unavailable by the router.
	Inbound(ctx context.Context, from, to jid.JID, st *xmlstream.Element) (deliver bool)
}

// DepartingFilter is a Filter that is also asked about each stanza the
// server sends from a local account to another server on its own:
// presence broadcasts and probes, PEP notifications, which no client's
// Outbound saw. It returns false to drop the stanza.
type DepartingFilter interface {
	Departing(ctx context.Context, from, to jid.JID, st *xmlstream.Element) (send bool)
}

// DirectFilter is a Filter that also screens what a local service hands
// straight to a local session, without routing it: what a MUC room
// sends its occupants (DeliverToSession); and, for presence addressed to
// an account's bare JID, each of its sessions the router delivers it
// to. It decides as its Inbound would, but answers nobody and has no
// other effect.
type DirectFilter interface {
	// Direct reports whether st from from may reach the session to. It
	// must not wait for a store: the caller may hold a lock that other
	// stanzas wait for. known is false when it cannot tell without
	// reading one; DirectWait then does.
	Direct(from, to jid.JID, st *xmlstream.Element) (deliver, known bool)
	// DirectWait is Direct, reading what it needs from its store. It
	// returns false when that fails: a filter must not fail open.
	DirectWait(ctx context.Context, from, to jid.JID, st *xmlstream.Element) (deliver bool)
}

// DirectAllowed reports whether the DirectFilters let st from from reach
// the local session to, without waiting for a store: known is false
// when one could not tell, and the caller asks DirectAllowedWait, where
// waiting holds up nobody else.
func (r *Router) DirectAllowed(from, to jid.JID, st *xmlstream.Element) (deliver, known bool) {
	for _, f := range r.direct {
		if deliver, known := f.Direct(from, to, st); !deliver || !known {
			return deliver, known
		}
	}
	return true, true
}

// DirectAllowedWait is DirectAllowed, reading from the filters' stores
// what they do not hold in memory.
func (r *Router) DirectAllowedWait(ctx context.Context, from, to jid.JID, st *xmlstream.Element) bool {
	for _, f := range r.direct {
		if !f.DirectWait(ctx, from, to, st) {
			return false
		}
	}
	return true
}

// departingAllowed runs the filters that are DepartingFilters.
func (r *Router) departingAllowed(ctx context.Context, from, to jid.JID, st *xmlstream.Element) bool {
	for _, f := range r.filters {
		if d, ok := f.(DepartingFilter); ok && !d.Departing(ctx, from, to, st) {
			return false
		}
	}
	return true
}

// PresenceHandler implements presence and subscriptions (RFC 6121 §3-§4)
// on top of the router's session table.
type PresenceHandler interface {
	// Broadcast is called after a session's presence without 'to' has been
	// recorded and reflected to the account's own resources. initial is
	// true for a session's first available presence.
	Broadcast(ctx context.Context, from jid.JID, st *xmlstream.Element, initial bool)
	// Outbound handles presence with a 'to' from a client: subscription
	// types and directed presence. It returns true when it took the stanza
	// over (routing it itself if needed); false lets the router route it.
	Outbound(ctx context.Context, from, to jid.JID, st *xmlstream.Element) (handled bool)
	// Inbound handles presence addressed to a local account, bare or full,
	// before delivery: subscription types and probes. It returns true when
	// it took the stanza over.
	Inbound(ctx context.Context, from, to jid.JID, st *xmlstream.Element) (handled bool)
	// Ended is called when a session that was available ends, with its
	// last available presence, after the account's other resources were told.
	Ended(ctx context.Context, session jid.JID, last *xmlstream.Element)
}

// OnUnbind registers f to be called with a session's full JID after the
// session left the session table — ended, dropped or replaced, available
// or not — and after PresenceHandler.Ended for an available one. Modules
// use it to forget per-session state.
func (r *Router) OnUnbind(f func(session jid.JID)) { r.unbound = append(r.unbound, f) }

// OnStoredOffline calls f for each message the offline handler stored
// for to, an account without an available session (push notifications,
// XEP-0357). f must not block.
func (r *Router) OnStoredOffline(f func(ctx context.Context, to jid.JID, st *xmlstream.Element)) {
	r.storedOffline = append(r.storedOffline, f)
}

// OnAvailable registers f to be called with a session's full JID and its
// available presence each time the session broadcasts one (RFC 6121
// §4.2, §4.4), after the presence handler sent it to the contacts.
// Modules use it to read what the presence announces, such as entity
// capabilities (XEP-0115).
func (r *Router) OnAvailable(f func(ctx context.Context, session jid.JID, st *xmlstream.Element)) {
	r.onAvailable = append(r.onAvailable, f)
}

// OnInitialPresence registers f to be called with a session's full JID
// once it sent its initial presence and got what waited offline, such
// as for a message of the day.
func (r *Router) OnInitialPresence(f func(ctx context.Context, session jid.JID)) {
	r.onInitial = append(r.onInitial, f)
}

func (r *Router) notifyUnbound(j jid.JID) {
	for _, f := range r.unbound {
		f(j)
	}
}

// OfflineHandler keeps messages for accounts that have no resource to take
// them (XEP-0160, RFC 6121 §8.5.2.2.1) and hands them over later.
type OfflineHandler interface {
	// Store is called for a message of type normal or chat to the local
	// account to when no session takes it. It returns once the message is
	// committed, or an error: a *StanzaError says which error the sender
	// gets (e.g. service-unavailable for a full quota); any other error
	// bounces the message with internal-server-error.
	Store(ctx context.Context, to jid.JID, st *xmlstream.Element) error
	// Flush is called after a session's initial presence, once the
	// presence handler is done, to deliver what was stored.
	Flush(ctx context.Context, session jid.JID)
}

// StanzaError is an error that becomes a stanza error (RFC 6120 §8.3)
// when the router bounces a stanza because of it.
type StanzaError struct {
	Condition string
	Text      string
}

func (e *StanzaError) Error() string { return e.Condition + ": " + e.Text }

// MessageObserver sees messages after the router has delivered them, e.g.
// for message carbons (XEP-0280) or archiving.
type MessageObserver interface {
	// Sent is called after a message a client sent (from its full JID)
	// was routed.
	Sent(ctx context.Context, from jid.JID, st *xmlstream.Element)
	// Received is called after a message addressed to the local account
	// to (bare) was queued for the sessions in delivered (full JIDs).
	Received(ctx context.Context, to jid.JID, st *xmlstream.Element, delivered []jid.JID)
}

// Archiver keeps the message archives of local accounts (XEP-0313) and
// stamps messages with the ids they have there (XEP-0359).
type Archiver interface {
	// Archive is called for every message other than an error addressed to
	// a local account, after the filters and before delivery, and for those
	// a local account sends to another server; from may be local or not.
	// It stores the message in the archives it belongs to (the sender's,
	// if local, and the recipient's, if local) and returns the stanza
	// to deliver: st itself, changed in place (e.g. with the recipient's
	// <stanza-id/>) — never a copy, since the stream layer follows a
	// client's stanza by its identity until delivery is safe. It returns
	// once the message is committed, or an error, which bounces the message
	// as for OfflineHandler.Store.
	Archive(ctx context.Context, from, to jid.JID, st *xmlstream.Element) (*xmlstream.Element, error)
	// Unarchive withdraws st, a message Archive stored and stamped, from
	// the archive of its local recipient owner (bare): the router bounced
	// it to its sender, so the recipient must not find it there. A message
	// without that archive's <stanza-id/> was not stored there, and is
	// left alone.
	Unarchive(ctx context.Context, owner jid.JID, st *xmlstream.Element) error
}

// Component is a service on a domain of its own, such as a multi-user
// chat service (XEP-0045) on conference.<host>. It gets every stanza
// addressed to its domain, after the outbound filters, and answers
// through the router.
type Component interface {
	Route(ctx context.Context, from, to jid.JID, st *xmlstream.Element)
}

// AddComponent routes every stanza addressed to domain (or a JID at it) to
// c. It panics if the domain is taken: that is a wiring mistake.
func (r *Router) AddComponent(domain string, c Component) {
	if r.components == nil {
		r.components = map[string]Component{}
	}
	if r.components[domain] != nil || r.hosts[domain] {
		panic("router: domain " + domain + " is served twice")
	}
	r.components[domain] = c
}

// AddExternal routes every stanza addressed to domain to c, as
// AddComponent does, for an external component (XEP-0114) such as a
// gateway, whose JIDs are people the accounts talk to as they would on
// other servers: the messages accounts send them are archived in the
// senders' archives first.
func (r *Router) AddExternal(domain string, c Component) {
	r.AddComponent(domain, c)
	if r.external == nil {
		r.external = map[string]bool{}
	}
	r.external[domain] = true
}

// Components returns the domains served by local components, sorted.
func (r *Router) Components() []string {
	ds := make([]string, 0, len(r.components))
	for d := range r.components {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	return ds
}

// IsComponent reports whether domain is served by a local component.
func (r *Router) IsComponent(domain string) bool { return r.components[domain] != nil }

// Remote delivers stanzas to other servers: federation (package s2s). Its
// Route takes a stanza addressed to a domain that is neither a local host
// nor a local component, without blocking on the network; a stanza it
// cannot deliver is bounced to its sender through the router.
type Remote interface {
	Route(ctx context.Context, from, to jid.JID, st *xmlstream.Element)
}

// SetRemote installs the route to other servers; without one, stanzas to
// them are answered with remote-server-not-found.
func (r *Router) SetRemote(rm Remote) { r.remote = rm }

// Serves reports whether domain is a local host or a local component's.
func (r *Router) Serves(domain string) bool { return r.hosts[domain] || r.components[domain] != nil }

// SetArchiver installs the archiver.
func (r *Router) SetArchiver(a Archiver) { r.archiver = a }

// Archives reports whether an archiver is installed: then a message
// routed to a local account carries no <stanza-id/> by the account but
// the one its archive put there (Archiver.Archive).
func (r *Router) Archives() bool { return r.archiver != nil }

// SetOfflineHandler installs the offline store.
func (r *Router) SetOfflineHandler(h OfflineHandler) { r.offline = h }

// AddMessageObserver appends o to the message observers.
func (r *Router) AddMessageObserver(o MessageObserver) { r.messages = append(r.messages, o) }

// senderIDKey is the context key under which the routing of a message a
// client sent holds a *senderID.
type senderIDKey struct{}

// senderID is the id the archiver gave a message in its sender's archive.
type senderID struct {
	st *xmlstream.Element
	id string
}

// withSenderID returns ctx for routing st, a message a client sent, with
// room for the id SetSenderArchiveID records.
func withSenderID(ctx context.Context, st *xmlstream.Element) context.Context {
	return context.WithValue(ctx, senderIDKey{}, &senderID{st: st})
}

// SetSenderArchiveID records that the message st, which a client sent
// and ctx routes, has the id id in its sender's own archive. The
// Archiver calls it; the MessageObservers' Sent reads it with
// SenderArchiveID. The id must not reach the recipient, who may not read
// that archive, but the sender's other resources may (XEP-0313 §3.5).
func SetSenderArchiveID(ctx context.Context, st *xmlstream.Element, id string) {
	if s, ok := ctx.Value(senderIDKey{}).(*senderID); ok && s.st == st {
		s.id = id
	}
}

// SenderArchiveID returns the id SetSenderArchiveID recorded for st in
// ctx, or "" when it was not archived for its sender.
func SenderArchiveID(ctx context.Context, st *xmlstream.Element) string {
	if s, ok := ctx.Value(senderIDKey{}).(*senderID); ok && s.st == st {
		return s.id
	}
	return ""
}

func (r *Router) sent(ctx context.Context, from jid.JID, st *xmlstream.Element) {
	for _, o := range r.messages {
		o.Sent(ctx, from, st)
	}
}

func (r *Router) received(ctx context.Context, to jid.JID, st *xmlstream.Element, delivered []jid.JID) {
	if st.Name.Local != stanza.Message {
		return
	}
	for _, o := range r.messages {
		o.Received(ctx, to, st, delivered)
	}
}

// AddFilter appends f to the filters.
func (r *Router) AddFilter(f Filter) {
	r.filters = append(r.filters, f)
	if d, ok := f.(DirectFilter); ok {
		r.direct = append(r.direct, d)
	}
}

// SetPresenceHandler installs the presence handler.
func (r *Router) SetPresenceHandler(h PresenceHandler) { r.presence = h }

// Presences returns the current available presence of each available
// resource of the account bare, e.g. to answer a probe (RFC 6121 §4.3.2).
func (r *Router) Presences(bare jid.JID) []*xmlstream.Element {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var ps []*xmlstream.Element
	if acct := r.users[bare.String()]; acct != nil {
		for _, e := range acct.sessions {
			if e.available && e.presence != nil {
				ps = append(ps, e.presence)
			}
		}
	}
	return ps
}

// DeliverToSession queues st for the session bound to the full JID to,
// bypassing the delivery rules. It reports whether such a session took it.
func (r *Router) DeliverToSession(to jid.JID, st *xmlstream.Element) bool {
	if s := r.session(to); s != nil {
		return s.Deliver(st)
	}
	return false
}

// SafeSession is a Session that can tell when a stanza it took is safe:
// when losing the server's memory would no longer lose it.
type SafeSession interface {
	Session
	// DeliverSafe is Deliver, and calls safe once st is safe: at once for
	// a client without stream management, which has what the server
	// could give it once it is queued; otherwise when the client has
	// acknowledged st (XEP-0198), or the session ended and st was routed
	// again. safe may run before DeliverSafe returns, on any goroutine,
	// and is not called when DeliverSafe returns false.
	DeliverSafe(st *xmlstream.Element, safe func()) bool
}

// DeliverToSessionSafe is DeliverToSession, and calls safe once st is
// safe (SafeSession); for a session that cannot tell, as soon as it took st.
func (r *Router) DeliverToSessionSafe(to jid.JID, st *xmlstream.Element, safe func()) bool {
	s := r.session(to)
	return s != nil && deliverSafe(s, st, safe)
}

// deliverSafe has s take st and calls safe once st is safe.
func deliverSafe(s Session, st *xmlstream.Element, safe func()) bool {
	if ss, ok := s.(SafeSession); ok {
		return ss.DeliverSafe(st, safe)
	}
	if !s.Deliver(st) {
		return false
	}
	safe()
	return true
}

// DeliverToAvailable queues st for every available resource of the account
// bare (RFC 6121 §8.5.2.1.1 for presence and subscription requests) and
// returns how many took it.
func (r *Router) DeliverToAvailable(bare jid.JID, st *xmlstream.Element) int {
	return r.deliverWhere(bare, st, func(*entry) bool { return true })
}

// DeliverToSettled is DeliverToAvailable, except that it skips the
// sessions of this node whose initial presence the presence handler has
// not settled yet (Settled). It is for what the handler also stores for
// the account, such as subscription requests: a session still settling
// reads it from the store, and would otherwise get it twice. The caller
// must serialise the storing and this call with the handler's reading.
func (r *Router) DeliverToSettled(bare jid.JID, st *xmlstream.Element) int {
	return r.deliverWhere(bare, st, func(e *entry) bool { return !e.settling })
}

// deliverWhere queues st for the available sessions of bare whose entries
// match, and returns how many took it.
func (r *Router) deliverWhere(bare jid.JID, st *xmlstream.Element, match func(*entry) bool) int {
	n := 0
	for _, s := range r.availableSessionsWhere(bare, match) {
		if s.Deliver(st) {
			n++
		}
	}
	return n
}

// Settled tells the router that the presence handler has read what was
// stored for the session full since its initial presence: from now on,
// DeliverToSettled includes it. The router settles a session itself once
// the handler's Broadcast returned.
func (r *Router) Settled(full jid.JID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.localEntryLocked(full); e != nil {
		e.settling = false
	}
}

func (r *Router) availableSessions(bare jid.JID) []Session {
	return r.availableSessionsWhere(bare, func(*entry) bool { return true })
}

// availableSessionsWhere returns the available sessions of bare whose
// entries match.
func (r *Router) availableSessionsWhere(bare jid.JID, match func(*entry) bool) []Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var targets []Session
	if acct := r.users[bare.String()]; acct != nil {
		for _, e := range acct.sessions {
			if e.available && match(e) {
				targets = append(targets, e.s)
			}
		}
	}
	return targets
}

// AvailableResources returns the full JIDs of the available resources of
// the account bare.
func (r *Router) AvailableResources(bare jid.JID) []jid.JID {
	var js []jid.JID
	for _, s := range r.availableSessions(bare) {
		js = append(js, s.JID())
	}
	return js
}

// FromClient routes a stanza a client sent, through the outbound filters
// and the presence handler. st's 'from' must be the client's full JID.
func (r *Router) FromClient(ctx context.Context, st *xmlstream.Element) {
	from, err := jid.Parse(st.Attr("from"))
	if err != nil {
		r.log.Warn("dropping stanza with an invalid from", "from", st.Attr("from"), "err", err)
		return
	}
	r.route(ctx, from, st, true)
}

// EndSessions closes every session of the account bare with a stream
// error, e.g. when the account is deleted, and revokes its logins under
// way (Revoked).
func (r *Router) EndSessions(bare jid.JID, condition, text string) {
	r.EndSessionsExcept(bare, jid.JID{}, condition, text)
}

// EndSessionsExcept is EndSessions but for the session bound to except,
// e.g. the one that changed the account's password.
func (r *Router) EndSessionsExcept(bare, except jid.JID, condition, text string) {
	r.revoke(bare)
	for _, f := range r.revokedHooks {
		f(bare, condition, text)
	}
	for _, s := range r.sessionsOf(bare) {
		if !s.JID().Equal(except) {
			s.End(condition, text)
		}
	}
}

// SessionsOf returns the sessions bound to the account bare, on this
// node and, in a cluster, on the others.
func (r *Router) SessionsOf(bare jid.JID) []Session { return r.sessionsOf(bare) }

func (r *Router) sessionsOf(bare jid.JID) []Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var all []Session
	if acct := r.users[bare.String()]; acct != nil {
		for _, e := range acct.sessions {
			all = append(all, e.s)
		}
	}
	return all
}

// Admits reports whether the inbound filters let st from from reach the
// local account of to now. Modules that deliver what they stored earlier,
// such as subscription requests and offline messages, ask it first: a
// filter's verdict (a block, say) may have changed since the stanza was
// stored. A filter that refuses it answers nobody (Replayed): the sender
// got their answer when it was stored.
func (r *Router) Admits(ctx context.Context, from, to jid.JID, st *xmlstream.Element) bool {
	return r.inboundAllowed(context.WithValue(ctx, replayedKey{}, true), from, to, st)
}

// replayedKey marks the context of a stanza Admits checks.
type replayedKey struct{}

// Replayed reports whether ctx is that of a stanza Admits checks: one
// stored earlier, which a filter refusing it must not answer.
func Replayed(ctx context.Context) bool { return ctx.Value(replayedKey{}) != nil }

// inboundAllowed runs the inbound filters for st on its way to to.
func (r *Router) inboundAllowed(ctx context.Context, from, to jid.JID, st *xmlstream.Element) bool {
	for _, f := range r.filters {
		if !f.Inbound(ctx, from, to, st) {
			return false
		}
	}
	return true
}
