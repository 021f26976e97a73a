package muc

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"xmppd/mam"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// reader is what an archive query needs to know of the room and of the
// querying user, taken under the room's lock.
type reader struct {
	allowed bool // may read the archive
	seesJID bool // may see the occupants' real JIDs
}

// reader returns what the user from may do with rm's archive: whoever
// may enter the room may read it, as Prosody and ejabberd have it
// (XEP-0313 §5.1.2). That is occupants, members, admins and owners, and
// anyone else when the room is neither members-only nor
// password-protected (a password is not asked of a query, so it stays
// closed to those who do not know it); never outcasts. Real JIDs are for
// those who see them in the room (§5.2.1): everyone in a non-anonymous
// room, moderators, and admins and owners when they are not in it.
func (rm *room) reader(from string, aff string) reader {
	o := rm.sessions[from]
	open := !rm.cfg.MembersOnly && rm.cfg.Password == ""
	r := reader{allowed: aff != Outcast && (o != nil || rank[aff] >= rank[Member] || open)}
	switch {
	case rm.cfg.WhoIs == "anyone":
		r.seesJID = true
	case o != nil:
		r.seesJID = o.role == Moderator
	default:
		r.seesJID = rank[aff] >= rank[Admin]
	}
	return r
}

// query returns a page of rm's archive once the messages queued for it
// are written, so that it holds every message already broadcast. rm's
// lock need not be held: its name never changes.
func (s *Service) query(ctx context.Context, rm *room, q Query) (Page, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.w.flush(ctx); err != nil {
		return Page{}, err
	}
	return s.cfg.Store.Query(ctx, s.cfg.Domain, rm.name, q)
}

// archiveIQ answers an archive query on the room (XEP-0313 §4, for a
// MUC archive §5.1.2) with package mam's parsing: the page goes to the
// querying session, then the result with <fin/>. 'with' is an occupant's
// room JID (room@service/nick), or a real JID for those who may see them.
// rm's lock is not held.
// archiveMetadata answers <metadata/> (XEP-0313 §7, part of #extended):
// the id and stamp of the first and last message of rm's archive, or
// neither when it is empty.
func (s *Service) archiveMetadata(ctx context.Context, rm *room, iq router.IQ) *xmlstream.Element {
	md := xmlstream.NewElement(NSMAM, "metadata")
	for _, end := range []struct {
		name string
		last bool
	}{{"start", false}, {"end", true}} {
		page, err := s.query(ctx, rm, Query{Max: 1, Last: end.last})
		if err != nil {
			s.cfg.Logger.Error("reading a room archive's metadata", "room", rm.jid.String(), "err", err)
			return iq.Error(stanza.InternalServerError, "")
		}
		if len(page.Messages) == 0 {
			break
		}
		m := page.Messages[0]
		md.AddChild(xmlstream.NewElement(NSMAM, end.name, "id", strconv.FormatInt(m.ID, 10), "timestamp", m.Stamp.UTC().Format(stampLayout)))
	}
	return iq.Result(md)
}

func (s *Service) archiveIQ(ctx context.Context, rm *room, iq router.IQ, who reader) *xmlstream.Element {
	if !who.allowed {
		return iq.Error(stanza.Forbidden, "only those who may enter this room may read its archive")
	}
	ns := iq.Payload.Name.Space
	switch {
	case iq.Payload.Name.Local == "metadata":
		return s.archiveMetadata(ctx, rm, iq)
	case iq.Type == "get":
		return iq.Result(mam.QueryForm(ns))
	}
	req, err := mam.ParseQuery(iq.Payload, s.cfg.MaxPage)
	var qe *mam.QueryError
	if errors.As(err, &qe) {
		return iq.Error(qe.Condition, qe.Text)
	}
	q := Query{Start: req.Start, End: req.End, AfterID: req.AfterID, BeforeID: req.BeforeID, IDs: req.IDs,
		Text: req.Text, Max: req.Max, Last: req.Last}
	switch {
	case req.With == "":
	case req.With == rm.jid.String():
		q.Nick = req.WithResource
	case !who.seesJID:
		return iq.Error(stanza.Forbidden, "'with' must be an occupant of the room (room@service/nick)")
	default:
		q.Sender = req.With
	}
	page, err := s.query(ctx, rm, q)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return iq.Error(stanza.ItemNotFound, "no such message in the archive")
	case err != nil:
		s.cfg.Logger.Error("querying a room archive", "room", rm.jid.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	order := page.Messages
	if req.Flip {
		order = slices.Clone(order)
		slices.Reverse(order)
	}
	for _, m := range order {
		el, err := parseStored(m.Stanza)
		if err != nil {
			s.cfg.Logger.Error("reading a room archive", "room", rm.jid.String(), "id", m.ID, "err", err)
			return iq.Error(stanza.InternalServerError, "")
		}
		if who.seesJID && el.Attr("from") != rm.jid.String() {
			// XEP-0313 §5.1.2: the real JID, for those who may see it.
			el.AddChild(xmlstream.NewElement(NSUser, "x").AddChild(xmlstream.NewElement(NSUser, "item", "jid", m.Sender)))
		}
		el.AddChild(xmlstream.NewElement(NSSID, "stanza-id", "by", rm.jid.String(), "id", strconv.FormatInt(m.ID, 10)))
		if !s.send(iq.From, mam.ResultMessage(ns, rm.jid.String(), iq.From, req.QueryID, m.ID, m.Stamp, el)) {
			return iq.Error(stanza.ResourceConstraint, "the session does not take the results")
		}
	}
	var first, last int64
	if n := len(page.Messages); n > 0 {
		first, last = page.Messages[0].ID, page.Messages[n-1].ID
	}
	return iq.Result(req.Fin(first, last, page.Complete))
}
