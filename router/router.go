// Package router is the centre of xmppd: it keeps the table of bound
// sessions and delivers every stanza by the rules of RFC 6120 §10 and
// RFC 6121 §8 — to the server's own IQ handlers, to local accounts and
// their resources, or back to the sender as an error when it cannot.
package router

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Session is a bound client session as the router sees it.
type Session interface {
	// JID returns the session's full JID; it never changes.
	JID() jid.JID
	// Deliver queues st for the client without blocking. It returns false
	// when the session cannot take it (closed, or its queue overflowed).
	// st must not be modified afterwards: it may be shared by sessions.
	Deliver(st *xmlstream.Element) bool
	// End closes the session with a stream error (RFC 6120 §4.9.3), such as
	// conflict when a newer session bound the same full JID (§7.7.2.2).
	End(condition, text string)
}

// Accounts tells whether an account exists.
type Accounts interface {
	Exists(ctx context.Context, domain, username string) (bool, error)
}

// Config is what a Router needs.
type Config struct {
	// Hosts are the domains served locally.
	Hosts []string
	// Accounts answers whether an account without sessions exists.
	Accounts Accounts
	// Logger receives routing problems; nil discards them.
	Logger *slog.Logger
}

// Router routes stanzas between sessions and the server's handlers. It is
// safe for concurrent use; Route never blocks on a slow session.
type Router struct {
	hosts    map[string]bool
	accounts Accounts
	log      *slog.Logger
	iq       iqHandlers
	filters  []Filter
	direct   []DirectFilter  // the filters that are DirectFilters
	presence PresenceHandler // nil: only the account's own resources see presence
	offline  OfflineHandler  // nil: messages to offline accounts are bounced
	archiver Archiver        // nil: nothing is archived
	remote   Remote          // nil: no federation
	// directory is told of changes to the local sessions (a cluster);
	// guarded by mu.
	directory Directory
	// components serve local service domains such as conference.<host>;
	// filled at wiring time, read-only afterwards.
	components map[string]Component
	external   map[string]bool // components' domains added with AddExternal
	messages   []MessageObserver
	unbound    []func(jid.JID) // told when any session leaves the table
	// storedOffline are told of each message stored for an offline account.
	storedOffline []func(ctx context.Context, to jid.JID, st *xmlstream.Element)
	// onAvailable are told of every available presence a session broadcasts.
	onAvailable []func(context.Context, jid.JID, *xmlstream.Element)
	// onInitial are told of each session's initial presence.
	onInitial []func(context.Context, jid.JID)

	mu    sync.RWMutex        // guards users and ending; never held while delivering
	users map[string]*account // by bare JID
	// ending holds the full JIDs of sessions that left the table and whose
	// clean-up (unavailable presence, OnUnbind hooks) still runs; the
	// channel is closed when it is done. Modules keep per-session state by
	// full JID, so a new session binding that JID waits for it (Bind).
	ending map[string]chan struct{}
	// revoked holds when the logins of an account were last revoked
	// (revoke.go), by bare JID.
	revoked map[string]time.Time
	// revokedHooks are told of the revocations made here (OnRevoke).
	revokedHooks []func(bare jid.JID, condition, text string)

	// routed counts the stanzas routed, by kind (Routed).
	routed struct{ messages, presences, iqs atomic.Uint64 }

	queriesMu sync.Mutex
	queries   map[string]pendingQuery // by IQ id: the server's own IQs awaiting an answer (Query)
}

// account is the bound sessions of one account.
type account struct {
	sessions []*entry
}

// entry is one bound session and its presence state.
type entry struct {
	s         Session
	resource  string
	available bool
	priority  int
	presence  *xmlstream.Element // last broadcast available presence
	marks     []string           // sorted (Mark)
	remote    bool               // bound on another node of the cluster (Mirror)
	bound     time.Time          // when a local session was bound; for a mirrored one, on its node
	// settling is true from a local session's initial presence until the
	// presence handler has read what was stored for it (Settled).
	settling bool
}

