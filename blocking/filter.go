package blocking

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Outbound refuses a stanza a user sends to a JID they blocked, with
// not-acceptable and <blocked/> (XEP-0191 §3.3).
//
// Error stanzas and IQ results to a blocked JID are dropped silently: an
// error must not be answered with an error (RFC 6120 §8.3.1), and either
// would tell the contact that the user is online. The user's own account
// and server are never blocked, so a user who blocked their own domain can
// still talk to the server.
func (m *Module) Outbound(ctx context.Context, from, to jid.JID, st *xmlstream.Element) (pass bool, reply *xmlstream.Element) {
	user, peer := split(from), split(to)
	if ownTraffic(user, peer) {
		return true, nil
	}
	blocked, err := m.blocks(ctx, user, peer)
	if err != nil {
		m.cfg.Logger.Error("checking an outgoing stanza against the blocklist", "from", from.String(), "to", to.String(), "err", err)
		return false, stanza.ErrorReply(st, stanza.InternalServerError, "the blocklist could not be read")
	}
	if !blocked {
		return true, nil
	}
	if stanza.IsError(st) || st.Name.Local == stanza.IQ && st.Attr("type") == "result" {
		// Answers to a blocked contact are dropped: an error or a result
		// would show them the user is online.
		return false, nil
	}
	reply = stanza.ErrorReply(st, stanza.NotAcceptable, "")
	// ErrorReply appends the <error/> last.
	e := reply.Children[len(reply.Children)-1].(*xmlstream.Element)
	e.SetAttr("type", "cancel")
	e.AddChild(xmlstream.NewElement(NSErrors, "blocked"))
	return false, reply
}

// Inbound drops a stanza on its way to the local account of to when either
// side blocked the other:
//
//   - the recipient blocked the sender (XEP-0191 §3.3): presence and IQ
//     results and errors vanish; normal and chat messages are answered
//     with service-unavailable, as for an offline user, unless they were
//     stored earlier (router.Replayed), when an answer would tell the
//     sender the user just came online, or are routed again
//     (router.Rerouted), as when a session ends without acknowledging
//     them (XEP-0198): the server accepted them long ago, and a late
//     error would tell the sender of the block; the router answers IQ
//     gets and sets with service-unavailable. Groupchat messages and
//     headlines vanish: a room takes an occupant's error for a sign that
//     the occupant is gone and removes them (XEP-0045 status code 333),
//     so blocking one occupant would get the user kicked;
//   - the sender is a local account that blocked the recipient: this
//     catches what the server sends on a user's behalf, such as presence
//     broadcasts, so that blocked contacts see the user as offline. Errors
//     pass, since they are the answers the server gives the contact in
//     the user's name.
//
// If a blocklist cannot be read, the stanza is dropped: blocking must not
// fail open.
func (m *Module) Inbound(ctx context.Context, from, to jid.JID, st *xmlstream.Element) bool {
	v, known := m.decide(from, to, st, m.reader(ctx, from, to))
	if !known {
		return false
	}
	if v == blockedByRecipient && st.Name.Local == stanza.Message && !router.Replayed(ctx) && !router.Rerouted(ctx) {
		switch stanza.Type(st) {
		case "normal", "chat":
			m.r.Route(ctx, stanza.ErrorReply(st, stanza.ServiceUnavailable, "the recipient is offline"))
		}
	}
	return v == pass
}

// Direct decides, from the blocklists in memory, what Inbound would about
// st on its way to the session to, for what a service such as a MUC room
// hands straight to its local occupants, and for each session that
// presence to the bare JID of its account reaches (router.DirectFilter):
// a user who blocked a full JID does not show it her presence. It
// answers nobody: an error to a room would make it remove the user
// (XEP-0045 status code 333). known is false when a blocklist it needs
// is not in memory.
func (m *Module) Direct(from, to jid.JID, st *xmlstream.Element) (deliver, known bool) {
	v, known := m.decide(from, to, st, m.lists.peek)
	return v == pass, known
}

