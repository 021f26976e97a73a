package muc

import (
	"context"
	"slices"
	"strconv"

	"mellium.im/xmpp/jid"

	"xmppd/mam"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// iqOf returns the router's view of an IQ get or set, or false (after
// answering, if needed) when st is not one with a single payload.
func (s *Service) iqOf(ctx context.Context, from, to jid.JID, st *xmlstream.Element) (router.IQ, bool) {
	typ := st.Attr("type")
	if typ != "get" && typ != "set" {
		return router.IQ{}, false // results and errors answer nothing we asked
	}
	children := st.ChildElements()
	if len(children) != 1 {
		s.reply(ctx, st, stanza.BadRequest, "an IQ get or set must have exactly one child element")
		return router.IQ{}, false
	}
	return router.IQ{From: from, To: to, Type: typ, Payload: children[0], Stanza: st}, true
}

// serviceIQ answers IQs to the service itself: disco#info and
// disco#items listing the public rooms (XEP-0045 §6.1-§6.3), and ping.
func (s *Service) serviceIQ(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	iq, ok := s.iqOf(ctx, from, to, st)
	if !ok {
		return
	}
	var res *xmlstream.Element
	switch p := iq.Payload; {
	case iq.Type == "get" && p.Name.Space == NSDiscoInfo && p.Name.Local == "query" && p.Attr("node") == "":
		q := xmlstream.NewElement(NSDiscoInfo, "query").
			AddChild(xmlstream.NewElement(NSDiscoInfo, "identity", "category", "conference", "type", "text", "name", "Chatrooms"))
		for _, f := range []string{NS, NSDiscoInfo, NSDiscoItems, NSPing} {
			q.AddChild(xmlstream.NewElement(NSDiscoInfo, "feature", "var", f))
		}
		res = iq.Result(q)
	case iq.Type == "get" && p.Name.Space == NSDiscoItems && p.Name.Local == "query" && p.Attr("node") == "":
		q := xmlstream.NewElement(NSDiscoItems, "query")
		for _, it := range s.publicRooms() {
			q.AddChild(xmlstream.NewElement(NSDiscoItems, "item", "jid", it[0], "name", it[1]))
		}
		res = iq.Result(q)
	case iq.Type == "get" && p.Name.Space == NSPing:
		res = iq.Result(nil)
	default:
		res = iq.Error(stanza.ServiceUnavailable, "")
	}
	s.r.Route(ctx, res)
}

// publicRooms returns the JID and name of every public, unlocked room,
// sorted by JID. Each room is locked in turn, never two at once.
func (s *Service) publicRooms() [][2]string {
	var items [][2]string
	s.eachRoom(func(rm *room) {
		if !rm.gone && !rm.locked && rm.cfg.Public {
			name := rm.cfg.Name
			if name == "" {
				name = rm.name
			}
			items = append(items, [2]string{rm.jid.String(), name})
		}
	})
	slices.SortFunc(items, func(a, b [2]string) int {
		if a[0] < b[0] {
			return -1
		}
		if a[0] > b[0] {
			return 1
		}
		return 0
	})
	return items
}

// roomInfo answers disco#info on a room (§6.4) with its features and
// the muc#roominfo form; a hidden room's subject is in it only for
// those who may enter the room.
func (s *Service) roomInfo(rm *room, iq router.IQ) *xmlstream.Element {
	name := rm.cfg.Name
	if name == "" {
		name = rm.name
	}
	q := xmlstream.NewElement(NSDiscoInfo, "query").
		AddChild(xmlstream.NewElement(NSDiscoInfo, "identity", "category", "conference", "type", "text", "name", name))
	pick := func(cond bool, yes, no string) string {
		if cond {
			return yes
		}
		return no
	}
	archived := !rm.cfg.Unarchived
	for _, f := range []string{NS, NSVCard, NSPing, NSSelfPing, NSStableID, NSDiscoItems, NSDiscoInfo, NSOccupantID, NSRegister,
		pick(archived, NSMAM, ""), pick(archived, mam.NS1, ""), pick(archived, mam.FeatureExtended, ""),
		pick(archived, mam.NSFulltext, ""), pick(archived, NSSID, ""), pick(archived, NSModerate, ""),
		pick(!rm.cfg.QuietMentions, NSMentions, ""),
		pick(rm.cfg.Public, "muc_public", "muc_hidden"),
		pick(rm.cfg.Persistent, "muc_persistent", "muc_temporary"),
		pick(rm.cfg.MembersOnly, "muc_membersonly", "muc_open"),
		pick(rm.cfg.Moderated, "muc_moderated", "muc_unmoderated"),
		pick(rm.cfg.WhoIs == "anyone", "muc_nonanonymous", "muc_semianonymous"),
		pick(rm.cfg.Password != "", "muc_passwordprotected", "muc_unsecured"),
	} {
		if f != "" {
			q.AddChild(xmlstream.NewElement(NSDiscoInfo, "feature", "var", f))
		}
	}
	form := newForm("result", NSRoomInfo)
	form.field("muc#roominfo_description", "", rm.cfg.Description)
	if rm.cfg.Public || rm.reader(iq.From.String(), rm.affiliation(iq.From)).allowed {
		// A hidden room tells its subject only to those who may enter
		// it (and so read it there): not to strangers of a members-only
		// or password-protected room, nor to outcasts.
		form.field("muc#roominfo_subject", "", rm.subject)
	}
	form.field("muc#roominfo_occupants", "", strconv.Itoa(len(rm.occupants)))
	// Clients hide the private message option where it would fail.
	form.field("muc#roomconfig_allowpm", "", rm.cfg.allowPM())
	if len(rm.avatars) > 0 {
		// XEP-0486 §3.3: how clients learn that the room has an avatar.
		form.values("muc#roominfo_avatarhash", "text-multi", rm.avatars...)
	}
	return iq.Result(q.AddChild(form.x))
}

// nodeRoomUser is the disco#info node where a user discovers the
// nickname the room reserves for them (XEP-0045 §7.2.4).
const nodeRoomUser = "x-roomuser-item"

// roomItems answers disco#items on a room (§6.5): the occupants' room
// JIDs, never their real ones, unless the room is hidden, whose list of
// occupants is nobody's business but its occupants' (who know it from
// presence).
func (s *Service) roomItems(rm *room, iq router.IQ) *xmlstream.Element {
	q := xmlstream.NewElement(NSDiscoItems, "query")
	if !rm.cfg.Public {
		return iq.Result(q)
	}
	nicks := make([]string, 0, len(rm.occupants))
	for n := range rm.occupants {
		nicks = append(nicks, n)
	}
	slices.Sort(nicks)
	for _, n := range nicks {
		q.AddChild(xmlstream.NewElement(NSDiscoItems, "item", "jid", rm.nickJID(n).String(), "name", n))
	}
	return iq.Result(q)
}

// reservedNick answers a user's request for the nickname the room keeps
// for them (§7.2.4): the one a member, admin or owner last entered with.
// It has no identity when there is none.
func (s *Service) reservedNick(rm *room, iq router.IQ) *xmlstream.Element {
	q := xmlstream.NewElement(NSDiscoInfo, "query", "node", nodeRoomUser)
	bare := iq.From.Bare()
	if nick := rm.reservedNickOf(bare); nick != "" {
		q.AddChild(xmlstream.NewElement(NSDiscoInfo, "identity", "category", "conference", "type", "text", "name", nick))
	}
	return iq.Result(q)
}

// reservedNickOf returns the nick the affiliated user bare registered
// (§7.10), else the one they use in rm, or used when last seen there; ""
// for none.
func (rm *room) reservedNickOf(bare jid.JID) string {
	if rank[rm.affiliation(bare)] < rank[Member] {
		return ""
	}
	if nick := rm.nicks[bare.String()]; nick != "" {
		return nick
	}
	for _, o := range rm.occupants {
		if o.bare.Equal(bare) {
			return o.nick
		}
	}
	var found []string
	for n, b := range rm.lastNicks {
		if b.Equal(bare) {
			found = append(found, n)
		}
	}
	slices.Sort(found)
	if len(found) == 0 {
		return ""
	}
	return found[0]
}