// New returns a Router for cfg.
func New(cfg Config) *Router {
	r := &Router{
		hosts:    make(map[string]bool, len(cfg.Hosts)),
		accounts: cfg.Accounts,
		log:      cfg.Logger,
		users:    make(map[string]*account),
		ending:   make(map[string]chan struct{}),
		queries:  make(map[string]pendingQuery),
		iq:       newIQHandlers(),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	for _, h := range cfg.Hosts {
		r.hosts[h] = true
	}
	return r
}

// IsLocal reports whether domain is served by this router.
func (r *Router) IsLocal(domain string) bool { return r.hosts[domain] }

// Bind adds s to the session table. If a session with the same full JID
// exists, it is removed and told to end (Replace) first. If one left the
// table and is still being cleaned up (Unbind), Bind waits until it is:
// its unavailable presence and the modules' OnUnbind hooks name the full
// JID, and must not take away what the new session already joined or
// enabled (a client reconnecting with the same resource while its old
// connection is torn down would be removed from its rooms again).
func (r *Router) Bind(s Session) {
	j := s.JID()
	full := j.String()
	r.mu.Lock()
	for done := r.ending[full]; done != nil; done = r.ending[full] {
		r.mu.Unlock()
		<-done
		r.mu.Lock()
	}
	e, old := r.putLocked(s, false)
	e.bound = time.Now()
	if old != nil {
		r.removed(old)
	}
	r.changed(e)
	r.mu.Unlock()
	if old != nil {
		old.s.End("conflict", "replaced by a new session")
		if old.remote {
			// Its own node tells the account and the modules.
			return
		}
		if old.available {
			r.ended(old, s)
		}
		r.notifyUnbound(j)
	}
}

// putLocked puts s in the table in place of the entry of the same full
// JID, which it returns as old (nil when there is none); an entry of s
// itself is kept. r.mu must be held.
func (r *Router) putLocked(s Session, remote bool) (e, old *entry) {
	j := s.JID()
	bare, res := j.Bare().String(), j.Resourcepart()
	acct := r.users[bare]
	if acct == nil {
		acct = &account{}
		r.users[bare] = acct
	}
	if i := slices.IndexFunc(acct.sessions, func(e *entry) bool { return e.resource == res }); i >= 0 {
		if acct.sessions[i].s == s {
			return acct.sessions[i], nil
		}
		old = acct.sessions[i]
		acct.sessions = slices.Delete(acct.sessions, i, i+1)
	}
	e = &entry{s: s, resource: res, remote: remote}
	acct.sessions = append(acct.sessions, e)
	return e, old
}

// ended tells the account's other resources (except skip) and the
// presence handler that the available session e is gone (RFC 6121 §4.5.2).
func (r *Router) ended(e *entry, skip Session) {
	ctx := context.Background()
	j := e.s.JID()
	r.broadcastOwn(ctx, j, unavailableFrom(j), skip)
	if r.presence != nil {
		r.presence.Ended(ctx, j, e.presence)
	}
}

// Unbind removes s from the session table. If s was available, its other
// resources receive unavailable presence from it (RFC 6121 §4.5.2). Then
// the OnUnbind hooks run; a new session of the same full JID is bound only
// after both.
func (r *Router) Unbind(s Session) {
	j := s.JID()
	bare := j.Bare().String()
	r.mu.Lock()
	acct := r.users[bare]
	var gone *entry
	if acct != nil {
		for i, e := range acct.sessions {
			if e.s == s {
				gone = e
				acct.sessions = append(acct.sessions[:i], acct.sessions[i+1:]...)
				break
			}
		}
		if len(acct.sessions) == 0 {
			delete(r.users, bare)
		}
	}
	if gone == nil {
		r.mu.Unlock()
		return
	}
	r.removed(gone)
	full, done := j.String(), make(chan struct{})
	r.ending[full] = done
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.ending, full)
		r.mu.Unlock()
		close(done)
	}()
	if gone.available {
		r.ended(gone, nil)
	}
	r.notifyUnbound(j)
}

// Routed returns how many stanzas of each kind the router has routed:
// those clients, other servers and components sent, and the server's own.
func (r *Router) Routed() (messages, presences, iqs uint64) {
	return r.routed.messages.Load(), r.routed.presences.Load(), r.routed.iqs.Load()
}

// SessionCount returns the number of sessions bound on this node.
func (r *Router) SessionCount() int { return len(r.Sessions()) }

// Sessions returns every session bound on this node.
func (r *Router) Sessions() []Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var all []Session
	r.eachLocalLocked(func(e *entry) { all = append(all, e.s) })
	return all
}