// DirectWait is Direct, reading the blocklists that are not in memory;
// it returns false when one cannot be read.
func (m *Module) DirectWait(ctx context.Context, from, to jid.JID, st *xmlstream.Element) bool {
	v, known := m.decide(from, to, st, m.reader(ctx, from, to))
	return known && v == pass
}

// verdict is what the blocking rules decide about a stanza to a local
// account.
type verdict int

const (
	pass               verdict = iota
	blockedByRecipient         // the recipient blocked the sender
	blockedBySender            // the sender, a local account, blocked the recipient
)

// decide applies the rules Inbound describes to st from from to to,
// taking the blocklists from list; known is false when list could not
// give one it needs.
func (m *Module) decide(from, to jid.JID, st *xmlstream.Element, list func(address) (*blocklist, bool)) (v verdict, known bool) {
	sender, recipient := split(from), split(to)
	if ownTraffic(recipient, sender) {
		return pass, true
	}
	l, ok := list(recipient.account())
	if !ok {
		return pass, false
	}
	if l.matches(sender) {
		return blockedByRecipient, true
	}
	if sender.local == "" || !m.r.IsLocal(sender.domain) || tellsNothing(st) {
		return pass, true
	}
	if l, ok = list(sender.account()); !ok {
		return pass, false
	}
	if l.matches(recipient) {
		return blockedBySender, true
	}
	return pass, true
}

// reader returns a list function for decide that reads blocklists
// through the cache, logging a failure to read one for st from from to
// to.
func (m *Module) reader(ctx context.Context, from, to jid.JID) func(address) (*blocklist, bool) {
	return func(k address) (*blocklist, bool) {
		l, err := m.lists.lookup(ctx, k)
		if err != nil {
			m.cfg.Logger.Error("checking a stanza against the blocklist", "from", from.String(), "to", to.String(), "blocklist", k.String(), "err", err)
			return nil, false
		}
		return l, true
	}
}

// Departing drops what the server sends to another server in the name of
// a local account that blocked the recipient, as Inbound does for local
// recipients: presence broadcasts, probes and PEP notifications.
func (m *Module) Departing(ctx context.Context, from, to jid.JID, st *xmlstream.Element) bool {
	sender := split(from)
	if sender.local == "" {
		return true
	}
	return m.sendsFor(ctx, sender, split(to), st)
}

// sendsFor reports whether the server may send st to recipient in the
// name of the local account of sender: not if that account blocked the
// recipient, unless st tells nothing about the user (tellsNothing).
func (m *Module) sendsFor(ctx context.Context, sender, recipient address, st *xmlstream.Element) bool {
	if tellsNothing(st) {
		return true
	}
	blocked, err := m.blocks(ctx, sender, recipient)
	if err != nil {
		m.cfg.Logger.Error("checking a stanza against the sender's blocklist", "from", sender.account().String(), "to", recipient.account().String(), "err", err)
		return false
	}
	return !blocked
}

// tellsNothing reports whether the server may send st in the name of a
// user to a contact the user blocked (sendsFor). Errors are the answers
// the server gives in the user's name; unavailable presence shows what
// blocking shows anyway; and unsubscribe and unsubscribed keep the
// contact's roster right when the user removes them.
func tellsNothing(st *xmlstream.Element) bool {
	if stanza.IsError(st) {
		return true
	}
	if st.Name.Local == stanza.Presence {
		switch stanza.Type(st) {
		case "unavailable", "unsubscribe", "unsubscribed":
			return true
		}
	}
	return false
}

// blocks reports whether the account of user blocked peer.
func (m *Module) blocks(ctx context.Context, user, peer address) (bool, error) {
	l, err := m.lists.lookup(ctx, user.account())
	if err != nil {
		return false, err
	}
	return l.matches(peer), nil
}

// ownTraffic reports whether stanzas between the account of user and peer
// are exempt from blocking: peer is the account itself or its server.
func ownTraffic(user, peer address) bool {
	if peer.domain != user.domain {
		return false
	}
	return peer.local == user.local || peer.local == "" && peer.resource == ""
}
