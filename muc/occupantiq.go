package muc

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// NSVCard is the namespace of XEP-0054 vcard-temp.
const NSVCard = "vcard-temp"

// maxPendingIQs bounds the forwarded IQs a room waits answers for.
const maxPendingIQs = 1000

// pendingIQ is an IQ forwarded to an occupant, awaiting its answer.
type pendingIQ struct {
	requester jid.JID // the full JID that asked
	id        string  // the requester's id
	target    jid.JID // where the request went: a full JID, or a bare one for vCards
	nick      string  // the occupant asked
}

// forwardIQ sends an IQ get or set from the occupant o to the occupant
// nick on to its real JID (XEP-0045 §7.5's rules for IQs), from o's room
// JID and with an id of the room's, so that the answer can go back to
// o's session with o's id. A vCard request goes to the occupant's bare
// JID, whose server answers for the account (XEP-0054 is about accounts,
// not sessions). It returns the stanza to route, which is an error when
// the request cannot be forwarded.
func (s *Service) forwardIQ(rm *room, o *occupant, iq router.IQ) *xmlstream.Element {
	target := rm.occupants[iq.To.Resourcepart()]
	if target == nil || len(target.sessions) == 0 {
		return iq.Error(stanza.ItemNotFound, "no such occupant")
	}
	to := target.sessions[0]
	if iq.Payload.Name.Space == NSVCard {
		to = target.bare
	}
	if len(rm.pendingIQs) >= maxPendingIQs {
		for k := range rm.pendingIQs {
			delete(rm.pendingIQs, k) // forget one: the map stays bounded
			break
		}
	}
	id := stanza.NewID()
	rm.pendingIQs[id] = pendingIQ{requester: iq.From, id: iq.Stanza.Attr("id"), target: to, nick: target.nick}
	fwd := &xmlstream.Element{Name: iq.Stanza.Name, Attrs: nil, Children: iq.Stanza.Children}
	fwd.SetAttr("type", iq.Type)
	fwd.SetAttr("id", id)
	fwd.SetAttr("from", rm.nickJID(o.nick).String())
	fwd.SetAttr("to", to.String())
	return fwd
}

// answerIQ routes the answer st (a result or error from an occupant's
// real JID to room@service/nick) back to the session that asked, from
// the answering occupant's room JID. Answers to nothing the room
// forwarded, or from elsewhere than where the request went, are dropped.
func (s *Service) answerIQ(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	rm, _ := s.lookup(to.Localpart(), false)
	if rm == nil {
		return
	}
	p, ok := rm.pendingIQs[st.Attr("id")]
	if ok && p.target.Equal(from) && rm.nickJID(rm.sessionNick(p.requester)).Equal(to) {
		delete(rm.pendingIQs, st.Attr("id"))
	} else {
		ok = false
	}
	rm.mu.Unlock()
	if !ok {
		return
	}
	ans := &xmlstream.Element{Name: st.Name, Children: st.Children}
	ans.SetAttr("type", st.Attr("type"))
	ans.SetAttr("id", p.id)
	ans.SetAttr("from", rm.nickJID(p.nick).String())
	ans.SetAttr("to", p.requester.String())
	s.r.Route(ctx, ans)
}

// sessionNick returns the nick of the session real in rm, or "".
func (rm *room) sessionNick(real jid.JID) string {
	if o := rm.sessions[real.String()]; o != nil {
		return o.nick
	}
	return ""
}
