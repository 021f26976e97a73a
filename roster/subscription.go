package roster

import (
	"context"
	"errors"
	"hash/fnv"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// isSubscription reports whether typ is a subscription presence type.
func isSubscription(typ string) bool {
	switch typ {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		return true
	}
	return false
}

// outbound returns the owner's next state after the owner sent a
// subscription stanza of type typ to the contact (RFC 6121 §3, Appendix
// A.2), and whether the stanza goes on to the contact.
func outbound(typ string, st State) (next State, route bool) {
	it := &st.Item
	switch typ {
	case "subscribe":
		if !st.InRoster {
			st.InRoster, st.Item = true, Item{Subscription: None}
		}
		if !it.Subscription.hasTo() {
			it.Ask = true
		}
		return st, true
	case "unsubscribe":
		if st.InRoster {
			it.Ask = false
			it.Subscription = with(false, it.Subscription.hasFrom())
		}
		return st, true
	case "subscribed":
		switch {
		case st.PendingIn != "":
			if !st.InRoster {
				st.InRoster, st.Item = true, Item{Subscription: None}
			}
			st.PendingIn = ""
			it.Subscription, it.Approved = with(it.Subscription.hasTo(), true), false
			return st, true
		case st.InRoster && it.Subscription.hasFrom():
			return st, false
		default: // pre-approval (§3.4)
			if !st.InRoster {
				st.InRoster, st.Item = true, Item{Subscription: None}
			}
			it.Approved = true
			return st, false
		}
	case "unsubscribed":
		route = st.PendingIn != "" || (st.InRoster && it.Subscription.hasFrom())
		st.PendingIn = ""
		if st.InRoster {
			it.Subscription, it.Approved = with(it.Subscription.hasTo(), false), false
		}
		return st, route
	}
	return st, false
}

// inboundResult is what the recipient's server does with a subscription
// stanza after updating the recipient's state.
type inboundResult struct {
	deliver   bool // to the recipient's resources: available for a request, also interested for an answer
	approve   bool // answer 'subscribed' for the recipient and send its presence
	granted   bool // the subscription is new (not one answered again): tell the OnApproved functions
	revokeOut bool // the sender lost its subscription: send it unavailable
}

// inbound returns the recipient's next state after receiving a
// subscription stanza of type typ from the contact (RFC 6121 §3,
// Appendix A.3). request is the stanza as stored while pending.
func inbound(typ string, st State, request string) (State, inboundResult) {
	it := &st.Item
	var res inboundResult
	switch typ {
	case "subscribe":
		switch {
		case st.InRoster && it.Subscription.hasFrom():
			res.approve = true // already approved: answer again
		case st.InRoster && it.Approved:
			it.Subscription, it.Approved = with(it.Subscription.hasTo(), true), false
			res.approve, res.granted = true, true
		case st.PendingIn == "":
			st.PendingIn = request
			res.deliver = true
		}
	case "unsubscribe":
		if st.PendingIn != "" {
			st.PendingIn = ""
			res.deliver = true
		}
		if st.InRoster && it.Subscription.hasFrom() {
			it.Subscription = with(it.Subscription.hasTo(), false)
			res.deliver, res.revokeOut = true, true
		}
	case "subscribed":
		if st.InRoster && it.Ask && !it.Subscription.hasTo() {
			it.Ask = false
			it.Subscription = with(true, it.Subscription.hasFrom())
			res.deliver = true
		}
	case "unsubscribed":
		if st.InRoster && (it.Ask || it.Subscription.hasTo()) {
			it.Ask = false
			it.Subscription = with(false, it.Subscription.hasFrom())
			res.deliver = true
		}
	}
	return st, res
}

// outboundSubscription handles a subscription stanza a client of owner
// sent to contact: the owner's roster changes, then the stanza goes on
// from the owner's bare JID (RFC 6121 §3.1.2, §3.1.5, §3.2.2, §3.3.2).
func (m *Module) outboundSubscription(ctx context.Context, from, contact jid.JID, st *xmlstream.Element) {
	owner := from.Bare()
	typ := stanza.Type(st)
	if contact.Equal(owner) {
		// An account always has its own presence; there is nothing to
		// subscribe to, and a roster never holds its owner.
		m.refuse(from, st, stanza.NotAllowed, "an account cannot subscribe to itself")
		return
	}
	var before, after State
	route := false
	ch, turn, err := m.update(ctx, owner, contact, func(cur State) (State, error) {
		before = cur
		after, route = outbound(typ, cur)
		return after, nil
	})
	switch {
	case errors.Is(err, ErrTooManyItems):
		m.refuse(from, st, stanza.PolicyViolation, "the roster is full")
		return
	case errors.Is(err, ErrTooLong):
		m.refuse(from, st, stanza.NotAcceptable, "the contact's JID is too long")
		return
	case err != nil:
		// Neither recorded nor sent: the client must not take it as sent.
		m.log.Error("outbound subscription", "jid", from.String(), "type", typ, "err", err)
		m.refuse(from, st, stanza.InternalServerError, "")
		return
	}
	turn.Run(func() {
		if (ch.ItemChanged || typ == "subscribe") && after.InRoster {
			after.Item.Contact = contact
			m.push(owner, ItemElement(after.Item), ch.Version)
		}
	})
	if !route {
		return
	}
	if typ == "unsubscribed" && before.InRoster && before.Item.Subscription.hasFrom() {
		m.sendUnavailable(ctx, owner, contact)
	}
	out := st.Copy()
	out.SetAttr("from", owner.String())
	out.SetAttr("to", contact.String())
	m.r.Route(ctx, out)
	if typ == "subscribed" {
		m.sendPresence(ctx, owner, contact, m.storedLast(ctx, owner))
		if after.Item.Subscription.hasFrom() {
			m.tellApproved(ctx, owner, contact)
		}
	}
}

// refuse answers the subscription stanza st that the session from sent
// with an error of condition, from the account's bare JID.
func (m *Module) refuse(from jid.JID, st *xmlstream.Element, condition, text string) {
	reply := stanza.ErrorReply(st, condition, text)
	reply.SetAttr("from", from.Bare().String())
	m.r.DeliverToSession(from, reply)
}

// inboundSubscription handles a subscription stanza from contact to the
// local account owner (RFC 6121 §3.1.3, §3.1.6, §3.2.3, §3.3.3).
func (m *Module) inboundSubscription(ctx context.Context, contact, owner jid.JID, st *xmlstream.Element) {
	typ := stanza.Type(st)
	if contact.Equal(owner) {
		return
	}
	preauthorized := typ == "subscribe" && m.preauthorizes(ctx, owner, contact, st)
	if preauthorized {
		// As if owner pre-approved contact (RFC 6121 §3.4): the request
		// below is approved at once, and owner asks back (XEP-0379 §2.4).
		m.outboundSubscription(ctx, owner, contact, subscription("subscribed", owner, contact))
		defer m.outboundSubscription(ctx, owner, contact, subscription("subscribe", owner, contact))
	}
	in := st.Copy()
	in.SetAttr("from", contact.String())
	in.SetAttr("to", owner.String())
	var after State
	var res inboundResult
	unlock := m.lockRequests(owner)
	ch, turn, err := m.update(ctx, owner, contact, func(cur State) (State, error) {
		after, res = inbound(typ, cur, in.String())
		return after, nil
	})
	if err == nil && res.deliver && typ == "subscribe" {
		// Stored as pending: sessions still reading the stored requests
		// for their initial presence get it from there.
		m.r.DeliverToSettled(owner, in)
		res.deliver = false
	}
	unlock()
	switch {
	case errors.Is(err, ErrTooManyRequests):
		// Not recorded: the sender hears the account takes no more.
		m.r.Route(ctx, stanza.ErrorReply(in, stanza.ResourceConstraint, "too many subscription requests wait for an answer"))
		return
	case errors.Is(err, ErrTooLong):
		// Not recorded: the sender hears its JID is too long to keep.
		m.r.Route(ctx, stanza.ErrorReply(in, stanza.NotAcceptable, "the JID is too long"))
		return
	case errors.Is(err, storage.ErrNotFound):
		// No such account (RFC 6121 §3.1.3): refuse a request.
		if typ == "subscribe" {
			m.r.Route(ctx, subscription("unsubscribed", owner, contact))
		}
		return
	case err != nil:
		// Not recorded, so lost: the sender hears of it.
		m.log.Error("inbound subscription", "jid", owner.String(), "from", contact.String(), "type", typ, "err", err)
		m.r.Route(ctx, stanza.ErrorReply(in, stanza.InternalServerError, ""))
		return
	}
	// The answer comes before the roster push it explains (RFC 6121
	// §3.1.6, §3.2.3, §3.3.3).
	turn.Run(func() {
		if res.deliver {
			m.deliverAnswer(owner, in)
		}
		if ch.ItemChanged {
			after.Item.Contact = contact
			m.push(owner, ItemElement(after.Item), ch.Version)
		}
	})
	if res.revokeOut {
		m.sendUnavailable(ctx, owner, contact)
	}
	if res.approve {
		m.r.Route(ctx, subscription("subscribed", owner, contact))
		m.sendPresence(ctx, owner, contact, m.storedLast(ctx, owner))
		if res.granted {
			m.tellApproved(ctx, owner, contact)
		}
	}
}

// NSPreauth is the namespace of XEP-0379's token in a subscription
// request.
const NSPreauth = "urn:xmpp:pars:0"

// preauthorizes reports whether the subscription request st of contact
// to owner carries a token of an invitation owner made, and uses it.
func (m *Module) preauthorizes(ctx context.Context, owner, contact jid.JID, st *xmlstream.Element) bool {
	p := st.Child(NSPreauth, "preauth")
	if m.preauthorized == nil || p == nil || p.Attr("token") == "" {
		return false
	}
	return m.preauthorized(ctx, owner, contact, p.Attr("token"))
}

// deliverAnswer delivers an answer to a subscription ('subscribed',
// 'unsubscribed', 'unsubscribe') to every interested resource of owner
// (RFC 6121 §3.1.6, §3.2.3, §3.3.3) and, as ejabberd does, to every
// available one that did not request the roster, each once.
func (m *Module) deliverAnswer(owner jid.JID, st *xmlstream.Element) {
	seen := map[string]bool{}
	for _, to := range append(m.r.Marked(owner, Mark), m.r.AvailableResources(owner)...) {
		if !seen[to.String()] {
			seen[to.String()] = true
			m.r.DeliverToSession(to, st)
		}
	}
}

// lockRequests locks owner's subscription requests and returns the
// unlock. Held while a request is stored and delivered live, and while an
// initial presence reads the stored ones and settles its session
// (router.DeliverToSettled), it makes each request reach a session once:
// live if the session settled first, from the store otherwise. Nothing
// that routes may run under it: accounts share the locks.
func (m *Module) lockRequests(owner jid.JID) (unlock func()) {
	h := fnv.New32a()
	h.Write([]byte(owner.String()))
	mu := &m.requests[h.Sum32()%uint32(len(m.requests))]
	mu.Lock()
	return mu.Unlock
}
