package muc

import (
	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// maxSentPrivates bounds the private messages a room remembers for the
// errors that may come back for them.
const maxSentPrivates = 1000

// sentPrivate is a private message the room routed to one session of an
// occupant (XEP-0045 §7.5), remembered by that session and the message's
// id: an error for it goes back to sender, from the nick it went to.
type sentPrivate struct {
	sender   jid.JID // the session that sent it
	id       string  // the sender's id of it, "" for none
	fromNick string  // the sender's nick, which the error is addressed to
	toNick   string  // the recipient's nick
}

// sentKey is the key of sentPrivates: the recipient's session and the
// message's id.
func sentKey(session jid.JID, id string) string { return session.String() + " " + id }

// rememberPrivate records that the room routed the private message id
// from the session sender, as fromNick, to the session to of the
// occupant toNick, forgetting another one when it remembers too many.
// A message the sender sent without an id goes with one of the room's
// (private), so that the error for it is told apart from others.
func (rm *room) rememberPrivate(to jid.JID, id string, pm sentPrivate) {
	k := sentKey(to, id)
	if _, known := rm.sentPrivates[k]; !known && len(rm.sentPrivates) >= maxSentPrivates {
		for other := range rm.sentPrivates {
			delete(rm.sentPrivates, other) // forget one: the map stays bounded
			break
		}
	}
	rm.sentPrivates[k] = pm
}

// privateError passes st, an error message that from returns to the room
// JID to, on to the session that sent the private message it answers,
// from the recipient's nick, with the sender's id of the message (none
// when it had none) and the <error/>
// alone (the rest could carry what the room's rules on private messages
// forbid). The recipient's client or server refused the message (§7.5);
// an error for nothing the room routed to from goes nowhere. It reports
// whether st answered a private message.
func (s *Service) privateError(from, to jid.JID, st *xmlstream.Element) bool {
	rm, _ := s.lookup(to.Localpart(), false)
	if rm == nil {
		return false
	}
	defer rm.mu.Unlock()
	k := sentKey(from, st.Attr("id"))
	pm, ok := rm.sentPrivates[k]
	e := st.Child(st.Name.Space, "error")
	if !ok || pm.fromNick != to.Resourcepart() || e == nil {
		return false
	}
	delete(rm.sentPrivates, k)
	e = &xmlstream.Element{Name: e.Name, Attrs: e.Attrs, Children: e.Children}
	e.Name.Space = stanza.NSClient
	s.send(pm.sender, xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", rm.nickJID(pm.toNick).String(),
		"to", pm.sender.String(), "type", "error", "id", pm.id).AddChild(e))
	return true
}
