package muc

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// NSRegister is the namespace of in-band registration (XEP-0077), which
// XEP-0045 §7.10 uses to register with a room.
const NSRegister = "jabber:iq:register"

// formRegister is the FORM_TYPE of the registration form (§15.5.2).
const formRegister = "http://jabber.org/protocol/muc#register"

// register answers registration with rm (§7.10): a get returns the form,
// or <registered/> with the nickname already held; a submitted form
// reserves its muc#register_roomnick for the user and makes them a
// member. Registration is granted at once, except to outcasts, and in a
// members-only room to those not on its lists already (it would let
// anyone in); a nickname held by someone else is a conflict. A set with
// <remove/> cancels the registration (unregister).
func (s *Service) register(ctx context.Context, rm *room, iq router.IQ) *xmlstream.Element {
	bare := iq.From.Bare()
	key := bare.String()
	aff := rm.affiliation(bare)
	if aff == Outcast {
		return iq.Error(stanza.Forbidden, "you are banned from this room")
	}
	if aff == None && rm.cfg.MembersOnly {
		return iq.Error(stanza.RegistrationRequired, "the room is for members only: ask an admin to add you")
	}
	if iq.Type == "get" {
		q := xmlstream.NewElement(NSRegister, "query")
		if nick := rm.nicks[key]; nick != "" {
			q.AddChild(xmlstream.NewElement(NSRegister, "registered"))
			q.AddChild(xmlstream.NewElement(NSRegister, "username").AddText(nick))
			return iq.Result(q)
		}
		f := newForm("form", formRegister)
		f.field("muc#register_roomnick", "text-single", "")
		return iq.Result(q.AddChild(f.x))
	}
	if iq.Payload.Child(NSRegister, "remove") != nil {
		return s.unregister(ctx, rm, iq)
	}
	x := iq.Payload.Child(NSData, "x")
	if x == nil || x.Attr("type") != "submit" {
		return iq.Error(stanza.BadRequest, "submit the registration form")
	}
	nick := formValues(x)["muc#register_roomnick"]
	j, err := jid.New(rm.name, s.cfg.Domain, nick)
	if err != nil || nick == "" {
		return iq.Error(stanza.NotAcceptable, "the nickname is not valid")
	}
	// The nickname as it is compared: the resourcepart of the room JID
	// it makes (PRECIS OpaqueString, NFC), which is how it arrives in
	// the 'to' of an entering user's presence.
	nick = j.Resourcepart()
	if holder := rm.nickHolder(nick); holder != "" && holder != key {
		return iq.Error(stanza.Conflict, "the nickname is registered by someone else")
	}
	if o := rm.occupants[nick]; o != nil && !o.bare.Equal(bare) {
		return iq.Error(stanza.Conflict, "the nickname is in use")
	}
	oldNick, oldAff := rm.nicks[key], rm.affs[key]
	if oldAff == "" {
		// Registering makes the user a member of their own, also one
		// who is a member through their domain: a nickname is kept (and
		// stored) with the user's own affiliation.
		rm.setAffiliation(key, Member)
	}
	rm.nicks[key] = nick
	if rm.cfg.Persistent && s.save(ctx, rm) != nil {
		rm.setAffiliation(key, oldAff)
		if oldNick != "" {
			rm.nicks[key] = oldNick
		} else {
			delete(rm.nicks, key)
		}
		return iq.Error(stanza.InternalServerError, "the registration could not be stored")
	}
	if aff == None {
		// An occupant who became a member: the room sees the change
		// (§7.10).
		s.affiliationChanged(rm, key, Member, nil, nil)
	}
	return iq.Result(nil)
}

// unregister cancels the registration of the sender of iq with rm, as
// XEP-0077 §3.2 cancels a registration and Prosody does for a room: the
// registered nickname is free again and a member is no longer one; an
// admin or owner keeps that affiliation. A user with neither is not
// registered (registration-required).
func (s *Service) unregister(ctx context.Context, rm *room, iq router.IQ) *xmlstream.Element {
	key := iq.From.Bare().String()
	oldNick, oldAff := rm.nicks[key], rm.affs[key]
	if oldNick == "" && oldAff != Member {
		return iq.Error(stanza.RegistrationRequired, "you are not registered with this room")
	}
	delete(rm.nicks, key)
	if oldAff == Member {
		rm.setAffiliation(key, None)
	}
	if rm.cfg.Persistent && s.save(ctx, rm) != nil {
		if oldAff == Member {
			rm.affs[key] = Member
		}
		if oldNick != "" {
			rm.nicks[key] = oldNick
		}
		return iq.Error(stanza.InternalServerError, "the registration could not be cancelled")
	}
	if oldAff == Member {
		// An occupant who is no longer a member: the room sees the
		// change, and a members-only room removes them (§9.4, 321).
		s.affiliationChanged(rm, key, None, nil, nil)
	}
	return iq.Result(nil)
}

// nickHolder returns the bare JID that registered nick with rm, or "".
func (rm *room) nickHolder(nick string) string {
	for j, n := range rm.nicks {
		if n == nick {
			return j
		}
	}
	return ""
}
