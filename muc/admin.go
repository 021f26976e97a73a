package muc

import (
	"context"
	"maps"
	"slices"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// denial is a refused admin change: the stanza error condition.
type denial string

// admin answers muc#admin IQs (XEP-0045 §8, §9): role changes by nick
// (kick, voice, moderator), affiliation changes by JID (ban, member,
// admin, owner), and the lists of either. A set changes all its items or
// none. It returns the answer to route once the room's lock is released,
// nil when it was sent already, and the invitations of new members
// (§9.5) to route after it.
func (s *Service) admin(ctx context.Context, rm *room, iq router.IQ) (*xmlstream.Element, []*xmlstream.Element) {
	var items []*xmlstream.Element
	for _, it := range iq.Payload.ChildElements() {
		if it.Name.Space == NSAdmin && it.Name.Local == "item" {
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return iq.Error(stanza.BadRequest, "an item is required"), nil
	}
	actor := rm.sessions[iq.From.String()]
	actorAff := rm.affiliation(iq.From)
	if iq.Type == "get" {
		return s.adminList(rm, iq, items[0], actor, actorAff), nil
	}
	type change struct {
		target *occupant // role change
		role   string
		bare   string // affiliation change
		aff    string
		why    []string // actor and reason, for the presence (§8.2, §9.1)
		// invitee is a user new to the member list, whom a members-only
		// room invites (§9.5) with reason, the item's <reason/>.
		invitee *jid.JID
		reason  *xmlstream.Element
	}
	var changes []change
	for _, it := range items {
		var c change
		var d denial
		c.why = []string{"reason", text(it.Child(NSAdmin, "reason"))}
		if actor != nil {
			c.why = append(c.why, "actor", actor.nick)
		}
		if c.role = it.Attr("role"); c.role != "" {
			c.target = rm.occupants[it.Attr("nick")]
			if c.target == nil {
				return iq.Error(stanza.ItemNotFound, "no occupant with that nickname"), nil
			}
			d = rm.mayChangeRole(actor, actorAff, c.target, c.role)
		} else if c.aff = it.Attr("affiliation"); c.aff != "" {
			j, cond, why := rm.itemJID(it)
			if cond != "" {
				return iq.Error(string(cond), why), nil
			}
			c.bare = j.Bare().String()
			if j.Localpart() == "" && c.aff != Outcast && c.aff != Member && c.aff != None {
				// A whole domain is banned or made members, never given
				// the room to run.
				return iq.Error(stanza.NotAcceptable, "a domain can only be banned or made members"), nil
			}
			if c.aff == Outcast && j.Bare().Equal(iq.From.Bare()) && rank[actorAff] >= rank[Admin] {
				return iq.Error(stanza.Conflict, "you cannot ban yourself"), nil // §9.1
			}
			d = rm.mayChangeAffiliation(actorAff, rm.affiliation(j), c.aff)
			if c.aff == Member && j.Localpart() != "" && rank[rm.affiliation(j)] < rank[Member] {
				bare := j.Bare()
				c.invitee, c.reason = &bare, it.Child(NSAdmin, "reason")
			}
		} else {
			d = stanza.BadRequest
		}
		if d != "" {
			return iq.Error(string(d), ""), nil
		}
		changes = append(changes, c)
	}
	// setAffiliation may drop registered nicknames too: a refused or
	// unstored change restores both.
	before, nicksBefore := maps.Clone(rm.affs), maps.Clone(rm.nicks)
	affChanged := false
	for _, c := range changes {
		if c.aff != "" {
			rm.setAffiliation(c.bare, c.aff)
			affChanged = true
		}
	}
	if affChanged {
		if rm.owners() == 0 {
			rm.affs, rm.nicks = before, nicksBefore
			return iq.Error(stanza.Conflict, "the room must keep an owner"), nil
		}
		if s.save(ctx, rm) != nil {
			rm.affs, rm.nicks = before, nicksBefore
			return iq.Error(stanza.InternalServerError, "the change could not be stored"), nil
		}
	}
	// The actor learns of its success before the room learns of the
	// changes (§8.2-§8.5, §9.1-§9.8): after an occupant removed is told
	// so, before what the others are told, which waits in held.
	var held []func()
	for _, c := range changes {
		if c.aff != "" {
			s.affiliationChanged(rm, c.bare, c.aff, c.why, &held)
		} else {
			s.roleChanged(rm, c.target, c.role, c.why, &held)
		}
	}
	res := iq.Result(nil)
	if s.send(iq.From, res) {
		res = nil
	}
	for _, tell := range held {
		tell()
	}
	var invitations []*xmlstream.Element
	for _, c := range changes {
		if c.invitee != nil && rm.cfg.MembersOnly && rm.affiliation(*c.invitee) == Member && !rm.present(*c.invitee) {
			invitations = append(invitations, rm.invitation(*c.invitee, iq.From.Bare(), c.reason))
			rm.rememberInvite(*c.invitee, iq.From)
		}
	}
	s.destroyIfEmpty(ctx, rm)
	return res, invitations
}

// itemJID returns the user an affiliation item names: its jid, or else
// the bare JID of the occupant its nick names, as Prosody and ejabberd
// take it, for clients that ban or affiliate an occupant by nick
// (§9.1). It returns the error condition and text when there is none.
func (rm *room) itemJID(it *xmlstream.Element) (jid.JID, denial, string) {
	if s := it.Attr("jid"); s != "" {
		j, err := jid.Parse(s)
		if err != nil {
			return jid.JID{}, stanza.JIDMalformed, "the item's jid is not valid"
		}
		return j, "", ""
	}
	nick := it.Attr("nick")
	if nick == "" {
		return jid.JID{}, stanza.BadRequest, "the item needs a jid or a nick"
	}
	o := rm.occupants[nick]
	if o == nil {
		return jid.JID{}, stanza.ItemNotFound, "no occupant with that nickname"
	}
	return o.bare, "", ""
}

// mayChangeRole says whether actor may give target role (§8.2-§8.5,
// §9.6-§9.7); "" means yes.
func (rm *room) mayChangeRole(actor *occupant, actorAff string, target *occupant, role string) denial {
	targetAff := rm.affiliation(target.bare)
	switch {
	case actor == nil || actor.role != Moderator:
		return stanza.Forbidden
	case role != Moderator && role != Participant && role != Visitor && role != None:
		return stanza.BadRequest
	case role == Moderator || target.role == Moderator:
		// Granting and revoking moderator is for admins and owners.
		if rank[actorAff] < rank[Admin] || (role != Moderator && rank[targetAff] >= rank[Admin]) {
			return stanza.NotAllowed
		}
	case rank[targetAff] >= rank[Admin] || rank[targetAff] > rank[actorAff]:
		return stanza.NotAllowed
	case role == Visitor && target.role != Visitor && rank[targetAff] >= rank[actorAff]:
		// Voice is not revoked from an equal (§8.4), though an equal
		// may be kicked (§8.2).
		return stanza.NotAllowed
	}
	return ""
}

// mayChangeAffiliation says whether an actor with actorAff may change
// from to to (§9.1-§9.5, §10.3-§10.7); "" means yes.
func (rm *room) mayChangeAffiliation(actorAff, from, to string) denial {
	switch {
	case rank[actorAff] < rank[Admin]:
		return stanza.Forbidden
	case to != Owner && to != Admin && to != Member && to != None && to != Outcast:
		return stanza.BadRequest
	case actorAff == Admin && (rank[from] >= rank[Admin] || rank[to] >= rank[Admin]):
		return stanza.NotAllowed
	}
	return ""
}

// roleChanged applies a new role to o and tells the room (§8.2-§8.5);
// why is the actor and reason of the change, for the presence's item. A
// new moderator of a semi-anonymous room learns the real JIDs
// (revealJIDs).
// With held, what the room is told waits there (hold).
func (s *Service) roleChanged(rm *room, o *occupant, role string, why []string, held *[]func()) {
	if rm.occupants[o.nick] != o {
		return // removed by an earlier item
	}
	if role == None {
		s.removeOccupant(rm, o, "307", why, held)
		return
	}
	saw := rm.sees(o)
	o.role = role
	reveal := !saw && rm.sees(o)
	others, self := s.presenceBroadcast(rm, o, "", why), rm.presenceOf(o, "", true, why, "110")
	hold(held, func() {
		others()
		s.deliver(o, self)
		if reveal {
			s.revealJIDs(rm, o)
		}
	})
}

// revealJIDs sends o, who may now see the occupants' real JIDs (§5.2.1):
// a new moderator of a semi-anonymous room, or any occupant of a room
// made non-anonymous, the presence of every other occupant again, with
// its JID. Clients learn real JIDs from presence alone, and need them
// (OMEMO encrypts to them); Prosody does the same for a new moderator.
func (s *Service) revealJIDs(rm *room, o *occupant) {
	for _, other := range rm.occupants {
		if other != o {
			s.deliver(o, rm.presenceOf(other, "", true, nil))
		}
	}
}

// affiliationChanged applies the new affiliation of the bare JID to its
// occupant, if there is one: banned (301) or, in a members-only room,
// no longer a member (321), it is removed; otherwise its role follows.
func (s *Service) affiliationChanged(rm *room, bare, aff string, why []string, held *[]func()) {
	for _, o := range rm.occupants {
		// A domain's affiliation is that of its users without one of
		// their own.
		if o.bare.String() != bare && (o.bare.Domainpart() != bare || rm.affs[o.bare.String()] != "") {
			continue
		}
		// What the occupant has now: a user whose own affiliation went
		// has their domain's.
		switch aff := rm.affiliation(o.bare); {
		case aff == Outcast:
			s.removeOccupant(rm, o, "301", why, held)
		case rm.cfg.MembersOnly && aff == None:
			s.removeOccupant(rm, o, "321", why, held)
		default:
			s.roleChanged(rm, o, rm.defaultRole(aff), why, held)
		}
	}
}

// removeOccupant removes o from rm with the status code: its sessions
// get its unavailable presence, with 110, and then the others (§8.2):
// at once, or, with held, when held runs (hold); why is the actor and
// reason for the presence's item, or nil.
func (s *Service) removeOccupant(rm *room, o *occupant, code string, why []string, held *[]func()) {
	o.presence = nil
	s.deliver(o, rm.presenceOf(o, "unavailable", true, why, code, "110"))
	hold(held, s.presenceBroadcast(rm, o, "unavailable", why, code))
	for _, j := range o.sessions {
		delete(rm.sessions, j.String())
		s.track(j, rm.name, false)
	}
	o.sessions = nil
	delete(rm.occupants, o.nick)
}

// hold runs tell now, or, with held, adds it to held to run later.
func hold(held *[]func(), tell func()) {
	if held == nil {
		tell()
		return
	}
	*held = append(*held, tell)
}

// presenceBroadcast builds o's presence as broadcastPresence sends it and
// returns the function that sends it to every occupant but o that rm has
// when it runs, as each may see it: an occupant removed meanwhile gets
// nothing more.
func (s *Service) presenceBroadcast(rm *room, o *occupant, typ string, item []string, codes ...string) func() {
	full, plain := rm.presenceOf(o, typ, true, item, codes...), rm.presenceOf(o, typ, false, item, codes...)
	full.EncodeChildren()
	plain.EncodeChildren()
	return func() {
		for _, other := range rm.occupants {
			switch {
			case other == o:
			case rm.sees(other):
				s.deliver(other, full)
			default:
				s.deliver(other, plain)
			}
		}
	}
}

// adminList answers a request for the occupants with a role, or the
// JIDs with an affiliation (§8.5, §9.5, §9.8, §10.5).
func (s *Service) adminList(rm *room, iq router.IQ, it *xmlstream.Element, actor *occupant, actorAff string) *xmlstream.Element {
	q := xmlstream.NewElement(NSAdmin, "query")
	if aff := it.Attr("affiliation"); aff != "" {
		if !slices.Contains(affiliations, aff) {
			return iq.Error(stanza.BadRequest, "no such affiliation")
		}
		if rank[actorAff] < rank[Admin] && !rm.membersSeeList(actorAff, aff) {
			return iq.Error(stanza.Forbidden, "only admins and owners see the lists")
		}
		for j, a := range rm.affs {
			if a == aff {
				q.AddChild(xmlstream.NewElement(NSAdmin, "item", "affiliation", a, "jid", j))
			}
		}
		return iq.Result(q)
	}
	role := it.Attr("role")
	if role == "" {
		return iq.Error(stanza.BadRequest, "the item needs a role or an affiliation")
	}
	if !slices.Contains(roles, role) {
		return iq.Error(stanza.BadRequest, "no such role")
	}
	// Roles are the occupants', but an admin or owner reads them from
	// outside the room too: the moderator list is theirs by affiliation
	// (§9.8, §5.2.1), and in the room they are its moderators.
	if (actor == nil || actor.role != Moderator) && rank[actorAff] < rank[Admin] {
		return iq.Error(stanza.Forbidden, "only moderators, admins and owners see the occupants by role")
	}
	for _, o := range rm.occupants {
		if o.role == role {
			q.AddChild(xmlstream.NewElement(NSAdmin, "item", "nick", o.nick, "role", o.role,
				"affiliation", rm.affiliation(o.bare), "jid", o.bare.String()))
		}
	}
	return iq.Result(q)
}

// membersSeeList reports whether a user with actorAff may read the list
// of aff: in a members-only room where everyone sees everyone's JID,
// members read the lists of members, admins and owners (§9.5), which
// clients need to encrypt to everyone in the room (OMEMO).
func (rm *room) membersSeeList(actorAff, aff string) bool {
	return rm.cfg.MembersOnly && rm.cfg.WhoIs == "anyone" && rank[actorAff] >= rank[Member] && aff != Outcast && aff != None
}
