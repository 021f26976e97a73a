package muc

import (
	"context"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// roomVCard answers vcard-temp on the room's own JID (XEP-0054, as
// XEP-0486 uses it for room avatars): anyone who may see the room gets
// it, only owners set it, and it is stored with the room.
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
	old := rm.vcard
	rm.vcard = iq.Payload.Append(nil, "")
	if len(iq.Payload.ChildElements()) == 0 {
		rm.vcard = nil // an empty vCard removes it
	}
	if s.save(ctx, rm) != nil {
		rm.vcard = old
		return iq.Error(stanza.InternalServerError, "the vCard could not be stored")
	}
	return iq.Result(nil)
}
