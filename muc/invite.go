package muc

import (
	"context"
	"maps"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// maxInvited bounds the invitations a room remembers for declines.
const maxInvited = 1000

// mediated handles a message to the room that is not groupchat: a voice
// request or its approval (voice.go), a mediated invitation or the
// decline of one (XEP-0045 §7.8.2). It returns
// the messages to route once the room's lock is released.
func (s *Service) mediated(ctx context.Context, rm *room, o *occupant, from jid.JID, st *xmlstream.Element) []*xmlstream.Element {
	if x := voiceForm(st); x != nil {
		s.voice(ctx, rm, o, st, x)
		return nil
	}
	var invites, declines []*xmlstream.Element
	if x := st.Child(NSUser, "x"); x != nil {
		for _, c := range x.ChildElements() {
			switch {
			case c.Name.Space != NSUser:
			case c.Name.Local == "invite":
				invites = append(invites, c)
			case c.Name.Local == "decline":
				declines = append(declines, c)
			}
		}
	}
	switch {
	case len(invites) > 0:
		return s.invite(ctx, rm, o, from, st, invites)
	case len(declines) == 1:
		return s.decline(ctx, rm, from, st, declines[0])
	case len(declines) > 1:
		s.reply(ctx, st, stanza.BadRequest, "one decline at a time")
		return nil
	}
	s.reply(ctx, st, stanza.FeatureNotImplemented, "")
	return nil
}

// mayInvite says whether the user with aff, the occupant o (nil if not
// one), may invite others into rm; "" means yes. Admins and owners may,
// in the room or not; in an open room every occupant with a voice may;
// in a members-only room occupants may when the owner allows invites.
func (rm *room) mayInvite(o *occupant, aff string) (denial, string) {
	switch {
	case rank[aff] >= rank[Admin]:
		return "", ""
	case o == nil:
		return stanza.NotAcceptable, "only occupants may invite others"
	case o.role == Visitor:
		return stanza.Forbidden, "visitors may not invite others"
	case rm.cfg.MembersOnly && !rm.cfg.AllowInvites:
		return stanza.Forbidden, "only admins and owners may invite others to this room"
	}
	return "", ""
}

// invite forwards the invitations of from to their invitees, from the
// room, with the room's password if it has one. In a members-only room
// the invitees become members first, so they may enter.
func (s *Service) invite(ctx context.Context, rm *room, o *occupant, from jid.JID, st *xmlstream.Element, invites []*xmlstream.Element) []*xmlstream.Element {
	if d, why := rm.mayInvite(o, rm.affiliation(from)); d != "" {
		s.reply(ctx, st, string(d), why)
		return nil
	}
	invitees := make([]jid.JID, len(invites))
	for i, inv := range invites {
		j, err := jid.Parse(inv.Attr("to"))
		if err != nil || j.Localpart() == "" {
			s.reply(ctx, st, stanza.JIDMalformed, "an invitation needs the JID of a user in 'to'")
			return nil
		}
		if rm.affiliation(j) == Outcast {
			s.reply(ctx, st, stanza.NotAllowed, "an invitee is banned from the room")
			return nil
		}
		invitees[i] = j
	}
	if rm.cfg.MembersOnly {
		before := maps.Clone(rm.affs)
		added := false
		for _, j := range invitees {
			if rm.affiliation(j) == None {
				rm.setAffiliation(j.Bare().String(), Member)
				added = true
			}
		}
		if added && s.save(ctx, rm) != nil {
			rm.affs = before
			s.reply(ctx, st, stanza.InternalServerError, "the invitees could not be made members")
			return nil
		}
	}
	out := make([]*xmlstream.Element, 0, len(invites))
	for i, inv := range invites {
		out = append(out, rm.invitation(invitees[i], from, inv.Child(NSUser, "reason")))
		rm.rememberInvite(invitees[i].Bare(), from)
	}
	return out
}

// invitation is the room's message inviting invitee on behalf of from
// (§7.8.2, §9.5), with the text of reason (nil for none) and the room's
// password if it has one.
func (rm *room) invitation(invitee, from jid.JID, reason *xmlstream.Element) *xmlstream.Element {
	fwd := xmlstream.NewElement(NSUser, "invite", "from", from.String())
	if reason != nil {
		fwd.AddChild(xmlstream.NewElement(NSUser, "reason").AddText(reason.Text()))
	}
	x := xmlstream.NewElement(NSUser, "x").AddChild(fwd)
	if rm.cfg.Password != "" {
		x.AddChild(xmlstream.NewElement(NSUser, "password").AddText(rm.cfg.Password))
	}
	return xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", rm.jid.String(),
		"to", invitee.String(), "id", stanza.NewID()).AddChild(x)
}

// invitationBlocked reports whether m, an invitation the room passes on
// to a local invitee (§7.8.2) or sends a new member on behalf of an
// admin (§9.5), is from a user the invitee blocked, or
// who blocked the invitee (XEP-0191 §3.3). The router sees it come from
// the room, so it is checked here against the inviter, as a direct
// invitation (XEP-0249) would be. The blocklists may be read from the
// store: the room's lock must not be held.
func (s *Service) invitationBlocked(ctx context.Context, m *xmlstream.Element) bool {
	inv := child(m.Child(NSUser, "x"), NSUser, "invite")
	if inv == nil {
		return false
	}
	to, err := jid.Parse(m.Attr("to"))
	if err != nil || !s.r.IsLocal(to.Domainpart()) {
		return false
	}
	inviter, err := jid.Parse(inv.Attr("from"))
	if err != nil {
		return false
	}
	return !s.r.DirectAllowedWait(ctx, inviter, to, m)
}

// rememberInvite records that inviter invited invitee, forgetting an
// older invitation when the room remembers too many.
func (rm *room) rememberInvite(invitee, inviter jid.JID) {
	k := invitee.String()
	if _, known := rm.invited[k]; !known && len(rm.invited) >= maxInvited {
		for other := range rm.invited {
			delete(rm.invited, other)
			break
		}
	}
	rm.invited[k] = inviter
}

// decline forwards the decline d of an invitation to the user who sent
// it, from the room. Only an invitee may decline, and only to the
// inviter: the room relays nothing to anyone else.
func (s *Service) decline(ctx context.Context, rm *room, from jid.JID, st, d *xmlstream.Element) []*xmlstream.Element {
	inviter, ok := rm.invited[from.Bare().String()]
	if !ok {
		s.reply(ctx, st, stanza.NotAcceptable, "there is no invitation to decline")
		return nil
	}
	if to := d.Attr("to"); to != "" {
		j, err := jid.Parse(to)
		if err != nil || !j.Bare().Equal(inviter.Bare()) {
			s.reply(ctx, st, stanza.NotAcceptable, "the invitation came from someone else")
			return nil
		}
	}
	delete(rm.invited, from.Bare().String())
	fwd := xmlstream.NewElement(NSUser, "decline", "from", from.Bare().String())
	if r := d.Child(NSUser, "reason"); r != nil {
		fwd.AddChild(xmlstream.NewElement(NSUser, "reason").AddText(r.Text()))
	}
	return []*xmlstream.Element{xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", rm.jid.String(),
		"to", inviter.String(), "id", stanza.NewID()).AddChild(xmlstream.NewElement(NSUser, "x").AddChild(fwd))}
}
