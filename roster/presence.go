package roster

import (
	"context"
	"errors"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// Module is the router's presence handler.
var _ router.PresenceHandler = (*Module)(nil)

// grantsKey carries, in the context of the probes sent for one initial
// presence, the accounts that grant the prober their presence, so that
// answering each probe needs no query of its own.
type grantsKey struct{}

type grants struct {
	user jid.JID           // the prober's bare JID
	by   map[string]string // granting account → its last unavailable presence
}

// Broadcast sends a session's presence to the contacts subscribed to it
// (RFC 6121 §4.2, §4.4); for initial presence it also probes the contacts
// the account is subscribed to and delivers pending subscription requests.
// Unavailable presence also goes to those that got directed presence
// (§4.6.3).
func (m *Module) Broadcast(ctx context.Context, from jid.JID, st *xmlstream.Element, initial bool) {
	owner := from.Bare()
	unavailable := stanza.Type(st) == "unavailable"
	var ros Roster
	var pending []Pending // for an initial presence
	var err error
	if initial && !unavailable {
		unlock := m.lockRequests(owner)
		ros, pending, err = m.store.RosterAndPending(ctx, owner)
		m.r.Settled(from) // requests stored from now on are delivered live
		unlock()
	} else {
		ros, err = m.store.Roster(ctx, owner)
	}
	if err != nil {
		m.log.Error("presence broadcast", "jid", from.String(), "err", err)
		return
	}
	sent := map[string]bool{}
	for _, it := range ros.Items {
		if it.Subscription.hasFrom() {
			sent[it.Contact.String()] = true
			m.r.Route(ctx, addressed(st, it.Contact.String()))
		}
	}
	if unavailable {
		for _, to := range m.takeDirected(from) {
			if !sent[to] {
				m.r.Route(ctx, addressed(st, to))
			}
		}
		m.recordLast(ctx, owner, st)
		return
	}
	if !initial {
		return
	}
	if m.probe(ctx, from, ros.Items) {
		m.redeliverPending(ctx, from, pending)
	}
}

// probe sends a presence probe from the session that just became
// available to each contact it is subscribed to, and reports whether it
// could. Local contacts answer from the grants it loads, which it loads
// only when there is a contact to probe.
func (m *Module) probe(ctx context.Context, from jid.JID, items []Item) bool {
	var to []jid.JID
	for _, it := range items {
		if it.Subscription.hasTo() {
			to = append(to, it.Contact)
		}
	}
	if len(to) == 0 {
		return true
	}
	owner := from.Bare()
	gs, err := m.store.Grants(ctx, owner)
	if err != nil {
		m.log.Error("presence probes", "jid", from.String(), "err", err)
		return false
	}
	g := grants{user: owner, by: make(map[string]string, len(gs))}
	for _, x := range gs {
		g.by[x.Account.String()] = x.LastStanza
	}
	pctx := context.WithValue(ctx, grantsKey{}, g)
	for _, c := range to {
		m.r.Route(pctx, xmlstream.NewElement(stanza.NSClient, stanza.Presence, "type", "probe",
			"from", from.String(), "to", c.String()))
	}
	return true
}

// redeliverPending delivers the subscription requests that wait for the
// account's answer to a session that just became available (§3.1.3),
// but for those the router's filters now refuse: a request from a
// contact the user blocked since (XEP-0191 §3.3) stays unanswered.
func (m *Module) redeliverPending(ctx context.Context, session jid.JID, pending []Pending) {
	for _, p := range pending {
		el, err := xmlstream.ParseElement([]byte(p.Stanza), xmlstream.Limits{})
		if err != nil {
			m.log.Error("stored subscription request", "jid", session.String(), "from", p.Contact.String(), "err", err)
			continue
		}
		if !m.r.Admits(ctx, p.Contact, session, el) {
			continue
		}
		m.r.DeliverToSession(session, el)
	}
}

// addressed returns a copy of st addressed to to.
func addressed(st *xmlstream.Element, to string) *xmlstream.Element {
	c := st.Copy()
	c.SetAttr("to", to)
	return c
}

// Outbound handles presence with a 'to' from a client: subscription
// stanzas change the roster (RFC 6121 §3); directed presence is tracked so
// that the recipient hears when the session goes away (§4.6).
func (m *Module) Outbound(ctx context.Context, from, to jid.JID, st *xmlstream.Element) bool {
	typ := stanza.Type(st)
	switch {
	case isSubscription(typ):
		m.outboundSubscription(ctx, from, to.Bare(), st)
		return true
	case typ == "probe":
		return true // probes are the server's business (§4.3)
	case typ == "available" || typ == "unavailable":
		if !to.Bare().Equal(from.Bare()) && !m.trackDirected(ctx, from, to, typ == "available") {
			m.r.DeliverToSession(from, stanza.ErrorReply(st, stanza.PolicyViolation,
				"too many JIDs have directed presence from this session"))
			return true
		}
	}
	return false
}

// maxDirected bounds the JIDs one session has sent directed presence to
// and not yet unavailable: each takes memory until the session ends. A
// client in thousands of rooms stays below it.
var maxDirected = 5000

// trackDirected remembers (or, for unavailable, forgets) that the session
// from sent directed presence to to, unless to is subscribed anyway. It
// returns false, remembering nothing, when the session already has
// maxDirected other such JIDs: the presence must not go out untracked.
func (m *Module) trackDirected(ctx context.Context, from, to jid.JID, available bool) bool {
	if !available {
		m.mu.Lock()
		delete(m.directed[from.String()], to.String())
		m.mu.Unlock()
		return true
	}
	if !m.isAvailable(from) {
		return true // §4.6.2: directed presence while unavailable is not tracked
	}
	st, err := m.store.State(ctx, from.Bare(), to.Bare())
	if err != nil {
		m.log.Error("directed presence", "jid", from.String(), "err", err)
	} else if st.InRoster && st.Item.Subscription.hasFrom() {
		return true // a broadcast target already
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.directed[from.String()]
	if set == nil {
		set = map[string]bool{}
		m.directed[from.String()] = set
	}
	if !set[to.String()] && len(set) >= maxDirected {
		return false
	}
	set[to.String()] = true
	return true
}

func (m *Module) isAvailable(session jid.JID) bool {
	for _, p := range m.r.Presences(session.Bare()) {
		if p.Attr("from") == session.String() {
			return true
		}
	}
	return false
}

// takeDirected returns and forgets who got directed presence from session.
func (m *Module) takeDirected(session jid.JID) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for to := range m.directed[session.String()] {
		out = append(out, to)
	}
	delete(m.directed, session.String())
	return out
}

// Directed returns the JIDs that the available sessions of account sent
// directed presence to (RFC 6121 §4.6) and have not yet told that they
// went unavailable, each once; contacts subscribed to the account are
// not among them. A JID is bare or full, as the session addressed it.
func (m *Module) Directed(account jid.JID) []jid.JID {
	sessions := m.r.AvailableResources(account.Bare())
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	var out []jid.JID
	for _, s := range sessions {
		for to := range m.directed[s.String()] {
			if seen[to] {
				continue
			}
			seen[to] = true
			if j, err := jid.Parse(to); err == nil {
				out = append(out, j)
			}
		}
	}
	return out
}

// Inbound handles presence addressed to a local account: subscription
// stanzas and probes. Other presence is delivered by the router.
func (m *Module) Inbound(ctx context.Context, from, to jid.JID, st *xmlstream.Element) bool {
	typ := stanza.Type(st)
	switch {
	case isSubscription(typ):
		m.inboundSubscription(ctx, from.Bare(), to.Bare(), st)
		return true
	case typ == "probe":
		m.answerProbe(ctx, from, to.Bare())
		return true
	}
	return false
}

// answerProbe answers prober's probe of owner's presence (RFC 6121
// §4.3.2): the current presence of each available resource, or the last
// unavailable presence, only if owner's roster gives prober a
// subscription; otherwise 'unsubscribed', which reveals nothing.
func (m *Module) answerProbe(ctx context.Context, prober, owner jid.JID) {
	if owner.Equal(prober.Bare()) {
		return
	}
	allowed, last := false, m.storedLast(ctx, owner)
	if g, ok := ctx.Value(grantsKey{}).(grants); ok && g.user.Equal(prober.Bare()) {
		var l string
		l, allowed = g.by[owner.String()]
		last = func() string { return l }
	} else {
		st, err := m.store.State(ctx, owner, prober.Bare())
		if err != nil {
			m.log.Error("presence probe", "jid", owner.String(), "from", prober.String(), "err", err)
			return
		}
		allowed = st.InRoster && st.Item.Subscription.hasFrom()
	}
	if !allowed {
		m.r.Route(ctx, subscription("unsubscribed", owner, prober.Bare()))
		return
	}
	m.sendPresence(ctx, owner, prober, last)
}

// Ended tells the contacts subscribed to a session that ended, and those
// it sent directed presence to, that it is unavailable (§4.5.2), and
// records the time for probes and last activity.
func (m *Module) Ended(ctx context.Context, session jid.JID, last *xmlstream.Element) {
	un := xmlstream.NewElement(stanza.NSClient, stanza.Presence, "type", "unavailable", "from", session.String())
	m.Broadcast(ctx, session, un, false)
}

// recordLast stores owner's last unavailable presence, stamped with a
// <delay/> of the server's, so that a probe answered from it says when
// the account went offline (RFC 6121 §4.3.2, XEP-0203); a <delay/> the
// client put in is dropped, as the server does not vouch for it.
func (m *Module) recordLast(ctx context.Context, owner jid.JID, st *xmlstream.Element) {
	status := ""
	if s := st.Child(stanza.NSClient, "status"); s != nil {
		status = s.Text()
	}
	at := m.now()
	stored := st.Without(NSDelay, "delay").Copy()
	stored.SetAttr("from", owner.String())
	stored.SetAttr("to", "")
	stored.AddChild(xmlstream.NewElement(NSDelay, "delay", "from", owner.Domainpart(), "stamp", at.UTC().Format(stampLayout)))
	err := m.store.SetLast(ctx, owner, Last{Status: status, Stanza: stored.String(), At: at})
	// An account deleted while online has no last presence to keep.
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		m.log.Error("recording last presence", "jid", owner.String(), "err", err)
	}
}
