package muc

import (
	"context"
	"errors"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// presence handles presence to room@service/nick (XEP-0045 §7.2-§7.6):
// entering, changing presence or nick, and leaving.
func (s *Service) presence(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	typ := stanza.Type(st)
	if typ == "error" {
		s.gone(ctx, from, to, st)
		return
	}
	if typ != "available" && typ != "unavailable" {
		return // subscriptions and probes mean nothing to a room
	}
	nick := to.Resourcepart()
	if typ == "available" && strings.TrimSpace(nick) == "" {
		s.reply(ctx, st, stanza.JIDMalformed, "a nickname is required to enter a room")
		return
	}
	rm, created := s.lookup(to.Localpart(), typ == "available")
	if rm == nil {
		return
	}
	defer rm.mu.Unlock()
	o := rm.sessions[from.String()]
	switch {
	case typ == "unavailable":
		if o != nil {
			s.leave(ctx, rm, from, st)
		}
	case o == nil:
		s.enter(ctx, rm, created, from, nick, st)
	case o.nick != nick:
		s.changeNick(ctx, rm, o, from, nick, st)
	default:
		o.presence = st
		s.broadcastPresence(rm, o, "", nil)
		x := st.Child(NS, "x")
		if x == nil {
			s.deliver(o, rm.presenceOf(o, "", true, nil, "110"))
			return
		}
		// A session in the room joins again: its client believes it
		// dropped out (XEP-0410 §3.2) and waits for a whole join, up to
		// the subject. The user's other sessions see their presence
		// change.
		for _, other := range o.sessions {
			if !other.Equal(from) {
				s.send(other, addressed(rm.presenceOf(o, "", true, nil, "110"), other))
			}
		}
		s.welcome(ctx, rm, o, from, st, false)
	}
}

// enter lets the session from enter rm as nick (§7.2), or refuses it;
// created says the join is creating the room (§10.1.1).
func (s *Service) enter(ctx context.Context, rm *room, created bool, from jid.JID, nick string, st *xmlstream.Element) {
	bare := from.Bare()
	x := st.Child(NS, "x")
	if created {
		// Without the MUC element, the client speaks "groupchat 1.0"
		// and will never configure the room: it is an instant room at
		// once, not locked (§10.1.1).
		rm.locked = x != nil
		rm.affs[bare.String()] = Owner
		if s.save(ctx, rm) != nil {
			s.forget(rm)
			s.reply(ctx, st, stanza.InternalServerError, "the room could not be created")
			return
		}
	}
	aff := rm.affiliation(bare)
	existing := rm.occupants[nick]
	switch {
	case rm.locked && aff != Owner:
		s.reply(ctx, st, stanza.ItemNotFound, "the room is being created")
		return
	case aff == Outcast:
		s.reply(ctx, st, stanza.Forbidden, "you are banned from this room")
		return
	case rm.cfg.MembersOnly && aff == None:
		s.reply(ctx, st, stanza.RegistrationRequired, "the room is for members only")
		return
	case rm.cfg.Password != "" && aff != Owner && text(child(x, NS, "password")) != rm.cfg.Password:
		s.reply(ctx, st, stanza.NotAuthorized, "a password is required")
		return
	case existing != nil && !existing.bare.Equal(bare):
		s.reply(ctx, st, stanza.Conflict, "the nickname is in use")
		return
	case rm.nickHolder(nick) != "" && rm.nickHolder(nick) != bare.String():
		s.reply(ctx, st, stanza.Conflict, "the nickname is registered by someone else")
		return
	case existing == nil && rm.full(aff):
		s.route(ctx, fullRoomError(st))
		return
	}
	if existing != nil {
		// Another session of the same user joins the same nick: it
		// shares the occupant and learns the room; nobody else is told.
		existing.sessions = append(existing.sessions, from)
		rm.sessions[from.String()] = existing
		s.track(from, rm.name, true)
		s.welcome(ctx, rm, existing, from, st, false)
		return
	}
	o := &occupant{nick: nick, bare: bare, id: s.occupantID(rm.jid, bare), sessions: []jid.JID{from},
		role: rm.defaultRole(aff), presence: st}
	rm.occupants[nick] = o
	rm.sessions[from.String()] = o
	rm.rememberNick(nick, bare)
	s.track(from, rm.name, true)
	s.broadcastPresence(rm, o, "", nil)
	s.welcome(ctx, rm, o, from, st, created)
}

// full reports whether rm holds as many occupants as it may, for a user
// with aff to be one more: admins and owners are let in all the same
// (§7.2.10), so that filling a room cannot lock them out of it.
func (rm *room) full(aff string) bool {
	return rm.cfg.MaxUsers > 0 && len(rm.occupants) >= rm.cfg.MaxUsers && rank[aff] < rank[Admin]
}

// fullRoomError answers st, a presence that would make one occupant
// more in a full room, with service-unavailable of type wait, as
// XEP-0045's example of the occupant limit has it (§7.2.10): a place
// may free up, so the client may try again later.
func fullRoomError(st *xmlstream.Element) *xmlstream.Element {
	reply := stanza.ErrorReply(st, stanza.ServiceUnavailable, "the room is full")
	reply.Child(stanza.NSClient, "error").SetAttr("type", "wait")
	return reply
}

// welcome sends the session from of o, which just entered with the
// presence st, the other occupants' presence, its own (with status 110
// and st's id, by which clients match it to their join), the history
// and the subject, in the order of XEP-0045 §7.2.
func (s *Service) welcome(ctx context.Context, rm *room, o *occupant, from jid.JID, st *xmlstream.Element, created bool) {
	x := st.Child(NS, "x")
	for _, other := range rm.occupants {
		if other != o {
			s.send(from, addressed(rm.presenceOf(other, "", rm.sees(o), nil), from))
		}
	}
	var self *xmlstream.Element
	if created {
		self = rm.presenceOf(o, "", true, nil, rm.selfCodes("201")...)
	} else {
		self = rm.presenceOf(o, "", true, nil, rm.selfCodes()...)
	}
	self.SetAttr("id", st.Attr("id"))
	s.send(from, addressed(self, from))
	if !created {
		var h *xmlstream.Element
		if x != nil {
			h = x.Child(NS, "history")
		}
		s.sendHistory(ctx, rm, from, h)
	}
	subj := xmlstream.NewElement(stanza.NSClient, stanza.Message, "type", "groupchat", "id", stanza.NewID(),
		"from", rm.jid.String())
	if rm.subjectBy != "" {
		subj.SetAttr("from", rm.nickJID(rm.subjectBy).String())
	}
	subj.AddChild(xmlstream.NewElement(stanza.NSClient, "subject").AddText(rm.subject))
	if rm.subjectBy != "" && rm.subjectByID != "" {
		// XEP-0421 §5: every message from an occupant carries its id.
		subj.AddChild(xmlstream.NewElement(NSOccupantID, "occupant-id", "id", rm.subjectByID))
	}
	s.send(from, addressed(subj, from))
}

// goneConditions are the error conditions with which an occupant's
// client or server says that the occupant's session is not there.
var goneConditions = []string{"gone", stanza.InternalServerError, stanza.ItemNotFound, stanza.JIDMalformed,
	stanza.RecipientUnavailable, "redirect", stanza.RemoteServerNotFound, stanza.RemoteServerTimeout, stanza.ServiceUnavailable}

// gone removes the session from from the room to names when st, an error
// stanza from it, says that the session is not there: a client that went
// away without leaving, or a server that lost it. The others see it
// leave with status 333 (XEP-0045 §15.6.2), as with Prosody and ejabberd;
// without this it would stay in the room forever.
func (s *Service) gone(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	e := st.Child(st.Name.Space, "error")
	if e == nil || !slices.ContainsFunc(goneConditions, func(c string) bool { return e.Child(stanza.NSStanzas, c) != nil }) {
		return
	}
	rm, _ := s.lookup(to.Localpart(), false)
	if rm == nil {
		return
	}
	defer rm.mu.Unlock()
	if rm.sessions[from.String()] != nil {
		s.leave(ctx, rm, from, nil, "333")
	}
}

// leave removes the session real from rm (§7.14); st is its unavailable
// presence, or nil when the session ended; codes go with the presence
// that tells the others. A temporary room is destroyed when its last
// occupant has left; a locked room when one of its owners leaves.
func (s *Service) leave(ctx context.Context, rm *room, real jid.JID, st *xmlstream.Element, codes ...string) {
	o := rm.sessions[real.String()]
	if o == nil {
		return
	}
	s.removeSession(rm, o, real)
	if st == nil {
		st = xmlstream.NewElement(stanza.NSClient, stanza.Presence, "type", "unavailable")
	}
	if len(o.sessions) > 0 {
		// The user is still there through another session.
		s.send(real, addressed(rm.presenceOf(o, "unavailable", true, nil, "110"), real))
		return
	}
	o.presence = st
	delete(rm.occupants, o.nick)
	own := rm.presenceOf(o, "unavailable", true, nil, append(codes, "110")...)
	if rm.locked {
		// An owner left before configuring the room: it is destroyed,
		// and the owner told so with <destroy/> (§10.1.3); any other
		// owner in it is removed as by a destruction (§10.9).
		own = rm.presenceOf(o, "unavailable", true, destroyedItem, append(codes, "110")...)
		own.Child(NSUser, "x").AddChild(destroyNotice(nil))
		s.send(real, addressed(own, real))
		if s.destroyByOwner(ctx, rm, nil) != nil {
			s.destroyIfEmpty(ctx, rm)
		}
		return
	}
	s.broadcastPresence(rm, o, "unavailable", nil, codes...)
	s.send(real, addressed(own, real))
	s.destroyIfEmpty(ctx, rm)
}

// removeSession takes real out of o and of the room's session index.
func (s *Service) removeSession(rm *room, o *occupant, real jid.JID) {
	for i, j := range o.sessions {
		if j.Equal(real) {
			o.sessions = append(o.sessions[:i], o.sessions[i+1:]...)
			break
		}
	}
	if len(o.sessions) == 0 {
		o.left = real
	}
	delete(rm.sessions, real.String())
	s.track(real, rm.name, false)
}

// splitNick moves the session from of o, which has others, to the new
// nick alone: the user's other sessions keep theirs, so the room sees a
// new occupant, and only from is told of its change (§7.6, status 303).
func (s *Service) splitNick(rm *room, o *occupant, from jid.JID, nick string, st *xmlstream.Element) {
	s.send(from, addressed(rm.presenceOf(o, "unavailable", true, []string{"nick", nick}, "303", "110"), from))
	s.removeSession(rm, o, from)
	n := &occupant{nick: nick, bare: o.bare, id: o.id, sessions: []jid.JID{from}, role: o.role, presence: st}
	rm.occupants[nick] = n
	rm.sessions[from.String()] = n
	rm.rememberNick(nick, n.bare)
	s.track(from, rm.name, true)
	s.broadcastPresence(rm, n, "", nil)
	s.send(from, addressed(rm.presenceOf(o, "", rm.sees(n), nil), from))
	s.send(from, addressed(rm.presenceOf(n, "", true, nil, "110"), from))
}

// joinNick moves the session from of o to dest, another occupant of the
// same user, which it shares from then on, as it would on entering as
// dest's nick (§7.6): from sees its nick change (303) and dest, and the
// room sees o renamed to dest's nick, and then dest's presence, when
// from was o's last session.
func (s *Service) joinNick(rm *room, o, dest *occupant, from jid.JID) {
	item := []string{"nick", dest.nick}
	s.send(from, addressed(rm.presenceOf(o, "unavailable", true, item, "303", "110"), from))
	last := len(o.sessions) == 1
	if last {
		s.broadcastPresence(rm, o, "unavailable", item, "303")
	}
	s.removeSession(rm, o, from)
	if last {
		delete(rm.occupants, o.nick)
	} else {
		// o stays, with the user's other sessions: from sees it as
		// one more occupant.
		s.send(from, addressed(rm.presenceOf(o, "", rm.sees(dest), nil), from))
	}
	dest.sessions = append(dest.sessions, from)
	rm.sessions[from.String()] = dest
	s.track(from, rm.name, true)
	s.send(from, addressed(rm.presenceOf(dest, "", true, nil, "110"), from))
	if last {
		// A rename's 303 is followed by the new nick's presence (§7.6).
		s.broadcastPresence(rm, dest, "", nil)
	}
}

// destroyIfEmpty destroys a temporary room without occupants (§10.9).
func (s *Service) destroyIfEmpty(ctx context.Context, rm *room) {
	if len(rm.occupants) > 0 || rm.cfg.Persistent {
		return
	}
	s.destroy(ctx, rm)
}

// destroy deletes rm, whose lock the caller holds, from the store and
// then from the table, so that a new room of the same name is stored
// after the old one is deleted. Its messages still queued are written
// (and deleted with it) first: none of them can land in a new room of
// the same name.
func (s *Service) destroy(ctx context.Context, rm *room) {
	s.deleteStored(ctx, rm)
	s.forget(rm)
}

// deleteStored deletes rm, whose lock the caller holds, from the store,
// once its messages still queued are written (and so deleted with it).
// A room the store does not have is no failure.
func (s *Service) deleteStored(ctx context.Context, rm *room) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.w.flush(ctx); err != nil {
		s.cfg.Logger.Error("writing the archive of a room to delete", "room", rm.jid.String(), "err", err)
	}
	if err := s.cfg.Store.DeleteRoom(ctx, s.cfg.Domain, rm.name); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.cfg.Logger.Error("deleting a room", "room", rm.jid.String(), "err", err)
		return err
	}
	return nil
}