// OnlineAccounts returns the accounts of domain that have a session on
// any node of the cluster, sorted.
func (r *Router) OnlineAccounts(domain string) []jid.JID {
	r.mu.RLock()
	var online []jid.JID
	for _, a := range r.users {
		if len(a.sessions) > 0 {
			if j := a.sessions[0].s.JID(); j.Domainpart() == domain {
				online = append(online, j.Bare())
			}
		}
	}
	r.mu.RUnlock()
	slices.SortFunc(online, func(a, b jid.JID) int { return strings.Compare(a.String(), b.String()) })
	return online
}

// eachLocalLocked calls f with the entry of every session of this node;
// r.mu must be held.
func (r *Router) eachLocalLocked(f func(*entry)) {
	for _, a := range r.users {
		for _, e := range a.sessions {
			if !e.remote {
				f(e)
			}
		}
	}
}

func unavailableFrom(j jid.JID) *xmlstream.Element {
	return xmlstream.NewElement(stanza.NSClient, stanza.Presence, "from", j.String(), "type", "unavailable")
}

// Route delivers st, whose 'from' the caller has already set to the
// sender's true address. Problems are answered with an error stanza to
// the sender; Route returns once the stanza is queued, handled or bounced.
func (r *Router) Route(ctx context.Context, st *xmlstream.Element) {
	from, err := jid.Parse(st.Attr("from"))
	if err != nil {
		r.log.Warn("dropping stanza with an invalid from", "from", st.Attr("from"), "err", err)
		return
	}
	r.route(ctx, from, st, false)
}

// RouteArchived routes st as Route does, but does not archive it again:
// it was archived on its first way, and a session that ended before its
// client acknowledged it gives it back (XEP-0198), with its stanza ids;
// or it is another copy of one archived already.
func (r *Router) RouteArchived(ctx context.Context, st *xmlstream.Element) {
	r.Route(context.WithValue(ctx, archivedKey{}, true), st)
}

// archivedKey marks the context of a stanza RouteArchived routes.
type archivedKey struct{}

// Rerouted reports whether ctx is that of a stanza RouteArchived routes:
// one that was routed, archived and perhaps notified before.
func Rerouted(ctx context.Context) bool { return ctx.Value(archivedKey{}) != nil }

// route delivers st from from; client is true for stanzas a client sent,
// which the outbound hooks see.
func (r *Router) route(ctx context.Context, from jid.JID, st *xmlstream.Element, client bool) {
	switch st.Name.Local {
	case stanza.Message:
		r.routed.messages.Add(1)
	case stanza.Presence:
		r.routed.presences.Add(1)
	default:
		r.routed.iqs.Add(1)
	}
	toAttr := st.Attr("to")
	if toAttr == "" {
		if client && !r.outboundAllowed(ctx, from, from.Bare(), st) {
			return
		}
		r.routeNoTo(ctx, from, st)
		return
	}
	to, err := jid.Parse(toAttr)
	if err != nil {
		r.bounce(ctx, st, stanza.JIDMalformed, "the 'to' address is not a valid JID")
		return
	}
	if client {
		if !r.outboundAllowed(ctx, from, to, st) {
			return
		}
		if st.Name.Local == stanza.Presence && r.presence != nil && r.presence.Outbound(ctx, from, to, st) {
			return
		}
		if st.Name.Local == stanza.Message {
			ctx = withSenderID(ctx, st)
			defer r.sent(ctx, from, st)
		}
	}
	if c := r.components[to.Domainpart()]; c != nil {
		// A local user's message to an external component (a gateway,
		// another room service), or to an occupant of a room here (a
		// private message), goes into the sender's archive.
		if r.hosts[from.Domainpart()] && (r.external[to.Domainpart()] || to.Resourcepart() != "") {
			if st = r.archive(ctx, from, to, st); st == nil {
				return
			}
		}
		c.Route(ctx, from, to, st)
		return
	}
	switch {
	case !r.hosts[to.Domainpart()]:
		if !client && r.hosts[from.Domainpart()] && !r.departingAllowed(ctx, from, to, st) {
			return
		}
		r.routeRemote(ctx, from, to, st)
	case to.Localpart() == "":
		r.routeToServer(ctx, from, to, st)
	default:
		if !r.inboundAllowed(ctx, from, to, st) {
			if st.Name.Local == stanza.IQ && (st.Attr("type") == "get" || st.Attr("type") == "set") {
				r.bounce(ctx, st, stanza.ServiceUnavailable, "")
			}
			return
		}
		if st.Name.Local == stanza.Presence && r.presence != nil && r.presence.Inbound(ctx, from, to, st) {
			return
		}
		if st = r.archive(ctx, from, to, st); st == nil {
			return
		}
		if to.Resourcepart() == "" {
			r.routeToBare(ctx, from, to, st)
		} else {
			r.routeToFull(ctx, from, to, st)
		}
	}
}

