package muc

import (
	"net/url"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0372 references and XEP-0452 mention notifications.
const (
	NSReference = "urn:xmpp:reference:0"
	NSMentions  = "urn:xmpp:mmn:0"
)

// mentionNotices returns the XEP-0452 notifications for out, a groupchat
// message as the room broadcast it (with its stanza id): one for each
// member, admin or owner that a XEP-0372 mention reference names and that
// is not in the room. Nicknames in the body are not guessed at. The
// caller routes them once rm's lock is released, so that storing them
// offline does not hold up the room.
func (s *Service) mentionNotices(rm *room, out *xmlstream.Element) []*xmlstream.Element {
	if rm.cfg.QuietMentions {
		return nil
	}
	var notices []*xmlstream.Element
	var fwd *xmlstream.Element
	seen := map[string]bool{}
	for _, ref := range out.ChildElements() {
		if ref.Name.Space != NSReference || ref.Name.Local != "reference" || ref.Attr("type") != "mention" {
			continue
		}
		bare, ok := rm.mentioned(ref.Attr("uri"))
		k := bare.String()
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		if rank[rm.affiliation(bare)] < rank[Member] || rm.present(bare) {
			continue
		}
		if fwd == nil {
			fwd = xmlstream.NewElement(NSForward, "forwarded").
				AddChild(xmlstream.NewElement(NSDelay, "delay", "stamp", time.Now().UTC().Format(stampLayout))).
				AddChild(addressed(out, rm.jid))
		}
		notices = append(notices, xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", rm.jid.String(),
			"to", k, "type", "normal", "id", stanza.NewID()).
			AddChild(xmlstream.NewElement(NSMentions, "mentions").AddChild(fwd)))
	}
	return notices
}

// mentioned returns the real bare JID that a mention's uri names: an
// account (xmpp:user@host), or an occupant of rm (xmpp:room@service/nick)
// who is in the room or was last seen there under that nick.
func (rm *room) mentioned(uri string) (jid.JID, bool) {
	rest, ok := strings.CutPrefix(uri, "xmpp:")
	if !ok {
		return jid.JID{}, false
	}
	rest, _, _ = strings.Cut(rest, "?") // RFC 5122 queries such as ?join
	rest, _, _ = strings.Cut(rest, "#")
	rest = strings.TrimPrefix(rest, "//") // no authority component is meant
	raw, err := url.PathUnescape(rest)
	if err != nil {
		return jid.JID{}, false
	}
	j, err := jid.Parse(raw)
	if err != nil {
		return jid.JID{}, false
	}
	if !j.Bare().Equal(rm.jid) {
		return j.Bare(), j.Localpart() != ""
	}
	if o := rm.occupants[j.Resourcepart()]; o != nil {
		return o.bare, true
	}
	bare, ok := rm.lastNicks[j.Resourcepart()]
	return bare, ok
}

// present reports whether the user bare is an occupant of rm.
func (rm *room) present(bare jid.JID) bool {
	for _, o := range rm.occupants {
		if o.bare.Equal(bare) {
			return true
		}
	}
	return false
}

// maxLastNicks bounds the nicks a room remembers of users who left.
const maxLastNicks = 1000

// rememberNick records that the affiliated user bare used nick, so that
// mentions of room@service/nick reach them after they leave.
func (rm *room) rememberNick(nick string, bare jid.JID) {
	if rank[rm.affiliation(bare)] < rank[Member] {
		return
	}
	if _, known := rm.lastNicks[nick]; !known && len(rm.lastNicks) >= maxLastNicks {
		for n := range rm.lastNicks {
			delete(rm.lastNicks, n) // forget one; the map stays bounded
			break
		}
	}
	rm.lastNicks[nick] = bare
}
