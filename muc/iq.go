package muc

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// roomIQ answers an IQ to a room or to one of its occupants.
func (s *Service) roomIQ(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	iq, ok := s.iqOf(ctx, from, to, st)
	if !ok {
		return
	}
	rm, _ := s.lookup(to.Localpart(), false)
	if rm == nil {
		s.r.Route(ctx, iq.Error(stanza.ItemNotFound, "no such room"))
		return
	}
	if rm.locked && rm.affiliation(from) != Owner {
		rm.mu.Unlock()
		s.r.Route(ctx, iq.Error(stanza.ItemNotFound, "no such room"))
		return
	}
	if p := iq.Payload; p.Name.Space == NSMAM && p.Name.Local == "query" {
		// The archive is read without the room's lock.
		allowed := rm.mayRead(from)
		rm.mu.Unlock()
		s.r.Route(ctx, s.archiveIQ(ctx, rm, iq, allowed))
		return
	}
	res := s.roomIQLocked(ctx, rm, iq)
	rm.mu.Unlock()
	s.r.Route(ctx, res)
}

// roomIQLocked answers iq while rm's lock is held.
func (s *Service) roomIQLocked(ctx context.Context, rm *room, iq router.IQ) *xmlstream.Element {
	p := iq.Payload
	if nick := iq.To.Resourcepart(); nick != "" {
		o := rm.sessions[iq.From.String()]
		switch {
		case o == nil:
			return iq.Error(stanza.NotAcceptable, "only occupants may address occupants")
		case p.Name.Space == NSPing && o.nick == nick:
			return iq.Result(nil) // XEP-0410 self-ping: still joined
		}
		return iq.Error(stanza.FeatureNotImplemented, "IQs to occupants are not forwarded")
	}
	switch {
	case iq.Type == "get" && p.Name.Space == NSDiscoInfo && p.Name.Local == "query" && p.Attr("node") == "":
		return s.roomInfo(rm, iq)
	case iq.Type == "get" && p.Name.Space == NSDiscoItems && p.Name.Local == "query":
		return iq.Result(xmlstream.NewElement(NSDiscoItems, "query"))
	case p.Name.Space == NSOwner && p.Name.Local == "query":
		return s.owner(ctx, rm, iq)
	case p.Name.Space == NSAdmin && p.Name.Local == "query":
		return s.admin(ctx, rm, iq)
	case p.Name.Space == NSModerate && p.Name.Local == "moderate":
		return s.moderate(ctx, rm, iq)
	case iq.Type == "get" && p.Name.Space == NSPing:
		return iq.Result(nil)
	}
	return iq.Error(stanza.ServiceUnavailable, "")
}

// mayRead reports whether the user from may read the room's archive:
// anyone who may enter, without a password; in members-only or password
// rooms, members, admins and owners, and occupants.
func (rm *room) mayRead(from jid.JID) bool {
	aff := rm.affiliation(from)
	switch {
	case aff == Outcast:
		return false
	case rank[aff] >= rank[Member] || rm.sessions[from.String()] != nil:
		return true
	}
	return !rm.cfg.MembersOnly && rm.cfg.Password == ""
}
