package xmlstream

import (
	"bytes"
	"unicode/utf8"
)

// byteClass classifies ASCII bytes for the tokenizer's fast paths.
var byteClass = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = clsNameStart
		t[c-'a'+'A'] = clsNameStart
	}
	t['_'], t[':'] = clsNameStart, clsNameStart
	for c := '0'; c <= '9'; c++ {
		t[c] = clsName
	}
	t['.'], t['-'] = clsName, clsName
	for c := 0x80; c < 0x100; c++ {
		t[c] = clsName // validated as UTF-8 once the whole name is read
	}
	return t
}()

const (
	clsOther     = iota
	clsName      // may continue a name
	clsNameStart // may start or continue a name
)

// nameByte reports whether c may be part of a name as the tokenizer reads
// it: an ASCII name character or any byte of a multi-byte UTF-8 sequence.
func nameByte(c byte) bool { return byteClass[c] != clsOther }

// inRanges reports whether r lies in one of the sorted ranges rs.
func inRanges(r rune, rs []runeRange) bool {
	lo, hi := 0, len(rs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch {
		case r < rs[m].lo:
			hi = m
		case r > rs[m].hi:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

// isNameStart reports whether r may start an XML name.
func isNameStart(r rune) bool {
	if r < utf8.RuneSelf {
		return byteClass[r] == clsNameStart
	}
	return inRanges(r, nameStartRanges)
}

// isNameChar reports whether r may continue an XML name.
func isNameChar(r rune) bool {
	if r < utf8.RuneSelf {
		return byteClass[r] != clsOther
	}
	return inRanges(r, nameCharRanges)
}

// isName reports whether b is a valid XML name (colons allowed).
func isName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if i == 0 && byteClass[c] != clsNameStart {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return false
		}
		if i == 0 && !isNameStart(r) || i > 0 && !isNameChar(r) {
			return false
		}
		i += n
	}
	return true
}

// validLocal reports whether a prefix or local name from the tokenizer is
// a valid NCName (Namespaces in XML 1.0 §3). The tokenizer has checked that
// the whole qualified name is an XML name; what remains is that the part
// has no colon and starts with a name start character.
func validLocal(b []byte) bool {
	if len(b) == 0 || bytes.IndexByte(b, ':') >= 0 {
		return false
	}
	r, _ := utf8.DecodeRune(b)
	return isNameStart(r)
}

// interned maps names and namespaces common in XMPP to a shared copy, so
// that decoding them allocates nothing.
var interned = func() map[string]string {
	m := make(map[string]string, len(internList))
	for _, s := range internList {
		m[s] = s
	}
	return m
}()

// intern returns the shared copy of b, if there is one.
func intern(b []byte) (string, bool) {
	if len(b) > 48 {
		return "", false
	}
	s, ok := interned[string(b)]
	return s, ok
}

var internList = [...]string{
	// prefixes and namespaces of the stream
	"stream", "xml", "xmlns", NSStream, NSXML, "jabber:client", "jabber:server",
	"urn:ietf:params:xml:ns:xmpp-framing", "urn:ietf:params:xml:ns:xmpp-tls",
	"urn:ietf:params:xml:ns:xmpp-sasl", "urn:ietf:params:xml:ns:xmpp-bind",
	"urn:ietf:params:xml:ns:xmpp-session", "urn:ietf:params:xml:ns:xmpp-stanzas",
	"urn:ietf:params:xml:ns:xmpp-streams", "urn:xmpp:sm:3",
	// other namespaces
	"jabber:iq:roster", "jabber:iq:private", "jabber:iq:register", "jabber:iq:version",
	"jabber:iq:last", "jabber:x:data", "jabber:x:oob", "jabber:x:conference",
	"vcard-temp", "vcard-temp:x:update", "storage:bookmarks",
	"http://jabber.org/protocol/chatstates", "http://jabber.org/protocol/disco#info",
	"http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc",
	"http://jabber.org/protocol/muc#user", "http://jabber.org/protocol/muc#admin",
	"http://jabber.org/protocol/muc#owner", "http://jabber.org/protocol/caps",
	"http://jabber.org/protocol/pubsub", "http://jabber.org/protocol/pubsub#event",
	"http://jabber.org/protocol/pubsub#owner", "http://jabber.org/protocol/rsm",
	"http://jabber.org/protocol/nick", "urn:xmpp:sid:0", "urn:xmpp:delay",
	"urn:xmpp:receipts", "urn:xmpp:chat-markers:0", "urn:xmpp:carbons:2",
	"urn:xmpp:forward:0", "urn:xmpp:mam:1", "urn:xmpp:mam:2", "urn:xmpp:ping",
	"urn:xmpp:hints", "urn:xmpp:time", "urn:xmpp:message-correct:0", "urn:xmpp:csi:0",
	"urn:xmpp:http:upload:0", "urn:xmpp:blocking", "urn:xmpp:bookmarks:1",
	"urn:xmpp:reply:0", "urn:xmpp:reactions:0", "urn:xmpp:styling:0", "urn:xmpp:eme:0",
	"urn:xmpp:omemo:2", "eu.siacs.conversations.axolotl", "urn:xmpp:avatar:metadata",
	"urn:xmpp:avatar:data", "urn:xmpp:occupant-id:0", "urn:xmpp:fallback:0",
	// element and attribute names
	"message", "presence", "iq", "body", "subject", "thread", "error", "text",
	"id", "to", "from", "type", "lang", "version", "features", "query", "item",
	"items", "x", "c", "show", "status", "priority", "delay", "stamp", "active",
	"composing", "paused", "inactive", "gone", "origin-id", "stanza-id", "by",
	"request", "received", "sent", "forwarded", "result", "fin", "set", "first",
	"last", "count", "after", "before", "max", "index", "node", "jid", "name",
	"subscription", "ask", "group", "nick", "role", "affiliation", "reason",
	"code", "ver", "hash", "bind", "resource", "session", "starttls", "proceed",
	"mechanisms", "mechanism", "auth", "success", "failure", "challenge",
	"response", "enable", "enabled", "resume", "resumed", "r", "a", "h",
	"identity", "feature", "category", "var", "field", "value", "label",
	"publish", "retract", "event", "pubsub", "ping", "markable", "displayed",
	"acknowledged", "store", "no-store", "no-permanent-store", "no-copy",
	"private", "replace", "reply", "reactions", "reaction", "encrypted",
	"encryption", "namespace", "occupant-id", "fallback",
	"continue", "destroy", "invite", "decline", "password", "url", "desc",
}
