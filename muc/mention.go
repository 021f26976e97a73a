package muc

import (
	"context"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
// member, admin or owner that it mentions and that is not in the room.
// The mentions are its XEP-0372 mention references; a message without
// any names those whose nicks its body writes (bodyMentions), as
// clients that send no references expect. The caller routes them once
// rm's lock is released, so that storing them offline does not hold up
// the room.
func (s *Service) mentionNotices(rm *room, out *xmlstream.Element) []*xmlstream.Element {
	if rm.cfg.QuietMentions {
		return nil
	}
	mentioned := rm.referenced(out)
	if mentioned == nil {
		mentioned = rm.bodyMentions(out)
	}
	var notices []*xmlstream.Element
	var fwd *xmlstream.Element
	seen := map[string]bool{}
	for _, bare := range mentioned {
		k := bare.String()
		if seen[k] {
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

// referenced returns the bare JIDs that out's XEP-0372 mention
// references name, nil if it has no mention reference at all.
func (rm *room) referenced(out *xmlstream.Element) []jid.JID {
	var mentioned []jid.JID
	for _, ref := range out.ChildElements() {
		if ref.Name.Space != NSReference || ref.Name.Local != "reference" || ref.Attr("type") != "mention" {
			continue
		}
		if mentioned == nil {
			mentioned = []jid.JID{}
		}
		if bare, ok := rm.mentioned(ref.Attr("uri")); ok {
			mentioned = append(mentioned, bare)
		}
	}
	return mentioned
}

// bodyMentions returns the members absent from rm whose nick, registered
// (XEP-0045 §7.10) or last used there, out's body writes as a word of
// its own: in any letter case, with neither a letter nor a digit on
// either side, so "@romeo", "Romeo:" and "romeo!" mention romeo but
// "romeos" does not. Nicks of one character are left out: they would
// match ordinary words.
func (rm *room) bodyMentions(out *xmlstream.Element) []jid.JID {
	var mentioned []jid.JID
	var bodies []string // lower-cased, read at the first candidate
	check := func(nick string, bare jid.JID) {
		if utf8.RuneCountInString(nick) < 2 || rank[rm.affiliation(bare)] < rank[Member] || rm.present(bare) {
			return
		}
		if bodies == nil {
			bodies = []string{}
			for _, b := range out.ChildElements() {
				if b.Name.Local == "body" && b.Name.Space == stanza.NSClient {
					bodies = append(bodies, strings.ToLower(b.Text()))
				}
			}
		}
		nick = strings.ToLower(nick)
		for _, body := range bodies {
			if writesWord(body, nick) {
				mentioned = append(mentioned, bare)
				return
			}
		}
	}
	for b, nick := range rm.nicks {
		if bare, err := jid.Parse(b); err == nil {
			check(nick, bare)
		}
	}
	for nick, bare := range rm.lastNicks {
		check(nick, bare)
	}
	return mentioned
}

// writesWord reports whether text holds word with neither a letter nor
// a digit right before or after it.
func writesWord(text, word string) bool {
	for from := 0; ; {
		i := strings.Index(text[from:], word)
		if i < 0 {
			return false
		}
		i += from
		before, _ := utf8.DecodeLastRuneInString(text[:i])
		after, _ := utf8.DecodeRuneInString(text[i+len(word):])
		if !isWordRune(before) && !isWordRune(after) {
			return true
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		from = i + size
	}
}

// isWordRune reports whether r continues a word: a letter or a digit.
// utf8.RuneError, what decoding an empty string gives, does not.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// mentionBlocked reports whether m is a notification mentionNotices
// built for a local account that blocked the occupant whose message it
// forwards (the room JID, XEP-0191 §6): the user's blocklist stops it,
// as it stops the occupant's groupchat messages, so that the occupant
// cannot reach her, or wake her devices from offline storage, by
// mentioning her (XEP-0191 §3.3). It reads the blocklist if need be:
// the room's lock must not be held.
func (s *Service) mentionBlocked(ctx context.Context, m *xmlstream.Element) bool {
	notice := m.Child(NSMentions, "mentions")
	if notice == nil {
		return false
	}
	to, err := jid.Parse(m.Attr("to"))
	if err != nil || !s.r.IsLocal(to.Domainpart()) {
		return false
	}
	var fwd *xmlstream.Element
	if f := notice.Child(NSForward, "forwarded"); f != nil {
		fwd = f.Child(stanza.NSClient, stanza.Message)
	}
	if fwd == nil {
		return false
	}
	return !s.r.DirectAllowedWait(ctx, sender(fwd), to, fwd)
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