// routeRemote hands st to the remote route, archiving a message first in
// its local sender's archive.
func (r *Router) routeRemote(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	if r.remote == nil {
		r.bounce(ctx, st, stanza.RemoteServerNotFound, "federation with other servers is not enabled")
		return
	}
	if r.hosts[from.Domainpart()] {
		if st = r.archive(ctx, from, to, st); st == nil {
			return
		}
	}
	r.remote.Route(ctx, from, to, st)
}

// archive has the archiver store a message (not an error) and returns
// the stanza to deliver, or nil when it could not be archived and was
// bounced. Other stanzas are returned as they are.
func (r *Router) archive(ctx context.Context, from, to jid.JID, st *xmlstream.Element) *xmlstream.Element {
	if st.Name.Local != stanza.Message || r.archiver == nil || stanza.IsError(st) || Rerouted(ctx) {
		return st
	}
	archived, err := r.archiver.Archive(ctx, from, to, st)
	if err != nil {
		r.bounceFor(ctx, st, err, "the message could not be archived")
		return nil
	}
	return archived
}

// outboundAllowed runs the outbound filters; a refusal is answered to the
// client with the filter's error, if it has one.
func (r *Router) outboundAllowed(ctx context.Context, from, to jid.JID, st *xmlstream.Element) bool {
	for _, f := range r.filters {
		if pass, reply := f.Outbound(ctx, from, to, st); !pass {
			if reply != nil {
				r.DeliverToSession(from, reply)
			}
			return false
		}
	}
	return true
}

// routeNoTo handles a stanza without 'to': RFC 6120 §10.3 treats it as
// addressed to the sender's own account, and presence without 'to' is a
// broadcast (RFC 6121 §4.2).
func (r *Router) routeNoTo(ctx context.Context, from jid.JID, st *xmlstream.Element) {
	switch st.Name.Local {
	case stanza.Presence:
		r.broadcastPresence(ctx, from, st)
	case stanza.IQ:
		r.handleIQ(ctx, ToAccount, from, from.Bare(), st)
	case stanza.Message:
		// §10.3.1: as if addressed to the bare JID, so that the message
		// delivered says so and an error about it comes from the
		// account, not from the domain.
		st.SetAttr("to", from.Bare().String())
		if st = r.archive(ctx, from, from.Bare(), st); st != nil {
			r.routeToBare(ctx, from, from.Bare(), st)
		}
	}
}

func (r *Router) routeToServer(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	if st.Name.Local == stanza.IQ {
		r.handleIQ(ctx, ToServer, from, to, st)
	}
	// Messages and presence to the server itself have no handler yet and
	// are ignored, as RFC 6120 §10.4.1 allows.
}

func (r *Router) routeToBare(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	if st.Name.Local == stanza.IQ {
		// RFC 6121 §8.5.2.1.3 / §8.5.2.2.3: the server answers on the account's behalf.
		if !r.exists(ctx, to) {
			r.bounce(ctx, st, stanza.ServiceUnavailable, "")
			return
		}
		r.handleIQ(ctx, ToAccount, from, to, st)
		return
	}
	targets, known := r.bareTargets(to, st, nil)
	var took []Session
	var delivered []jid.JID
	var refused map[string]bool // full JIDs of the targets that did not take st
	for len(targets) > 0 {
		for _, s := range targets {
			if st.Name.Local == stanza.Presence && !r.sessionAllowed(ctx, from, s.JID(), st) {
				continue
			}
			if s.Deliver(st) {
				took = append(took, s)
				delivered = append(delivered, s.JID())
			} else {
				if refused == nil {
					refused = map[string]bool{}
				}
				refused[s.JID().String()] = true
			}
		}
		if len(delivered) > 0 || st.Name.Local != stanza.Message {
			break
		}
		// The best resources could not take it (ending, or full): the
		// next best available ones can.
		targets, _ = r.bareTargets(to, st, refused)
	}
	if len(delivered) > 0 {
		if st.Name.Local == stanza.Message && len(took) > 1 {
			// Equal best resources took it together (SharingSession).
			r.shared(st, took, took)
		}
		r.received(ctx, to, st, delivered)
		return
	}
	if !known && !r.exists(ctx, to) {
		// RFC 6121 §8.5.1: no such account.
		if st.Name.Local == stanza.Message {
			r.bounce(ctx, st, stanza.ServiceUnavailable, "")
		}
		return
	}
	// The account exists but no resource takes the stanza (RFC 6121 §8.5.2.2).
	if st.Name.Local != stanza.Message {
		return
	}
	switch stanza.Type(st) {
	case "normal", "chat":
		if r.offline == nil {
			r.bounce(ctx, st, stanza.ServiceUnavailable, "the recipient is offline")
			return
		}
		r.storeOffline(ctx, to, st)
	case "groupchat":
		r.bounce(ctx, st, stanza.ServiceUnavailable, "the recipient is offline")
	}
}

