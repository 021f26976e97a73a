package muc

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/mam"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// stampLayout is the XEP-0082 DateTime profile, in UTC with milliseconds.
const stampLayout = "2006-01-02T15:04:05.000Z"

// message handles a message to a room (XEP-0045 §7.4, §7.5, §7.8.2,
// §8.1). An error message is only looked at for a private message it
// answers, which the sender gets, or else for an occupant that is gone (its
// handling answers nothing, so the router bounces nothing back while the
// room's lock is held). What the room sends to users outside
// it (invitations, mention notifications) is routed after the lock is
// released.
func (s *Service) message(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	if stanza.IsError(st) {
		// An error for a private message is the recipient refusing that
		// message, such as from a user who blocked the sender
		// (XEP-0191): a local session that ended gets no error for it,
		// since the router hands it to the account. The recipient stays.
		if to.Resourcepart() != "" && s.privateError(from, to, st) {
			return
		}
		s.gone(ctx, from, to, st)
		return
	}
	rm, _ := s.lookup(to.Localpart(), false)
	if rm != nil && rm.locked && rm.affiliation(from) != Owner {
		// A locked room is not there for anyone but its owners
		// (§10.1.1).
		rm.mu.Unlock()
		rm = nil
	}
	if rm == nil {
		s.reply(ctx, st, stanza.ItemNotFound, "no such room")
		return
	}
	var later []*xmlstream.Element
	var archived uint64  // the message's place in the writer's queue; 0: none
	var deliverPM func() // a private message, routed once the lock is released
	defer func() {
		rm.mu.Unlock()
		if deliverPM != nil {
			deliverPM()
		}
		if archived != 0 {
			// The sender's stream management acknowledges the message
			// when this returns: only once it is committed, like a
			// one-to-one message (DESIGN.md §4), or answered with an
			// error when it could not be. Occupants already have it; the
			// room's lock is not held while waiting.
			if err := s.w.wait(ctx, archived); err != nil {
				s.cfg.Logger.Error("archiving a room message", "room", rm.jid.String(), "err", err)
				s.reply(ctx, st, stanza.InternalServerError, "the message was delivered but could not be archived")
			}
		}
		for _, m := range later {
			if !s.mentionBlocked(ctx, m) && !s.invitationBlocked(ctx, m) {
				s.r.Route(ctx, m)
			}
		}
	}()
	o := rm.sessions[from.String()]
	if o != nil && s.cfg.FloodRate > 0 && !o.flood.allow(time.Now(), s.cfg.FloodRate, s.cfg.FloodBurst) {
		s.reply(ctx, st, stanza.ResourceConstraint, "too many messages: wait a little")
		return
	}
	if to.Resourcepart() != "" {
		deliverPM = s.private(ctx, rm, o, from, to.Resourcepart(), st)
		return
	}
	switch {
	case stanza.Type(st) != "groupchat":
		// Voice requests, mediated invitations and declines.
		later = s.mediated(ctx, rm, o, from, st)
	case o == nil:
		s.reply(ctx, st, stanza.NotAcceptable, "only occupants may speak in the room")
	case o.role == Visitor:
		s.reply(ctx, st, stanza.Forbidden, "visitors have no voice in this room")
	case isSubjectChange(st):
		s.setSubject(ctx, rm, o, st)
	default:
		later, archived = s.groupchat(ctx, rm, o, from, st)
	}
}

// fromOccupant returns a copy of st from o's nick in rm: the same
// children, shared, except muc#user payloads, stanza ids claiming to be
// the room's (XEP-0359 §5), delays claiming to be the room's (XEP-0203,
// as history has, XEP-0045 §7.2.15) and occupant ids (XEP-0421 §4),
// with o's occupant id added.
func (rm *room) fromOccupant(o *occupant, st *xmlstream.Element, typ string) *xmlstream.Element {
	out := xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", rm.nickJID(o.nick).String(),
		"type", typ, "id", st.Attr("id"))
	if lang := st.Lang(); lang != "" {
		out.SetAttrNS("xml", "lang", lang)
	}
	for _, c := range st.ChildElements() {
		if c.Name.Space == NSUser || c.Name.Space == NSOccupantID ||
			(c.Name.Space == NSSID && c.Name.Local == "stanza-id" && rm.is(c.Attr("by"))) ||
			(isDelay(c) && rm.is(c.Attr("from"))) {
			continue
		}
		if c.Name.Space == st.Name.Space {
			c = &xmlstream.Element{Name: c.Name, Attrs: c.Attrs, Children: c.Children}
			c.Name.Space = stanza.NSClient
		}
		out.AddChild(c)
	}
	return out.AddChild(occupantIDElement(o))
}

