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

// archiveIQ answers an archive query on the room (XEP-0313 §4, for a
// MUC archive §5.1.2): the page goes to the querying session, then the
// result with <fin/>. rm's lock is not held: its name never changes.
func (s *Service) archiveIQ(ctx context.Context, rm *room, iq router.IQ, allowed bool) *xmlstream.Element {
	if !allowed {
		return iq.Error(stanza.Forbidden, "you may not read this room's archive")
	}
	if iq.Type == "get" {
		return iq.Error(stanza.FeatureNotImplemented, "")
	}
	q, cond := parseArchiveQuery(iq.Payload, s.cfg.MaxPage)
	if cond != "" {
		return iq.Error(cond, "")
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	page, err := s.cfg.Store.Query(qctx, s.cfg.Domain, rm.name, q)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return iq.Error(stanza.ItemNotFound, "no such message in the archive")
	case err != nil:
		s.cfg.Logger.Error("querying a room archive", "room", rm.jid.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	queryID := iq.Payload.Attr("queryid")
	for _, m := range page.Messages {
		el, err := parseStored(m.Stanza)
		if err != nil {
			s.cfg.Logger.Error("reading a room archive", "room", rm.jid.String(), "id", m.ID, "err", err)
			return iq.Error(stanza.InternalServerError, "")
		}
		id := strconv.FormatInt(m.ID, 10)
		el.AddChild(xmlstream.NewElement(NSSID, "stanza-id", "by", rm.jid.String(), "id", id))
		fwd := xmlstream.NewElement(NSForward, "forwarded").
			AddChild(xmlstream.NewElement(NSDelay, "delay", "stamp", m.Stamp.UTC().Format(stampLayout))).
			AddChild(el)
		res := xmlstream.NewElement(NSMAM, "result", "queryid", queryID, "id", id).AddChild(fwd)
		msg := xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", rm.jid.String(), "to", iq.From.String(),
			"id", stanza.NewID()).AddChild(res)
		if !s.r.DeliverToSession(iq.From, msg) {
			return iq.Error(stanza.ResourceConstraint, "the session does not take the results")
		}
	}
	set := xmlstream.NewElement(NSRSM, "set")
	if n := len(page.Messages); n > 0 {
		set.AddChild(xmlstream.NewElement(NSRSM, "first").AddText(strconv.FormatInt(page.Messages[0].ID, 10)))
		set.AddChild(xmlstream.NewElement(NSRSM, "last").AddText(strconv.FormatInt(page.Messages[n-1].ID, 10)))
	}
	return iq.Result(xmlstream.NewElement(NSMAM, "fin", "complete", strconv.FormatBool(page.Complete)).AddChild(set))
}

// parseArchiveQuery reads the form and RSM set of a <query/>; cond is
// the stanza error for a bad one. It mirrors package mam's parser for
// the fields a room archive supports.
func parseArchiveQuery(el *xmlstream.Element, maxPage int) (q Query, cond string) {
	q.Max = maxPage
	id := func(s string) (int64, string) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return 0, stanza.ItemNotFound
		}
		return n, ""
	}
	if x := el.Child(NSData, "x"); x != nil {
		for name, v := range formValues(x) {
			if v == "" {
				continue
			}
			var err error
			switch name {
			case "FORM_TYPE":
				if v != NSMAM {
					return q, stanza.BadRequest
				}
			case "start":
				q.Start, err = time.Parse(time.RFC3339Nano, v)
			case "end":
				q.End, err = time.Parse(time.RFC3339Nano, v)
			case "after-id":
				q.AfterID, cond = id(v)
			case "before-id":
				q.BeforeID, cond = id(v)
			default:
				return q, stanza.FeatureNotImplemented
			}
			if err != nil {
				return q, stanza.BadRequest
			}
			if cond != "" {
				return q, cond
			}
		}
	}
	set := el.Child(NSRSM, "set")
	if set == nil {
		return q, ""
	}
	if m := set.Child(NSRSM, "max"); m != nil {
		n, err := strconv.Atoi(m.Text())
		if err != nil || n < 0 {
			return q, stanza.BadRequest
		}
		q.Max = min(n, maxPage)
	}
	if a := set.Child(NSRSM, "after"); a != nil {
		n, c := id(a.Text())
		if c != "" {
			return q, c
		}
		q.AfterID = max(q.AfterID, n)
	}
	if b := set.Child(NSRSM, "before"); b != nil {
		q.Last = true
		if b.Text() != "" {
			n, c := id(b.Text())
			if c != "" {
				return q, c
			}
			if q.BeforeID == 0 || n < q.BeforeID {
				q.BeforeID = n
			}
		}
	}
	return q, ""
}