// sessionAllowed reports whether the DirectFilters let presence st,
// which the inbound filters let through to an account's bare JID, reach
// its session to. A user who blocked one resource of a contact (a full
// JID, or domain/resource, XEP-0191 §6) appears offline to it (§3.3),
// though her presence goes to the contact's bare JID.
func (r *Router) sessionAllowed(ctx context.Context, from, to jid.JID, st *xmlstream.Element) bool {
	if deliver, known := r.DirectAllowed(from, to, st); known {
		return deliver
	}
	return r.DirectAllowedWait(ctx, from, to, st)
}

// storeOffline has the offline handler keep the message st for the
// account to and tells the OnStoredOffline functions, or bounces st when
// it could not be stored. r.offline must be set.
func (r *Router) storeOffline(ctx context.Context, to jid.JID, st *xmlstream.Element) {
	if err := r.offline.Store(ctx, to, st); err != nil {
		r.bounceFor(ctx, st, err, "the message could not be stored for the offline recipient")
		return
	}
	for _, f := range r.storedOffline {
		f(ctx, to, st)
	}
}

// bareTargets picks the sessions that get st when it is addressed to the
// bare JID to (RFC 6121 §8.5.2.1). known reports whether the account has
// any session, which proves that it exists.
func (r *Router) bareTargets(to jid.JID, st *xmlstream.Element, skip map[string]bool) (targets []Session, known bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	acct := r.users[to.String()]
	if acct == nil {
		return nil, false
	}
	switch st.Name.Local {
	case stanza.Presence:
		for _, e := range acct.sessions {
			if e.available {
				targets = append(targets, e.s)
			}
		}
	case stanza.Message:
		switch stanza.Type(st) {
		case "normal", "chat":
			best := -1
			for _, e := range acct.sessions {
				if !e.available || e.priority < 0 || skip[e.s.JID().String()] {
					continue
				}
				if e.priority > best {
					best = e.priority
					targets = targets[:0]
				}
				if e.priority == best {
					targets = append(targets, e.s)
				}
			}
		case "headline":
			for _, e := range acct.sessions {
				if e.available && e.priority >= 0 && !skip[e.s.JID().String()] {
					targets = append(targets, e.s)
				}
			}
		}
		// groupchat and error messages to a bare JID are not delivered.
	}
	return targets, true
}

func (r *Router) routeToFull(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	if s := r.session(to); s != nil {
		if s.Deliver(st) {
			r.received(ctx, to.Bare(), st, []jid.JID{to})
			return
		}
	}
	// RFC 6121 §8.5.3.2: no such resource. A headline was for that
	// resource alone (a PEP notification it asked for, say): it is
	// dropped, not given to the others.
	switch st.Name.Local {
	case stanza.Message:
		switch stanza.Type(st) {
		case "normal", "chat":
			r.routeToBare(ctx, from, to.Bare(), st)
		case "groupchat":
			r.bounce(ctx, st, stanza.ServiceUnavailable, "")
		}
	case stanza.IQ:
		r.bounce(ctx, st, stanza.ServiceUnavailable, "")
	case stanza.Presence:
		switch stanza.Type(st) {
		case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
			r.routeToBare(ctx, from, to.Bare(), st)
		}
	}
}

// session returns the session bound to the full JID j, or nil.
func (r *Router) session(j jid.JID) Session {
	res := j.Resourcepart()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if acct := r.users[j.Bare().String()]; acct != nil {
		for _, e := range acct.sessions {
			if e.resource == res {
				return e.s
			}
		}
	}
	return nil
}