// is reports whether addr is rm's JID as a client compares JIDs: after
// normalisation (RFC 7622 §3), so that "Verona@Conference.localhost" is
// the room "verona@conference.localhost" too.
func (rm *room) is(addr string) bool {
	j, err := jid.Parse(addr)
	return err == nil && j.Equal(rm.jid)
}

// isDelay reports whether e is a delayed delivery element: XEP-0203's,
// or the legacy XEP-0091 one some clients still read.
func isDelay(e *xmlstream.Element) bool {
	return (e.Name.Space == NSDelay && e.Name.Local == "delay") || (e.Name.Space == NSLegacyDelay && e.Name.Local == "x")
}

// groupchat archives a message of o and broadcasts it with its stanza id;
// it returns the mention notifications to route (XEP-0452) and the
// message's place in the archive writer's queue (0: not archived). The id is the archive's,
// handed out now; the writer stores the message after the broadcast
// (writer.go).
func (s *Service) groupchat(ctx context.Context, rm *room, o *occupant, from jid.JID, st *xmlstream.Element) ([]*xmlstream.Element, uint64) {
	out := rm.fromOccupant(o, st, "groupchat")
	body := st.Child(st.Name.Space, "body")
	if body != nil && rm.cfg.Unarchived {
		rm.remember(Message{Stamp: time.Now(), Nick: o.nick, Stanza: out.Append(nil, "")}, s.cfg.History)
	}
	if !rm.cfg.Unarchived && mam.Worth(st) {
		origin := st.Attr("id")
		if oid := st.Child(NSSID, "origin-id"); oid != nil && oid.Attr("id") != "" {
			origin = oid.Attr("id")
		}
		m := Message{Room: rm.name, Nick: o.nick, Sender: from.Bare().String(),
			OriginID: origin, Body: text(body), Stanza: out.Append(nil, "")}
		if r := st.Child(NSRetract, "retract"); r != nil && s.retractOwn(ctx, rm, st, m, out, r.Attr("id")) {
			return nil, 0
		}
		m, seq, err := s.w.submit(ctx, m)
		switch {
		case errors.Is(err, errBusy):
			s.reply(ctx, st, stanza.ResourceConstraint, "the room archive is busy")
			return nil, 0
		case err != nil:
			s.cfg.Logger.Error("archiving a room message", "room", rm.jid.String(), "err", err)
			s.reply(ctx, st, stanza.InternalServerError, "the message could not be archived")
			return nil, 0
		}
		out.AddChild(xmlstream.NewElement(NSSID, "stanza-id", "by", rm.jid.String(), "id", strconv.FormatInt(m.ID, 10)))
		s.broadcast(rm, out)
		return s.mentionNotices(rm, out), seq
	}
	s.broadcast(rm, out)
	return s.mentionNotices(rm, out), 0
}

