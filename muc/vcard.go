package muc

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// roomVCard answers vcard-temp on the room's own JID (XEP-0054, as
// XEP-0486 uses it for room avatars): anyone who may see the room gets
// it, only owners set it, up to Config.MaxVCardBytes (not-acceptable
// above, as for accounts), and it is stored with the room. A change is
// told to the occupants with status 104, and the hashes of its photos
// are in the room's disco#info.
func (s *Service) roomVCard(ctx context.Context, rm *room, iq router.IQ) *xmlstream.Element {
	if iq.Payload.Name.Local != "vCard" {
		return iq.Error(stanza.BadRequest, "a vcard-temp payload is <vCard/>")
	}
	if iq.Type == "get" {
		if rm.vcard == nil {
			return iq.Result(xmlstream.NewElement(NSVCard, "vCard"))
		}
		v, err := parseStored(rm.vcard)
		if err != nil {
			s.cfg.Logger.Error("reading a room's vCard", "room", rm.jid.String(), "err", err)
			return iq.Error(stanza.InternalServerError, "")
		}
		return iq.Result(v)
	}
	if rm.affiliation(iq.From) != Owner {
		return iq.Error(stanza.Forbidden, "only owners may set the room's vCard")
	}
	data := iq.Payload.Append(nil, "")
	if len(data) > s.cfg.MaxVCardBytes {
		return iq.Error(stanza.NotAcceptable, "the vCard is larger than "+strconv.Itoa(s.cfg.MaxVCardBytes)+" bytes")
	}
	old := rm.vcard
	rm.vcard = data
	if len(iq.Payload.ChildElements()) == 0 {
		rm.vcard = nil // an empty vCard removes it
	}
	if s.save(ctx, rm) != nil {
		rm.vcard = old
		return iq.Error(stanza.InternalServerError, "the vCard could not be stored")
	}
	rm.avatars = photoHashes(iq.Payload)
	// XEP-0486 §3.2: the occupants learn that the room's information,
	// its avatar among it, changed.
	s.broadcast(rm, xmlstream.NewElement(stanza.NSClient, stanza.Message, "type", "groupchat",
		"from", rm.jid.String(), "id", stanza.NewID()).
		AddChild(xmlstream.NewElement(NSUser, "x").AddChild(xmlstream.NewElement(NSUser, "status", "code", "104"))))
	return iq.Result(nil)
}

// avatarHashes returns the XEP-0153 hashes of the photos of the
// serialised vCard card (none for nil, or one that does not parse).
func avatarHashes(card []byte) []string {
	if card == nil {
		return nil
	}
	v, err := parseStored(card)
	if err != nil {
		return nil
	}
	return photoHashes(v)
}

// photoHashes returns the XEP-0153 hash of each PHOTO of the vCard card
// whose BINVAL is an image: the hex SHA-1 of the decoded data. XEP-0486
// §4.1 tells them all, as a vCard may hold one image in several formats.
func photoHashes(card *xmlstream.Element) []string {
	var hashes []string
	for _, photo := range card.ChildElements() {
		if photo.Name.Space != NSVCard || photo.Name.Local != "PHOTO" {
			continue
		}
		binval := photo.Child(NSVCard, "BINVAL")
		if binval == nil {
			continue
		}
		image, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(binval.Text()), ""))
		if err != nil || len(image) == 0 {
			continue
		}
		sum := sha1.Sum(image)
		hashes = append(hashes, hex.EncodeToString(sum[:]))
	}
	return hashes
}