// exists reports whether the account of j exists; a lookup failure counts
// as "no" and is logged.
func (r *Router) exists(ctx context.Context, j jid.JID) bool {
	r.mu.RLock()
	_, online := r.users[j.Bare().String()]
	r.mu.RUnlock()
	if online {
		return true
	}
	if r.accounts == nil {
		return false
	}
	ok, err := r.accounts.Exists(ctx, j.Domainpart(), j.Localpart())
	if err != nil {
		r.log.Error("looking up account", "jid", j.Bare().String(), "err", err)
	}
	return ok
}

// Bounce answers st with the error condition (RFC 6120 §8.3.3) from its
// recipient, as bounce does, for stanzas a Remote cannot deliver.
func (r *Router) Bounce(ctx context.Context, st *xmlstream.Element, condition, text string) {
	r.bounce(ctx, st, condition, text)
}

// bounce answers st with an error from its recipient. Errors are never
// answered with errors, and presence is never bounced except for
// remote and malformed addresses.
func (r *Router) bounce(ctx context.Context, st *xmlstream.Element, condition, text string) {
	if stanza.IsError(st) || st.Attr("from") == "" {
		return
	}
	if st.Attr("type") == "result" && st.Name.Local == stanza.IQ {
		return
	}
	if st.Name.Local == stanza.Message {
		r.unarchive(ctx, st)
	}
	reply := stanza.ErrorReply(st, condition, text)
	if st.Name.Local == stanza.Message {
		withoutArchiveID(reply, st.Attr("to"))
	}
	if _, err := jid.Parse(reply.Attr("from")); err != nil {
		// Errors about a missing or invalid 'to' come from the sender's server.
		if from, err := jid.Parse(st.Attr("from")); err == nil {
			reply.SetAttr("from", from.Domainpart())
		}
	}
	r.Route(ctx, reply)
}

// nsSID qualifies XEP-0359 stanza ids.
const nsSID = "urn:xmpp:sid:0"

// unarchive withdraws st, a message being bounced to its sender, from the
// archive of its local recipient, where the archiver stored it: the
// sender is told it was not delivered, so the recipient must not find it
// later (RFC 6120 §8.3). Archiving before delivery keeps the delivery to
// an online recipient free of a further round trip; undoing it costs
// one, on this failure path alone. A failure is logged: the bounce goes
// out anyway.
func (r *Router) unarchive(ctx context.Context, st *xmlstream.Element) {
	if r.archiver == nil {
		return
	}
	to, err := jid.Parse(st.Attr("to"))
	if err != nil || to.Localpart() == "" || !r.hosts[to.Domainpart()] {
		return
	}
	if err := r.archiver.Unarchive(ctx, to.Bare(), st); err != nil {
		r.log.Error("withdrawing a bounced message from its recipient's archive", "to", to.Bare().String(), "err", err)
	}
}

// withoutArchiveID removes from reply, the error bouncing a message to
// to back to its sender, the <stanza-id/> the recipient's archive put
// on the message: the sender may not read that archive (XEP-0313 §3.5).
func withoutArchiveID(reply *xmlstream.Element, to string) {
	recipient, err := jid.Parse(to)
	if err != nil {
		return
	}
	reply.Children = slices.DeleteFunc(reply.Children, func(c xmlstream.Node) bool {
		e, ok := c.(*xmlstream.Element)
		if !ok || e.Name.Space != nsSID || e.Name.Local != "stanza-id" {
			return false
		}
		by, err := jid.Parse(e.Attr("by"))
		return err == nil && by.Bare().Equal(recipient.Bare())
	})
}

// bounceFor answers st with the error a hook returned: a *StanzaError
// says which; anything else is logged and becomes internal-server-error
// with text.
func (r *Router) bounceFor(ctx context.Context, st *xmlstream.Element, err error, text string) {
	var se *StanzaError
	if errors.As(err, &se) {
		r.bounce(ctx, st, se.Condition, se.Text)
		return
	}
	r.log.Error(text, "to", st.Attr("to"), "err", err)
	r.bounce(ctx, st, stanza.InternalServerError, text)
}

// Reply routes a stanza a server handler produced, such as an IQ result.
func (r *Router) Reply(ctx context.Context, st *xmlstream.Element) { r.Route(ctx, st) }
