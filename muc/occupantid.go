package muc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"

	"mellium.im/xmpp/jid"

	"xmppd/xmlstream"
)

// NSOccupantID is the namespace of XEP-0421: Anonymous unique occupant
// identifiers for MUCs.
const NSOccupantID = "urn:xmpp:occupant-id:0"

// occupantKey derives the service's occupant-id key from the
// deployment's secret, so that two services of one deployment give one
// user unrelated ids.
func occupantKey(secret []byte, domain string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("xmppd muc occupant-id\x00" + domain))
	return m.Sum(nil)
}

// occupantID returns the XEP-0421 id of the user bare in the room: the
// same for every join of that user to that room, different in every
// other room, and not reversible to the JID without the service's key.
func (s *Service) occupantID(room, bare jid.JID) string {
	m := hmac.New(sha256.New, s.oidKey)
	m.Write([]byte(room.Bare().String() + "\x00" + bare.Bare().String()))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// occupantIDElement is o's <occupant-id/>.
func occupantIDElement(o *occupant) *xmlstream.Element {
	return xmlstream.NewElement(NSOccupantID, "occupant-id", "id", o.id)
}
