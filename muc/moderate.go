package muc

import (
	"context"
	"errors"
	"strconv"
	"time"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0425 moderated message retraction and of XEP-0424
// message retraction, which it uses.
const (
	NSModerate = "urn:xmpp:message-moderate:1"
	NSRetract  = "urn:xmpp:message-retract:1"
)

// moderate answers a moderator's request to retract an occupant's message
// by its stanza id (XEP-0425 §3): the archived message becomes a
// tombstone, and the occupants get the retraction, which is archived too.
func (s *Service) moderate(ctx context.Context, rm *room, iq router.IQ) *xmlstream.Element {
	p := iq.Payload
	if iq.Type != "set" || p.Child(NSRetract, "retract") == nil {
		return iq.Error(stanza.BadRequest, "only retraction is supported")
	}
	mod := rm.sessions[iq.From.String()]
	if mod == nil || mod.role != Moderator {
		return iq.Error(stanza.Forbidden, "only moderators may retract the messages of others")
	}
	id, err := strconv.ParseInt(p.Attr("id"), 10, 64)
	if err != nil || id <= 0 {
		return iq.Error(stanza.ItemNotFound, "no such message in the archive")
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	page, err := s.query(qctx, rm, Query{IDs: []int64{id}, Max: 1})
	switch {
	case errors.Is(err, storage.ErrNotFound) || (err == nil && len(page.Messages) == 0):
		return iq.Error(stanza.ItemNotFound, "no such message in the archive")
	case err != nil:
		s.cfg.Logger.Error("loading a message to retract", "room", rm.jid.String(), "id", id, "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	orig, err := parseStored(page.Messages[0].Stanza)
	if err != nil {
		s.cfg.Logger.Error("reading a message to retract", "room", rm.jid.String(), "id", id, "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	switch {
	case orig.Child(NSRetract, "retracted") != nil:
		return iq.Result(nil) // already retracted
	case orig.Attr("from") == rm.jid.String():
		return iq.Error(stanza.NotAcceptable, "only occupants' messages can be retracted")
	}
	var reason *xmlstream.Element
	if r := p.Child(NSModerate, "reason"); r != nil && r.Text() != "" {
		reason = xmlstream.NewElement(NSRetract, "reason").AddText(r.Text())
	}
	moderated := xmlstream.NewElement(NSModerate, "moderated", "by", rm.nickJID(mod.nick).String()).
		AddChild(occupantIDElement(mod))
	retracted := xmlstream.NewElement(NSRetract, "retracted", "stamp", time.Now().UTC().Format(stampLayout)).
		AddChild(moderated)
	retract := xmlstream.NewElement(NSRetract, "retract", "id", strconv.FormatInt(id, 10)).AddChild(moderated)
	if reason != nil {
		retracted.AddChild(reason)
		retract.AddChild(reason)
	}
	announce := xmlstream.NewElement(stanza.NSClient, stanza.Message, "type", "groupchat", "from", rm.jid.String(),
		"id", stanza.NewID()).AddChild(retract)
	ann, err := s.w.reserve(qctx, Message{Room: rm.name, Nick: mod.nick, Sender: mod.bare.String(), Stanza: announce.Append(nil, "")})
	if err == nil {
		err = s.cfg.Store.Retract(qctx, s.cfg.Domain, rm.name, id, tombstone(orig, retracted).Append(nil, ""), ann)
	}
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return iq.Error(stanza.ItemNotFound, "no such message in the archive")
	case err != nil:
		s.cfg.Logger.Error("retracting a message", "room", rm.jid.String(), "id", id, "err", err)
		return iq.Error(stanza.InternalServerError, "the message could not be retracted")
	}
	announce.AddChild(xmlstream.NewElement(NSSID, "stanza-id", "by", rm.jid.String(), "id", strconv.FormatInt(ann.ID, 10)))
	s.broadcast(rm, announce)
	return iq.Result(nil)
}

// tombstone is what the archive keeps of the retracted message orig
// (XEP-0424 §5.1): its addresses, id, origin id and author's occupant id,
// and retracted in place of its content.
func tombstone(orig, retracted *xmlstream.Element) *xmlstream.Element {
	t := xmlstream.NewElement(stanza.NSClient, stanza.Message, "type", "groupchat",
		"from", orig.Attr("from"), "id", orig.Attr("id"))
	for _, c := range orig.ChildElements() {
		if (c.Name.Space == NSOccupantID && c.Name.Local == "occupant-id") || (c.Name.Space == NSSID && c.Name.Local == "origin-id") {
			t.AddChild(c)
		}
	}
	return t.AddChild(retracted)
}
