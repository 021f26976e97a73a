package muc

import (
	"context"
	"slices"
	"strconv"

	"xmppd/dataform"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// owner answers muc#owner IQs (XEP-0045 §10): the configuration form,
// its submission (which also unlocks a new room: an empty submission
// makes an instant room), cancelling a new room, and destruction.
func (s *Service) owner(ctx context.Context, rm *room, iq router.IQ) *xmlstream.Element {
	if rm.affiliation(iq.From) != Owner {
		return iq.Error(stanza.Forbidden, "only owners may configure the room")
	}
	if iq.Type == "get" {
		return iq.Result(xmlstream.NewElement(NSOwner, "query").AddChild(s.configForm(rm)))
	}
	if d := iq.Payload.Child(NSOwner, "destroy"); d != nil {
		if s.destroyByOwner(ctx, rm, d) != nil {
			return iq.Error(stanza.InternalServerError, "the room could not be destroyed")
		}
		return iq.Result(nil)
	}
	x := iq.Payload.Child(NSData, "x")
	switch {
	case x == nil:
		return iq.Error(stanza.BadRequest, "a form or <destroy/> is required")
	case x.Attr("type") == "cancel":
		if rm.locked && s.destroyByOwner(ctx, rm, nil) != nil {
			return iq.Error(stanza.InternalServerError, "the room could not be destroyed")
		}
		return iq.Result(nil)
	case x.Attr("type") != "submit":
		return iq.Error(stanza.BadRequest, "the form must be submitted")
	}
	cfg, ok := s.applyForm(rm.cfg, formValues(x))
	if !ok {
		return iq.Error(stanza.NotAcceptable, "invalid configuration value")
	}
	if cfg.Persistent && !rm.cfg.Persistent && s.ownsMostRooms(iq.From.Bare().String()) {
		// Local policy bounds the rooms one user keeps (§10.1).
		return iq.Error(stanza.PolicyViolation, "you own as many persistent rooms as this service allows")
	}
	old, wasLocked := rm.cfg, rm.locked
	rm.cfg, rm.locked = cfg, false
	if s.save(ctx, rm) != nil {
		rm.cfg, rm.locked = old, wasLocked
		return iq.Error(stanza.InternalServerError, "the configuration could not be stored")
	}
	if !wasLocked {
		s.configChanged(rm, old)
	}
	s.destroyIfEmpty(ctx, rm)
	return iq.Result(nil)
}

// configChanged tells the occupants that the configuration of rm changed
// from old (§10.2.1): status 104, with 170 or 171 when archiving was
// turned on or off, and 172 or 173 when the room became non-anonymous or
// semi-anonymous. When it became members-only, those
// who are not members are removed with 322 (§9.4). When it became
// non-anonymous, those who could not see the real JIDs get them
// (revealJIDs).
func (s *Service) configChanged(rm *room, old RoomConfig) {
	x := xmlstream.NewElement(NSUser, "x").AddChild(xmlstream.NewElement(NSUser, "status", "code", "104"))
	if old.Unarchived != rm.cfg.Unarchived {
		code := "170"
		if rm.cfg.Unarchived {
			code = "171"
		}
		x.AddChild(xmlstream.NewElement(NSUser, "status", "code", code))
	}
	if old.WhoIs != rm.cfg.WhoIs {
		code := "173"
		if rm.cfg.WhoIs == "anyone" {
			code = "172"
		}
		x.AddChild(xmlstream.NewElement(NSUser, "status", "code", code))
	}
	s.broadcast(rm, xmlstream.NewElement(stanza.NSClient, stanza.Message, "type", "groupchat",
		"from", rm.jid.String(), "id", stanza.NewID()).AddChild(x))
	if rm.cfg.MembersOnly && !old.MembersOnly {
		for _, o := range rm.occupants {
			if rm.affiliation(o.bare) == None {
				s.removeOccupant(rm, o, "322", nil, nil)
			}
		}
	}
	if old.WhoIs != "anyone" && rm.cfg.WhoIs == "anyone" {
		for _, o := range rm.occupants {
			if o.role != Moderator { // moderators saw the JIDs already
				s.revealJIDs(rm, o)
			}
		}
	}
}

// configForm is the muc#roomconfig form with rm's configuration (§10.2).
func (s *Service) configForm(rm *room) *xmlstream.Element {
	f := newForm("form", NSRoomConfig)
	c := rm.cfg
	f.field("muc#roomconfig_roomname", "text-single", c.Name)
	f.field("muc#roomconfig_roomdesc", "text-single", c.Description)
	f.field("muc#roomconfig_persistentroom", "boolean", boolValue(c.Persistent))
	f.field("muc#roomconfig_publicroom", "boolean", boolValue(c.Public))
	f.field("muc#roomconfig_membersonly", "boolean", boolValue(c.MembersOnly))
	f.field("muc#roomconfig_moderatedroom", "boolean", boolValue(c.Moderated))
	f.field("muc#roomconfig_changesubject", "boolean", boolValue(c.ChangeSubject))
	f.field("muc#roomconfig_allowinvites", "boolean", boolValue(c.AllowInvites))
	f.field("muc#roomconfig_forwardmentions", "boolean", boolValue(!c.QuietMentions))
	f.field("muc#roomconfig_passwordprotectedroom", "boolean", boolValue(c.Password != ""))
	f.field("muc#roomconfig_roomsecret", "text-private", c.Password)
	maxUsers := "none"
	if c.MaxUsers > 0 {
		maxUsers = strconv.Itoa(c.MaxUsers)
	}
	f.options("muc#roomconfig_maxusers", maxUsers, "10", "20", "50", "100", strconv.Itoa(s.cfg.MaxUsers))
	f.options("muc#roomconfig_whois", c.WhoIs, "moderators", "anyone")
	f.options("muc#roomconfig_allowpm", c.allowPM(), allowPMValues...)
	f.field("muc#maxhistoryfetch", "text-single", strconv.Itoa(c.historyLength(s.cfg.History)))
	f.field("muc#roomconfig_enablearchiving", "boolean", boolValue(!c.Unarchived))
	return f.x
}

// applyForm returns cfg changed by the submitted values; fields not
// submitted keep their values.
func (s *Service) applyForm(cfg RoomConfig, v map[string]string) (RoomConfig, bool) {
	ok := true
	boolean := func(name string, p *bool) {
		if val, sent := v[name]; sent {
			b, valid := dataform.ParseBool(val)
			ok = ok && valid
			*p = b
		}
	}
	if val, sent := v["muc#roomconfig_roomname"]; sent {
		cfg.Name = val
	}
	if val, sent := v["muc#roomconfig_roomdesc"]; sent {
		cfg.Description = val
	}
	boolean("muc#roomconfig_persistentroom", &cfg.Persistent)
	boolean("muc#roomconfig_publicroom", &cfg.Public)
	boolean("muc#roomconfig_membersonly", &cfg.MembersOnly)
	boolean("muc#roomconfig_moderatedroom", &cfg.Moderated)
	boolean("muc#roomconfig_changesubject", &cfg.ChangeSubject)
	boolean("muc#roomconfig_allowinvites", &cfg.AllowInvites)
	forward := !cfg.QuietMentions
	boolean("muc#roomconfig_forwardmentions", &forward)
	cfg.QuietMentions = !forward
	// A password submitted without the boolean protects the room with
	// it; the boolean, when submitted, decides.
	protected := cfg.Password != ""
	if val, sent := v["muc#roomconfig_roomsecret"]; sent {
		cfg.Password, protected = val, val != ""
	}
	boolean("muc#roomconfig_passwordprotectedroom", &protected)
	if !protected {
		cfg.Password = ""
	} else if cfg.Password == "" {
		ok = false // protected without a password
	}
	if val, sent := v["muc#roomconfig_maxusers"]; sent {
		n, valid := parseMaxUsers(val)
		ok = ok && valid
		if n == 0 || n > s.cfg.MaxUsers {
			n = s.cfg.MaxUsers
		}
		cfg.MaxUsers = n
	}
	if val, sent := v["muc#roomconfig_whois"]; sent {
		ok = ok && (val == "moderators" || val == "anyone")
		cfg.WhoIs = val
	}
	if val, sent := v["muc#roomconfig_allowpm"]; sent {
		ok = ok && slices.Contains(allowPMValues, val)
		cfg.AllowPM = val
	}
	if val, sent := v["muc#maxhistoryfetch"]; sent {
		n, err := strconv.Atoi(val)
		ok = ok && err == nil && n >= 0
		n = min(max(n, 0), s.cfg.History)
		cfg.History = &n
	}
	archiving := !cfg.Unarchived
	boolean("muc#roomconfig_enablearchiving", &archiving)
	cfg.Unarchived = !archiving
	return cfg, ok
}

// destroyNotice is the muc#user <destroy/> that tells occupants of the
// owner's <destroy/> d (§10.9; nil for none): the alternate venue, the
// reason and the venue's password, which their clients need to enter it.
func destroyNotice(d *xmlstream.Element) *xmlstream.Element {
	dest := xmlstream.NewElement(NSUser, "destroy")
	if d == nil {
		return dest
	}
	dest.SetAttr("jid", d.Attr("jid"))
	for _, name := range []string{"reason", "password"} {
		if c := d.Child(NSOwner, name); c != nil {
			dest.AddChild(xmlstream.NewElement(NSUser, name).AddText(c.Text()))
		}
	}
	return dest
}

// destroyedItem is the muc#user item of the occupants of a destroyed
// room: no affiliation any more, as no role (§10.9).
var destroyedItem = []string{"affiliation", None}

// destroyByOwner destroys rm (§10.9): the room is deleted from the
// store, then every occupant gets its own unavailable presence (110) with
// <destroy/> d (may be nil). When the store fails, nothing changes.
func (s *Service) destroyByOwner(ctx context.Context, rm *room, d *xmlstream.Element) error {
	if err := s.deleteStored(ctx, rm); err != nil {
		return err
	}
	for _, o := range rm.occupants {
		p := rm.presenceOf(o, "unavailable", false, destroyedItem, "110") // each gets its own
		p.Child(NSUser, "x").AddChild(destroyNotice(d))
		s.deliver(o, p)
		for _, j := range o.sessions {
			s.track(j, rm.name, false)
		}
	}
	rm.occupants, rm.sessions = map[string]*occupant{}, map[string]*occupant{}
	s.forget(rm)
	return nil
}
