package muc

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/mam"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// roomIQ answers an IQ to a room or to one of its occupants.
func (s *Service) roomIQ(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	if typ := st.Attr("type"); (typ == "result" || typ == "error") && to.Resourcepart() != "" {
		s.answerIQ(ctx, from, to, st)
		return
	}
	iq, ok := s.iqOf(ctx, from, to, st)
	if !ok {
		return
	}
	rm, _ := s.lookup(to.Localpart(), false)
	if rm == nil {
		s.route(ctx, iq.Error(stanza.ItemNotFound, "no such room"))
		return
	}
	if rm.locked && rm.affiliation(from) != Owner {
		rm.mu.Unlock()
		s.route(ctx, iq.Error(stanza.ItemNotFound, "no such room"))
		return
	}
	if p := iq.Payload; (p.Name.Space == NSMAM || p.Name.Space == mam.NS1) && (p.Name.Local == "query" || p.Name.Local == "metadata" && iq.Type == "get") && to.Resourcepart() == "" {
		// The archive is read without the room's lock.
		who := rm.reader(from.String(), rm.affiliation(from))
		rm.mu.Unlock()
		s.route(ctx, s.archiveIQ(ctx, rm, iq, who))
		return
	}
	res, later := s.roomIQLocked(ctx, rm, iq)
	rm.mu.Unlock()
	if res != nil {
		s.route(ctx, res)
	}
	for _, m := range later {
		// The invitations of new members (§9.5) are on behalf of the
		// admin who made them, whom the invitee may have blocked.
		if !s.invitationBlocked(ctx, m) {
			s.r.Route(ctx, m)
		}
	}
}

// roomIQLocked answers iq while rm's lock is held. It returns the answer
// to route once the lock is released (nil when it was sent already) and
// the messages to route after it.
func (s *Service) roomIQLocked(ctx context.Context, rm *room, iq router.IQ) (*xmlstream.Element, []*xmlstream.Element) {
	p := iq.Payload
	if nick := iq.To.Resourcepart(); nick != "" {
		o := rm.sessions[iq.From.String()]
		switch {
		case o == nil:
			return iq.Error(stanza.NotAcceptable, "only occupants may address occupants"), nil
		case p.Name.Space == NSPing && o.nick == nick:
			return iq.Result(nil), nil // XEP-0410 self-ping: still joined
		}
		return s.forwardIQ(rm, o, iq), nil
	}
	switch {
	case iq.Type == "get" && p.Name.Space == NSDiscoInfo && p.Name.Local == "query" && p.Attr("node") == "":
		return s.roomInfo(rm, iq), nil
	case iq.Type == "get" && p.Name.Space == NSDiscoInfo && p.Name.Local == "query" && p.Attr("node") == nodeRoomUser:
		return s.reservedNick(rm, iq), nil
	case iq.Type == "get" && p.Name.Space == NSDiscoItems && p.Name.Local == "query" && p.Attr("node") == "":
		return s.roomItems(rm, iq), nil
	case p.Name.Space == NSVCard:
		return s.roomVCard(ctx, rm, iq), nil
	case p.Name.Space == NSOwner && p.Name.Local == "query":
		return s.owner(ctx, rm, iq), nil
	case p.Name.Space == NSAdmin && p.Name.Local == "query":
		return s.admin(ctx, rm, iq)
	case p.Name.Space == NSRegister && p.Name.Local == "query":
		return s.register(ctx, rm, iq), nil
	case p.Name.Space == NSModerate && p.Name.Local == "moderate":
		return s.moderate(ctx, rm, iq), nil
	case iq.Type == "get" && p.Name.Space == NSPing:
		return iq.Result(nil), nil
	}
	return iq.Error(stanza.ServiceUnavailable, ""), nil
}