// retractOwn handles the retraction st (out as the room sends it, m as
// it is archived) of the message of the room's archive whose stanza id
// is id: when that message is one of the retracting user's own, not
// retracted yet, the archive keeps a tombstone in its place, and the
// retraction, in one transaction, and out is broadcast with its stanza
// id (XEP-0424 §4, §5.1). It reports false, having done nothing, for a
// message of someone else (or none), whose retraction goes out as any
// message does.
func (s *Service) retractOwn(ctx context.Context, rm *room, st *xmlstream.Element, m Message, out *xmlstream.Element, id string) bool {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return false
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	page, err := s.query(qctx, rm, Query{IDs: []int64{n}, Max: 1})
	if err != nil || len(page.Messages) == 0 || page.Messages[0].Sender != m.Sender {
		return false
	}
	orig, err := parseStored(page.Messages[0].Stanza)
	if err != nil || orig.Child(NSRetract, "retracted") != nil || orig.Attr("from") == rm.jid.String() {
		return false // retracted already, or the room's (a moderator's retraction)
	}
	retracted := xmlstream.NewElement(NSRetract, "retracted", "stamp", time.Now().UTC().Format(stampLayout))
	m, err = s.w.reserve(qctx, m)
	if err == nil {
		err = s.cfg.Store.Retract(qctx, s.cfg.Domain, rm.name, n, tombstone(orig, retracted).Append(nil, ""), m)
	}
	if err != nil {
		s.cfg.Logger.Error("retracting a message", "room", rm.jid.String(), "id", n, "err", err)
		s.reply(ctx, st, stanza.InternalServerError, "the message could not be retracted")
		return true
	}
	out.AddChild(xmlstream.NewElement(NSSID, "stanza-id", "by", rm.jid.String(), "id", strconv.FormatInt(m.ID, 10)))
	s.broadcast(rm, out)
	return true
}

// isSubjectChange reports whether the groupchat message st changes the
// room's subject: a <subject/> with neither <body/> nor <thread/>, which
// make it an ordinary message (XEP-0045 §8.1).
func isSubjectChange(st *xmlstream.Element) bool {
	return st.Child(st.Name.Space, "subject") != nil && st.Child(st.Name.Space, "body") == nil &&
		st.Child(st.Name.Space, "thread") == nil
}

// setSubject changes the room's subject (§8.1), if o may.
func (s *Service) setSubject(ctx context.Context, rm *room, o *occupant, st *xmlstream.Element) {
	if o.role != Moderator && !(rm.cfg.ChangeSubject && o.role == Participant) {
		s.reply(ctx, st, stanza.Forbidden, "only moderators may change the subject")
		return
	}
	oldSubject, oldBy, oldByID := rm.subject, rm.subjectBy, rm.subjectByID
	rm.subject, rm.subjectBy, rm.subjectByID = st.Child(st.Name.Space, "subject").Text(), o.nick, o.id
	if rm.cfg.Persistent && s.save(ctx, rm) != nil {
		rm.subject, rm.subjectBy, rm.subjectByID = oldSubject, oldBy, oldByID
		s.reply(ctx, st, stanza.InternalServerError, "the subject could not be stored")
		return
	}
	s.broadcast(rm, rm.fromOccupant(o, st, "groupchat"))
}

// private prepares a private message from the session from of the
// occupant o (nil: the sender is not one) to the occupant nick (§7.5),
// remembers it for the errors that may come back for it, and returns the
// function that sends it through the router, so that it is archived and
// filtered as one-to-one messages are; nil when it was refused. The
// caller runs it once rm's lock is released: the router may bounce the
// message straight back to the room (a full or closing session, an
// offline store that refuses it), which handles the error under the
// same lock.
func (s *Service) private(ctx context.Context, rm *room, o *occupant, from jid.JID, nick string, st *xmlstream.Element) func() {
	target := rm.occupants[nick]
	switch {
	case stanza.Type(st) == "groupchat":
		s.reply(ctx, st, stanza.BadRequest, "groupchat messages go to the room")
		return nil
	case o == nil:
		s.reply(ctx, st, stanza.NotAcceptable, "only occupants may send private messages")
		return nil
	case !rm.cfg.mayPM(o.role):
		s.reply(ctx, st, stanza.NotAllowed, "the room's configuration does not let you send private messages")
		return nil
	case target == nil:
		s.reply(ctx, st, stanza.ItemNotFound, "no such occupant")
		return nil
	}
	out := rm.fromOccupant(o, st, st.Attr("type"))
	out.AddChild(xmlstream.NewElement(NSUser, "x"))
	id := st.Attr("id")
	if id == "" {
		// An error for it must be told from one that says the
		// recipient is gone (bounce.go): it gets an id of the room's.
		id = stanza.NewID()
		out.SetAttr("id", id)
	}
	sessions := slices.Clone(target.sessions)
	for _, j := range sessions {
		rm.rememberPrivate(j, id, sentPrivate{sender: from, id: st.Attr("id"), fromNick: o.nick, toNick: nick})
	}
	return func() {
		if len(sessions) > 0 && !s.r.IsLocal(sessions[0].Domainpart()) {
			// An occupant of another server: after what the relay
			// holds for it, such as its presence.
			for _, j := range sessions {
				s.relay.send(addressed(out, j))
			}
			return
		}
		// The first session's copy is archived (and gets the stanza id);
		// the other sessions of the nick, of the same account, get copies
		// of it that are not archived again.
		var first *xmlstream.Element
		for _, j := range sessions {
			if first == nil {
				first = addressed(out, j)
				s.r.Route(ctx, first)
				continue
			}
			s.r.RouteArchived(ctx, addressed(first, j))
		}
	}
}

