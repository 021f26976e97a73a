package blocking

import (
	"context"
	"errors"
	"fmt"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// errTooMany is a block command that would make the blocklist longer than
// Config.MaxItems.
var errTooMany = errors.New("the blocklist would be too long")

// own reports whether iq is a user's command about their own blocklist: sent
// by a resource of the account it is addressed to (or without 'to').
// Anyone else gets service-unavailable, as for an unknown payload.
func own(iq router.IQ) bool {
	return iq.From.Resourcepart() != "" && iq.From.Bare().Equal(iq.To)
}

// handleBlocklist answers a blocklist request (XEP-0191 §3.2) and marks
// the requesting resource as interested in pushes. It marks before it
// reads: a change another resource makes meanwhile is then in the answer,
// or pushed, or both, never neither.
func (m *Module) handleBlocklist(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !own(iq) {
		return iq.Error(stanza.ServiceUnavailable, "")
	}
	m.r.Mark(iq.From, Mark, true)
	l, err := m.lists.get(ctx, iq.To)
	if err != nil {
		m.cfg.Logger.Error("answering a blocklist request", "jid", iq.From.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "the blocklist could not be read")
	}
	return iq.Result(itemsElement("blocklist", l.items))
}

// handleBlock adds the items to the blocklist (XEP-0191 §3.3). A command
// without items is a bad request; one invalid JID fails the whole command.
func (m *Module) handleBlock(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !own(iq) {
		return iq.Error(stanza.ServiceUnavailable, "")
	}
	items, cond, text := parseItems(iq.Payload)
	if cond == "" && len(items) == 0 {
		cond, text = stanza.BadRequest, "a block command needs at least one item"
	}
	if cond != "" {
		return iq.Error(cond, text)
	}
	var added []jid.JID
	turn, err := m.lists.update(ctx, iq.To, func(ctx context.Context, cur *blocklist) (*blocklist, error) {
		var fresh []jid.JID
		for _, j := range items {
			if !cur.has(j) {
				fresh = append(fresh, j)
			}
		}
		if len(fresh) == 0 {
			return cur, nil
		}
		if cur.len()+len(fresh) > m.cfg.MaxItems {
			return nil, errTooMany
		}
		var err error
		if added, err = m.cfg.Store.Block(ctx, iq.To, fresh); err != nil {
			return nil, fmt.Errorf("blocking %d JIDs for %s: %w", len(fresh), iq.To, err)
		}
		return cur.with(added), nil
	})
	switch {
	case errors.Is(err, errTooMany):
		return iq.Error(stanza.PolicyViolation, fmt.Sprintf("a blocklist holds at most %d JIDs", m.cfg.MaxItems))
	case err != nil:
		m.cfg.Logger.Error("blocking", "jid", iq.From.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "the blocklist could not be changed")
	}
	m.r.Reply(ctx, iq.Result(nil))
	// In turn: the contacts too see the blocks and unblocks in order.
	turn.Run(func() {
		if len(added) > 0 {
			m.push(iq.To, itemsElement("block", added))
			m.sendUnavailable(ctx, iq.To, added)
			m.dropRequests(ctx, iq.To, added)
		}
	})
	m.forwardReports(ctx, iq.From, reports(iq.Payload))
	return nil
}

// handleUnblock removes the items from the blocklist, or empties it when
// there are none (XEP-0191 §3.4, §3.5). Unblocking a JID that is not
// blocked succeeds and changes nothing.
//
// XEP-0191 §3.4 also wants the user's current presence sent to an
// unblocked contact who may see it: Config.Presence sends it to each
// subscribed contact the items name (contacts).
func (m *Module) handleUnblock(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !own(iq) {
		return iq.Error(stanza.ServiceUnavailable, "")
	}
	items, cond, text := parseItems(iq.Payload)
	if cond != "" {
		return iq.Error(cond, text)
	}
	all := len(items) == 0
	var removed []jid.JID
	turn, err := m.lists.update(ctx, iq.To, func(ctx context.Context, cur *blocklist) (*blocklist, error) {
		var err error
		if all {
			if cur.len() == 0 {
				return cur, nil
			}
			if removed, err = m.cfg.Store.UnblockAll(ctx, iq.To); err != nil {
				return nil, fmt.Errorf("unblocking everyone for %s: %w", iq.To, err)
			}
			return emptyList, nil
		}
		var present []jid.JID
		for _, j := range items {
			if cur.has(j) {
				present = append(present, j)
			}
		}
		if len(present) == 0 {
			return cur, nil
		}
		if removed, err = m.cfg.Store.Unblock(ctx, iq.To, present); err != nil {
			return nil, fmt.Errorf("unblocking %d JIDs for %s: %w", len(present), iq.To, err)
		}
		return cur.without(removed), nil
	})
	if err != nil {
		m.cfg.Logger.Error("unblocking", "jid", iq.From.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "the blocklist could not be changed")
	}
	m.r.Reply(ctx, iq.Result(nil))
	turn.Run(func() {
		switch {
		case all && len(removed) > 0:
			m.push(iq.To, xmlstream.NewElement(NS, "unblock"))
		case len(removed) > 0:
			m.push(iq.To, itemsElement("unblock", removed))
		}
		if m.cfg.Presence != nil {
			// XEP-0191 §3.4: subscribed contacts see the user again.
			for _, contact := range m.contacts(ctx, iq.To, removed) {
				m.cfg.Presence.SendPresence(ctx, iq.To, contact)
			}
		}
	})
	return nil
}

// maxJIDBytes bounds a blocklist item. A valid JID may have three times
// as many, more than the database's index takes with the owner's
// address; no address people use comes near it.
const maxJIDBytes = 1024

// parseItems returns the distinct JIDs of the <item/> children of a
// command, or the error condition and text for a malformed one.
func parseItems(payload *xmlstream.Element) (items []jid.JID, condition, text string) {
	seen := map[string]bool{}
	for _, c := range payload.ChildElements() {
		if c.Name.Space != NS || c.Name.Local != "item" {
			return nil, stanza.BadRequest, "unexpected element <" + c.Name.Local + "/> in <" + payload.Name.Local + "/>"
		}
		s := c.Attr("jid")
		if s == "" {
			return nil, stanza.BadRequest, "an item needs a 'jid' attribute"
		}
		j, err := jid.Parse(s)
		if err != nil {
			return nil, stanza.JIDMalformed, fmt.Sprintf("%q is not a valid JID: %v", s, err)
		}
		if len(j.String()) > maxJIDBytes {
			return nil, stanza.PolicyViolation, fmt.Sprintf("a blocked JID has at most %d bytes", maxJIDBytes)
		}
		if k := j.String(); !seen[k] {
			seen[k] = true
			items = append(items, j)
		}
	}
	return items, "", ""
}

// itemsElement returns <name xmlns='urn:xmpp:blocking'/> with one <item/>
// per JID.
func itemsElement(name string, items []jid.JID) *xmlstream.Element {
	e := xmlstream.NewElement(NS, name)
	for _, j := range items {
		e.AddChild(xmlstream.NewElement(NS, "item", "jid", j.String()))
	}
	return e
}

// push sends payload in an IQ set to every interested resource of account
// (XEP-0191 §3.3-§3.5).
func (m *Module) push(account jid.JID, payload *xmlstream.Element) {
	for _, to := range m.r.Marked(account, Mark) {
		iq := xmlstream.NewElement(stanza.NSClient, stanza.IQ,
			"type", "set", "id", "push-"+stanza.NewID(), "from", account.String(), "to", to.String())
		iq.AddChild(payload.Copy())
		m.r.DeliverToSession(to, iq)
	}
}

// sendUnavailable tells newly blocked contacts that each available
// resource of account went offline (XEP-0191 §3.3). It is routed, and
// the filters let unavailable presence from the user pass, but not to a
// local contact who blocked the user or the resource it comes from.
//
// XEP-0191 limits this to contacts allowed to see the user's presence;
// with Config.Presence those are the subscribed contacts, those at a
// blocked domain and the resources a domain/resource item names included
// (contacts), and the JIDs the blocked items match that got
// directed presence from the user (RFC 6121 §4.6); without it every
// available session of a contact given by bare or full JID is told.
func (m *Module) sendUnavailable(ctx context.Context, account jid.JID, blocked []jid.JID) {
	presences := m.r.Presences(account)
	if len(presences) == 0 {
		return
	}
	contacts := m.contacts(ctx, account, blocked)
	directed := map[string]bool{}
	if m.cfg.Presence != nil {
		l := newBlocklist(blocked)
		for _, j := range m.cfg.Presence.Directed(account) {
			if l.matches(split(j)) {
				directed[j.String()] = true
				contacts = append(contacts, j)
			}
		}
	}
	told := map[string]bool{}
	for _, contact := range contacts {
		if contact.Bare().Equal(account) || told[contact.String()] {
			continue
		}
		told[contact.String()] = true
		if m.cfg.Presence != nil && !directed[contact.String()] {
			if sees, err := m.cfg.Presence.MaySeePresence(ctx, account, contact); err != nil || !sees {
				continue
			}
		}
		for _, p := range presences {
			m.r.Route(ctx, xmlstream.NewElement(stanza.NSClient, stanza.Presence,
				"from", p.Attr("from"), "to", contact.String(), "type", "unavailable"))
		}
	}
}

// dropRequests forgets the stored subscription requests from the newly
// blocked JIDs, as Prosody does: while blocked, a contact cannot be
// answered (an unsubscribed to them is refused too), and XEP-0191 §3.3
// has the request not delivered, so the block is the user's answer and
// the request does not come back once the contact is unblocked.
func (m *Module) dropRequests(ctx context.Context, account jid.JID, blocked []jid.JID) {
	if m.cfg.Presence == nil {
		return
	}
	l := newBlocklist(blocked)
	from := func(contact jid.JID) bool { return l.matches(split(contact)) }
	if err := m.cfg.Presence.DropRequests(ctx, account, from); err != nil {
		m.cfg.Logger.Error("dropping the subscription requests of blocked JIDs", "jid", account.String(), "err", err)
	}
}

// contacts returns the contacts that items (blocked or unblocked JIDs)
// name, each once: those given by bare or full JID and, with
// Config.Presence, the subscribers of account that a domain item matches
// and, for a domain/resource item, the resource of that name of each
// subscriber at the domain (XEP-0191 §6, XEP-0016 §2.1).
func (m *Module) contacts(ctx context.Context, account jid.JID, items []jid.JID) []jid.JID {
	var out, domains, resources []jid.JID
	seen := map[string]bool{}
	add := func(j jid.JID) {
		if k := j.String(); !seen[k] {
			seen[k] = true
			out = append(out, j)
		}
	}
	for _, j := range items {
		switch {
		case j.Localpart() != "":
			add(j)
		case j.Resourcepart() == "":
			domains = append(domains, j)
		default:
			resources = append(resources, j)
		}
	}
	if len(domains)+len(resources) == 0 || m.cfg.Presence == nil {
		return out
	}
	subscribers, err := m.cfg.Presence.Subscribers(ctx, account)
	if err != nil {
		m.cfg.Logger.Error("finding the subscribers a blocked domain or domain/resource names", "jid", account.String(), "err", err)
		return out
	}
	l := newBlocklist(domains)
	for _, c := range subscribers {
		if l.matches(split(c)) {
			add(c)
		}
		for _, r := range resources {
			if r.Domainpart() != c.Domainpart() {
				continue
			}
			if full, err := jid.New(c.Localpart(), c.Domainpart(), r.Resourcepart()); err == nil {
				add(full)
			}
		}
	}
	return out
}
