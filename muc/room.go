package muc

import (
	"maps"
	"sync"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Affiliations and roles (XEP-0045 §5).
const (
	Owner   = "owner"
	Admin   = "admin"
	Member  = "member"
	Outcast = "outcast"
	None    = "none"

	Moderator   = "moderator"
	Participant = "participant"
	Visitor     = "visitor"
)

// affiliations and roles are the values XEP-0045 defines (§5).
var (
	affiliations = []string{Owner, Admin, Member, Outcast, None}
	roles        = []string{Moderator, Participant, Visitor, None}
)

// rank orders affiliations and roles from least to most powerful.
var rank = map[string]int{Outcast: -1, None: 0, Member: 1, Admin: 2, Owner: 3,
	Visitor: 1, Participant: 2, Moderator: 3}

// room is one room. Its lock guards every field.
type room struct {
	mu   sync.Mutex
	jid  jid.JID // bare
	name string
	cfg  RoomConfig
	// subject and subjectBy (a nick) are sent to each joining occupant.
	subject, subjectBy string
	// subjectByID is the XEP-0421 id of the occupant who set the
	// subject, sent with it; "" when unknown.
	subjectByID string
	// locked is true from creation until the owner configures the room
	// (XEP-0045 §10.1); only owners may enter it meanwhile. A room
	// created without the MUC element (groupchat 1.0) is never locked.
	locked bool
	// gone is true once the room is destroyed and out of the table.
	gone      bool
	affs      map[string]string    // bare JID -> owner, admin, member, outcast
	nicks     map[string]string    // bare JID -> registered nick (§7.10)
	occupants map[string]*occupant // by nick
	sessions  map[string]*occupant // by real full JID
	// lastNicks maps the nicks affiliated users entered with to their
	// bare JIDs, to resolve mentions of occupants who left (XEP-0452).
	lastNicks map[string]jid.JID
	// invited maps invitees' bare JIDs to who invited them, so that a
	// decline goes back to the inviter and nobody else (XEP-0045 §7.8.2).
	invited map[string]jid.JID
	// pendingIQs are the IQs forwarded to occupants, by the room's id
	// (occupantiq.go).
	pendingIQs map[string]pendingIQ
	// sentPrivates are the private messages routed to occupants, for
	// the errors that come back for them (bounce.go).
	sentPrivates map[string]sentPrivate
	// vcard is the room's vCard (XEP-0054), serialised; nil for none.
	vcard []byte
	// avatars are the XEP-0153 hashes of vcard's photos, which disco#info
	// tells (XEP-0486).
	avatars []string
	// recent are the last messages of an unarchived room, oldest first,
	// for the history on join.
	recent []Message
}

// occupant is one nick in a room: one user, with one or more sessions.
type occupant struct {
	nick     string
	bare     jid.JID
	id       string // XEP-0421 occupant id
	sessions []jid.JID
	left     jid.JID // the last session to leave, for the presence that says so
	role     string
	// presence is the user's last presence to the room, as sent.
	presence *xmlstream.Element
	// flood limits the messages the occupant sends (flood.go).
	flood bucket
}

func (s *Service) newRoom(name string) (*room, error) {
	j, err := jid.New(name, s.cfg.Domain, "")
	if err != nil {
		return nil, err
	}
	return &room{jid: j, name: j.Localpart(), affs: map[string]string{}, nicks: map[string]string{},
		occupants: map[string]*occupant{}, sessions: map[string]*occupant{},
		lastNicks: map[string]jid.JID{}, invited: map[string]jid.JID{}, pendingIQs: map[string]pendingIQ{},
		sentPrivates: map[string]sentPrivate{}, cfg: RoomConfig{Public: true, WhoIs: "moderators", MaxUsers: s.cfg.MaxUsers}}, nil
}

// stored is the room as the store keeps it.
func (rm *room) stored() StoredRoom {
	return StoredRoom{Name: rm.name, Config: rm.cfg, Subject: rm.subject, SubjectBy: rm.subjectBy, SubjectByID: rm.subjectByID,
		Affiliations: maps.Clone(rm.affs), Nicks: maps.Clone(rm.nicks), VCard: rm.vcard}
}

// affiliation returns the affiliation of the bare JID j.
func (rm *room) affiliation(j jid.JID) string {
	if a := rm.affs[j.Bare().String()]; a != "" {
		return a
	}
	if j.Localpart() != "" {
		// A whole domain may be banned, or made members (§9.1): a
		// user's own affiliation comes first.
		if a := rm.affs[j.Domainpart()]; a != "" {
			return a
		}
	}
	return None
}

// defaultRole is the role an affiliation gets on entering (§5.1.2).
func (rm *room) defaultRole(aff string) string {
	switch {
	case aff == Owner || aff == Admin:
		return Moderator
	case rm.cfg.Moderated && aff == None:
		return Visitor
	}
	return Participant
}

// nickJID returns room@service/nick.
func (rm *room) nickJID(nick string) jid.JID {
	j, _ := rm.jid.WithResource(nick)
	return j
}

// sees reports whether o may see the real JIDs of occupants (§5.2.1).
func (rm *room) sees(o *occupant) bool { return rm.cfg.WhoIs == "anyone" || o.role == Moderator }

// presenceOf returns o's presence as the room broadcasts it: from
// room/nick with o's status, role and affiliation, with o's real JID
// when withJID, and with the status codes. typ is "" or "unavailable".
// item holds name, value pairs for the muc#user item: attributes, except
// "actor" (a nick) and "reason", which become its <actor/> and <reason/>
// (XEP-0045 §8.2, §9.1); empty values are left out.
func (rm *room) presenceOf(o *occupant, typ string, withJID bool, item []string, codes ...string) *xmlstream.Element {
	p := xmlstream.NewElement(stanza.NSClient, stanza.Presence, "from", rm.nickJID(o.nick).String(), "type", typ)
	if typ == "" && o.presence != nil {
		for _, c := range o.presence.ChildElements() {
			if c.Name.Space != NS && c.Name.Space != NSUser && c.Name.Space != NSOccupantID {
				p.AddChild(c)
			}
		}
	}
	if typ == "unavailable" && o.presence != nil && stanza.Type(o.presence) == "unavailable" {
		if st := o.presence.Child(o.presence.Name.Space, "status"); st != nil {
			p.AddChild(st)
		}
	}
	it := xmlstream.NewElement(NSUser, "item", "affiliation", rm.affiliation(o.bare), "role", o.role)
	if typ == "unavailable" {
		it.SetAttr("role", None)
	}
	switch {
	case !withJID:
	case len(o.sessions) > 0:
		it.SetAttr("jid", o.sessions[0].String())
	case o.left.String() != "":
		it.SetAttr("jid", o.left.String())
	}
	for i := 0; i+1 < len(item); i += 2 {
		switch k, v := item[i], item[i+1]; {
		case v == "":
		case k == "actor":
			it.AddChild(xmlstream.NewElement(NSUser, "actor", "nick", v))
		case k == "reason":
			it.AddChild(xmlstream.NewElement(NSUser, "reason").AddText(v))
		default:
			it.SetAttr(k, v)
		}
	}
	x := xmlstream.NewElement(NSUser, "x").AddChild(it)
	for _, c := range codes {
		x.AddChild(xmlstream.NewElement(NSUser, "status", "code", c))
	}
	return p.AddChild(x).AddChild(occupantIDElement(o))
}

// selfCodes are the status codes of an occupant's own presence (§7.2.2).
func (rm *room) selfCodes(extra ...string) []string {
	codes := []string{"110"}
	if rm.cfg.WhoIs == "anyone" {
		codes = append(codes, "100")
	}
	if !rm.cfg.Unarchived {
		codes = append(codes, "170") // the room is archived
	}
	return append(codes, extra...)
}

// addressed returns a copy of st to to that shares st's children, which
// must not change afterwards: a broadcast builds each stanza once.
func addressed(st *xmlstream.Element, to jid.JID) *xmlstream.Element {
	return st.Readdressed("to", to.String())
}

// broadcastPresence sends o's presence to every occupant but o, as each
// may see it.
func (s *Service) broadcastPresence(rm *room, o *occupant, typ string, item []string, codes ...string) {
	var plain, full *xmlstream.Element
	from := rm.nickJID(o.nick)
	for _, other := range rm.occupants {
		if other == o {
			continue
		}
		var p *xmlstream.Element
		if rm.sees(other) {
			if full == nil {
				full = rm.presenceOf(o, typ, true, item, codes...)
				full.EncodeChildren()
			}
			p = full
		} else {
			if plain == nil {
				plain = rm.presenceOf(o, typ, false, item, codes...)
				plain.EncodeChildren()
			}
			p = plain
		}
		s.deliverFrom(from, other, p)
	}
}

// deliver queues st for every session of o.
func (s *Service) deliver(o *occupant, st *xmlstream.Element) {
	s.deliverFrom(sender(st), o, st)
}

// deliverFrom is deliver for st from from, its 'from'.
func (s *Service) deliverFrom(from jid.JID, o *occupant, st *xmlstream.Element) {
	for _, j := range o.sessions {
		s.sendFrom(from, j, addressed(st, j))
	}
}

// broadcast queues st for every session of every occupant; its children
// are serialised once for all of them.
func (s *Service) broadcast(rm *room, st *xmlstream.Element) {
	st.EncodeChildren()
	from := sender(st)
	for _, o := range rm.occupants {
		s.deliverFrom(from, o, st)
	}
}

// setAffiliation records aff for the bare JID j; none removes it. A
// user who is no longer affiliated, or banned, loses their registered
// nickname.
func (rm *room) setAffiliation(j string, aff string) {
	if aff == None || aff == "" {
		delete(rm.affs, j)
	} else {
		rm.affs[j] = aff
	}
	if aff == None || aff == "" || aff == Outcast {
		delete(rm.nicks, j)
	}
}

// owners counts the room's owners.
func (rm *room) owners() int {
	n := 0
	for _, a := range rm.affs {
		if a == Owner {
			n++
		}
	}
	return n
}

// child is e.Child(space, local), or nil when e is nil.
func child(e *xmlstream.Element, space, local string) *xmlstream.Element {
	if e == nil {
		return nil
	}
	return e.Child(space, local)
}

// text is e.Text(), or "" when e is nil.
func text(e *xmlstream.Element) string {
	if e == nil {
		return ""
	}
	return e.Text()
}
