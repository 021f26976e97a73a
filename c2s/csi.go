package c2s

import (
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// NSCSI is the namespace of client state indication (XEP-0352).
const NSCSI = "urn:xmpp:csi:0"

var csiFeature = xmlstream.NewElement(NSCSI, "csi")

// csiState is what the server holds back for an inactive client
// (XEP-0352), guarded by Session.mu.
//
// While the client is inactive, stanzas that do not need the user's
// attention are held: presence broadcasts (only the latest per sender full
// JID is kept), chat states, delivery receipts (XEP-0184) and chat markers
// (XEP-0333). Everything else goes out at once: IQs (someone waits for the
// answer), errors, subscription requests, and messages a user reads
// (body, subject, encrypted payloads, invitations, carbons of those). When
// such an important stanza goes out, the held ones are sent before it, so
// the client always sees stanzas in the order the server had them. Held
// stanzas are sent when the client becomes active, when they reach
// Config.CSIHoldLimit, and on stream resumption (CSI state does not survive
// it). Held stanzas are not yet counted by stream management.
//
// A held stanza is safe for its sender as soon as it is held, as one
// queued for a client without stream management is (receipt.go): the
// sender's <a/> acknowledges it at once. Otherwise an inactive recipient
// would hold back the acknowledgement of everything its sender sent after
// it, for as long as it stays inactive (acknowledgements are counted in
// order), and a sender resuming its stream meanwhile would send it all
// again. What is held is what the user need not see at once; it is still
// routed again if the session ends, but a crash of the server loses it.
type csiState struct {
	inactive bool
	held     []outItem
}

// handleCSI handles <active/> and <inactive/>.
func (s *Session) handleCSI(el *xmlstream.Element) error {
	switch el.Name.Local {
	case "inactive":
		s.mu.Lock()
		s.csi.inactive = true
		s.mu.Unlock()
	case "active":
		s.mu.Lock()
		s.csi.inactive = false
		s.flushHeldLocked()
		start := s.startWriterLocked()
		s.mu.Unlock()
		if start {
			go s.flush()
		}
	default:
		return &streamError{"unsupported-stanza-type", "unexpected element {" + NSCSI + "}" + el.Name.Local}
	}
	return nil
}

// holdLocked holds st if it can wait, and reports whether it did. Held,
// st is safe (csiState): the caller marks the receipt it took for st
// done once s.mu is released (its sender's session may be this one).
func (s *Session) holdLocked(st *xmlstream.Element, frame []byte) (held bool) {
	if important(st) {
		return false
	}
	if st.Name.Local == stanza.Presence {
		from := st.Attr("from")
		for i, it := range s.csi.held {
			if it.el.Name.Local == stanza.Presence && it.el.Attr("from") == from {
				// Only the latest presence of a sender matters.
				s.csi.held = append(s.csi.held[:i], s.csi.held[i+1:]...)
				break
			}
		}
	}
	s.csi.held = append(s.csi.held, outItem{el: st, frame: frame})
	if len(s.csi.held) >= s.srv.cfg.CSIHoldLimit {
		s.flushHeldLocked()
		if s.startWriterLocked() {
			go s.flush()
		}
	}
	return true
}

// flushHeldLocked moves held stanzas to the queue, in order.
func (s *Session) flushHeldLocked() {
	for _, it := range s.csi.held {
		s.pushLocked(it)
	}
	s.csi.held = nil
}

// important reports whether st must reach an inactive client at once.
func important(st *xmlstream.Element) bool {
	if stanza.IsError(st) {
		return true
	}
	switch st.Name.Local {
	case stanza.Presence:
		switch st.Attr("type") {
		case "", "unavailable":
			return false
		}
		return true // subscription requests and answers
	case stanza.Message:
		return importantMessage(st, 0)
	}
	return true // IQs: someone waits for the answer
}

// Payloads that make a message worth waking the client for.
var wakingPayloads = [][2]string{
	{stanza.NSClient, "body"},
	{stanza.NSClient, "subject"},
	{"eu.siacs.conversations.axolotl", "encrypted"}, // OMEMO
	{"urn:xmpp:omemo:2", "encrypted"},               // OMEMO 2
	{"urn:xmpp:mmn:0", "mentions"},                  // XEP-0452 room mentions
	{"urn:xmpp:openpgp:0", "openpgp"},               // XEP-0373
	{"jabber:x:encrypted", "x"},                     // XEP-0027
	{"jabber:x:conference", "x"},                    // XEP-0249 invitations
	{"urn:xmpp:jingle-message:0", "propose"},        // incoming calls
}

func importantMessage(m *xmlstream.Element, depth int) bool {
	for _, p := range wakingPayloads {
		if m.Child(p[0], p[1]) != nil {
			return true
		}
	}
	if x := m.Child("http://jabber.org/protocol/muc#user", "x"); x != nil && x.Child("http://jabber.org/protocol/muc#user", "invite") != nil {
		return true
	}
	if depth > 0 {
		return false
	}
	// Carbons (XEP-0280) wrap the message in <forwarded/> (XEP-0297).
	for _, wrapper := range []string{"sent", "received"} {
		if c := m.Child(nsCarbons, wrapper); c != nil {
			if f := c.Child("urn:xmpp:forward:0", "forwarded"); f != nil {
				if inner := f.Child(stanza.NSClient, stanza.Message); inner != nil {
					return importantMessage(inner, depth+1)
				}
			}
		}
	}
	return false
}
