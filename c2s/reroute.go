package c2s

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// rerouteTimeout bounds the routing of each stanza an ended session gives
// back, e.g. the commit of an offline message.
const rerouteTimeout = 10 * time.Second

// reroute routes again the stanzas of an ended session that its client
// may not have received, after the session left the router, so that
// nothing comes back to it:
//
//   - messages go to the router as they are (a copy: elements are
//     shared), which delivers them to another resource or to offline
//     storage, or bounces them to their sender; never silently dropped.
//     They are not archived again: the archives have them, and the
//     copies keep their stanza ids, by which clients know them.
//     Carbon copies are the exception: the original reached its
//     recipient, and routing the copy again would duplicate it. So is a
//     message another session of the account took too (Shared), while
//     that session is bound: the user has it there, and that session
//     routes it again if it ends unacknowledged in turn (XEP-0198 §4
//     leaves the choice to the server; giving the message to the
//     resources that have it would show it twice). A resource that has
//     only a carbon copy does get it: it would not route a copy again,
//     and the message would reach no session and no offline storage;
//     the copy and the message keep the same stanza id, by which
//     clients know them. Archive query results (XEP-0313) are dropped
//     too: they answer this session's query, and are in the archive;
//   - IQ requests are answered with service-unavailable from the
//     recipient (RFC 6121 §8.5.3.2.1), so the requester does not wait;
//   - presence and IQ results are dropped: they describe a state the next
//     session learns again.
//
// Nothing is marked as delayed here; offline storage stamps its delay.
func (s *Session) reroute(items []outItem) {
	if len(items) == 0 {
		return
	}
	rerouted := 0
	for _, it := range items {
		el := it.el
		ctx, cancel := context.WithTimeout(context.Background(), rerouteTimeout)
		switch el.Name.Local {
		case stanza.Message:
			if isCarbon(el, s.jid.Bare()) || isArchiveResult(el) || s.srv.router.AnyBound(it.others) {
				break
			}
			// The copy keeps the sender's receipt until it is safe again.
			cp := el.Copy()
			s.srv.routeTracked(cp, it.receipt, func() { s.srv.router.RouteArchived(ctx, cp) })
			rerouted++
		case stanza.IQ:
			if typ := el.Attr("type"); typ == "get" || typ == "set" {
				s.srv.router.Route(ctx, stanza.ErrorReply(el, stanza.ServiceUnavailable, ""))
			}
		}
		cancel()
		it.receipt.done()
	}
	if rerouted > 0 {
		s.srv.log.Info("c2s re-routed unacknowledged messages", "jid", s.jid.String(), "count", rerouted)
	}
}

// isCarbon reports whether m is a carbon copy (XEP-0280) for the account
// bare: one from the account's own bare JID (§11). Anyone can put a
// <sent/> or <received/> in a message; that does not make it a copy.
func isCarbon(m *xmlstream.Element, bare jid.JID) bool {
	return m.Attr("from") == bare.String() &&
		(m.Child(nsCarbons, "sent") != nil || m.Child(nsCarbons, "received") != nil)
}

// isArchiveResult reports whether m carries one result of an archive
// query, in either namespace the archive answers in (XEP-0313).
func isArchiveResult(m *xmlstream.Element) bool {
	return m.Child("urn:xmpp:mam:2", "result") != nil || m.Child("urn:xmpp:mam:1", "result") != nil
}