// sendHistory sends the room's recent messages to the session to, as
// <history/> h (may be nil) asks (§7.2.14), each with a <delay/>.
func (s *Service) sendHistory(ctx context.Context, rm *room, to jid.JID, h *xmlstream.Element) {
	q := Query{Max: rm.cfg.historyLength(s.cfg.History), Last: true}
	maxChars := -1
	if h != nil {
		if n, err := strconv.Atoi(h.Attr("maxstanzas")); err == nil && n >= 0 {
			q.Max = min(n, q.Max)
		}
		if n, err := strconv.Atoi(h.Attr("maxchars")); err == nil && n >= 0 {
			maxChars = n
		}
		// Beyond what a Duration holds (some 292 years), seconds
		// bounds nothing: n * time.Second would wrap around.
		if n, err := strconv.Atoi(h.Attr("seconds")); err == nil && n >= 0 && n <= int(math.MaxInt64/int64(time.Second)) {
			q.Start = time.Now().Add(-time.Duration(n) * time.Second)
		}
		if t, err := time.Parse(time.RFC3339Nano, h.Attr("since")); err == nil && t.After(q.Start) {
			q.Start = t
		}
	}
	if q.Max == 0 || maxChars == 0 {
		return
	}
	msgs := rm.recentSince(q.Start, q.Max)
	if !rm.cfg.Unarchived {
		page, err := s.query(ctx, rm, q)
		if err != nil {
			s.cfg.Logger.Error("loading room history", "room", rm.jid.String(), "err", err)
			return
		}
		msgs = page.Messages
	}
	if maxChars > 0 {
		// Keep the newest messages whose stanzas fit in maxchars.
		total, first := 0, len(msgs)
		for first > 0 && total+len(msgs[first-1].Stanza) <= maxChars {
			first--
			total += len(msgs[first].Stanza)
		}
		msgs = msgs[first:]
	}
	for _, m := range msgs {
		el, err := parseStored(m.Stanza)
		if err != nil {
			s.cfg.Logger.Error("reading room history", "room", rm.jid.String(), "id", m.ID, "err", err)
			continue
		}
		if m.ID != 0 {
			el.AddChild(xmlstream.NewElement(NSSID, "stanza-id", "by", rm.jid.String(), "id", strconv.FormatInt(m.ID, 10)))
		}
		el.AddChild(xmlstream.NewElement(NSDelay, "delay", "from", rm.jid.String(), "stamp", m.Stamp.UTC().Format(stampLayout)))
		el.SetAttr("to", to.String())
		s.send(to, el)
	}
}

func parseStored(data []byte) (*xmlstream.Element, error) {
	return xmlstream.ParseStored(data)
}

// remember keeps m among the last max messages of an unarchived room.
func (rm *room) remember(m Message, max int) {
	if max <= 0 {
		return
	}
	if len(rm.recent) >= max {
		rm.recent = slices.Delete(rm.recent, 0, len(rm.recent)-max+1)
	}
	rm.recent = append(rm.recent, m)
}

// recentSince returns the last n remembered messages stamped at or after
// start (zero: any).
func (rm *room) recentSince(start time.Time, n int) []Message {
	msgs := rm.recent
	for len(msgs) > 0 && msgs[0].Stamp.Before(start) {
		msgs = msgs[1:]
	}
	return msgs[max(0, len(msgs)-n):]
}