// changeNick renames the occupant o, one of whose sessions is from (§7.6);
// when o has other sessions, from alone takes the new nick. A nick the
// user is in the room with already is joined (joinNick), not in use.
func (s *Service) changeNick(ctx context.Context, rm *room, o *occupant, from jid.JID, nick string, st *xmlstream.Element) {
	if other := rm.occupants[nick]; other != nil {
		if !other.bare.Equal(o.bare) {
			s.reply(ctx, st, stanza.Conflict, "the nickname is in use")
			return
		}
		s.joinNick(rm, o, other, from)
		return
	}
	if holder := rm.nickHolder(nick); holder != "" && holder != o.bare.String() {
		s.reply(ctx, st, stanza.Conflict, "the nickname is registered by someone else")
		return
	}
	item := []string{"nick", nick}
	if len(o.sessions) > 1 {
		// The session becomes an occupant of its own: one more, as if
		// it entered (§7.2.10).
		if rm.full(rm.affiliation(o.bare)) {
			s.route(ctx, fullRoomError(st))
			return
		}
		s.splitNick(rm, o, from, nick, st)
		return
	}
	s.broadcastPresence(rm, o, "unavailable", item, "303")
	s.deliver(o, rm.presenceOf(o, "unavailable", true, item, "303", "110"))
	delete(rm.occupants, o.nick)
	o.nick, o.presence = nick, st
	rm.occupants[nick] = o
	rm.rememberNick(nick, o.bare)
	s.broadcastPresence(rm, o, "", nil)
	s.deliver(o, rm.presenceOf(o, "", true, nil, "110"))
}
