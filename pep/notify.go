package pep

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// notify sends the event ev about owner's node to every session that may
// have it and asked for the node's notifications: the owner's own, and for
// nodes not on the whitelist model those of its presence subscribers
// of non-negative priority (XEP-0163 §4.3.2), on the roster model only
// those in the allowed groups (XEP-0060 §4.5).
func (m *module) notify(ctx context.Context, owner jid.JID, node string, cfg NodeConfig, ev *xmlstream.Element) {
	readers := []jid.JID{owner}
	if cfg.Access != Whitelist {
		var subs []jid.JID
		var err error
		if cfg.Access == Roster {
			subs, err = m.Contacts.SubscribersIn(ctx, owner, cfg.RosterGroups)
		} else {
			subs, err = m.Contacts.Subscribers(ctx, owner)
		}
		if err != nil {
			m.Logger.Error("notifying a PEP change", "jid", owner.String(), "node", node, "err", err)
		}
		readers = append(readers, subs...)
	}
	event := xmlstream.NewElement(NSEvent, "event").AddChild(ev)
	sent := map[string]bool{}
	for _, reader := range readers {
		if !m.r.IsLocal(reader.Domainpart()) {
			for _, s := range m.remote.wanting(owner, reader, node) {
				sent[s.String()] = true
				m.send(ctx, owner, s, event)
			}
			continue
		}
		for _, s := range m.r.AvailableResources(reader) {
			if m.Interests.Wants(s, node) && (reader.Equal(owner) || !m.negative(s)) {
				sent[s.String()] = true
				m.send(ctx, owner, s, event)
			}
		}
	}
	m.notifySubscribers(ctx, owner, cfg, readers, sent, event)
}

// send routes a headline carrying event, and then extra, from owner to
// the session to.
func (m *module) send(ctx context.Context, owner, to jid.JID, event *xmlstream.Element, extra ...*xmlstream.Element) {
	msg := xmlstream.NewElement(stanza.NSClient, stanza.Message,
		"from", owner.String(), "to", to.String(), "type", "headline", "id", stanza.NewID())
	msg.AddChild(event)
	for _, e := range extra {
		msg.AddChild(e)
	}
	m.r.Route(ctx, msg)
}

// sendLastItems sends a session whose interests became known the last item
// of each node it asked for, of its own account and, unless its priority
// is negative, of the accounts whose presence it is subscribed to
// (XEP-0163 §4.3.3, §4.3.4: send_last_published_item
// on_sub_and_presence).
func (m *module) sendLastItems(ctx context.Context, session jid.JID) {
	nodes := m.Interests.Notify(session)
	if len(nodes) == 0 {
		return
	}
	account := session.Bare()
	sctx, cancel := timeout(ctx)
	defer cancel()
	if m.negative(session) {
		// Only the account's own items: contacts' go to resources of
		// non-negative priority (XEP-0163 §4.3.3).
		m.sent.record(session, nodes)
		m.sendLast(sctx, session, []jid.JID{account}, nodes, false)
		return
	}
	// An approval of a subscription waits for this reading; one that
	// comes before leaves the last items to it.
	unlock := m.sent.turn(session)
	owners, err := m.Contacts.Subscriptions(sctx, account)
	if err != nil {
		unlock()
		m.Logger.Error("sending the last PEP items", "jid", session.String(), "err", err)
		return
	}
	owners = append(owners, account)
	m.sent.record(session, nodes)
	unlock()
	m.sendLast(sctx, session, owners, nodes, false)
}

// sendLast sends the session to, local or remote, the last item of each
// of owners' nodes among nodes that it may have: on_sub_and_presence
// nodes, on_sub ones too when onSub (its subscription was just
// approved: XEP-0060 §16.4.3), whitelist ones only of its own
// account, and roster ones only of accounts that put it in an allowed
// group. Each is stamped with when it was published (XEP-0060 §6.1.7,
// XEP-0203), lest it be taken for news.
func (m *module) sendLast(ctx context.Context, to jid.JID, owners []jid.JID, nodes []string, onSub bool) {
	if len(nodes) == 0 {
		return
	}
	last, err := m.Store.LastItems(ctx, owners, nodes)
	if err != nil {
		m.Logger.Error("sending the last PEP items", "jid", to.String(), "err", err)
		return
	}
	groups := rosterGroups{m: m, contact: to.Bare()}
	for _, li := range last {
		send := li.Config.SendLast == OnSubAndPresence || onSub && li.Config.SendLast == OnSub
		if !send || (li.Config.Access == Whitelist && !li.Owner.Equal(to.Bare())) {
			continue
		}
		if li.Config.Access == Roster && !li.Owner.Equal(to.Bare()) && !groups.allowed(ctx, li.Owner, li.Config) {
			continue
		}
		p, err := parsePayload(li.Item.Payload)
		if err != nil {
			m.Logger.Error("parsing a stored PEP item", "jid", li.Owner.String(), "node", li.Node, "id", li.Item.ID, "err", err)
			continue
		}
		ev := xmlstream.NewElement(NSEvent, "event").AddChild(itemsEvent(li.Node, eventItem(li.Item.ID, p)))
		delay := xmlstream.NewElement(NSDelay, "delay", "from", li.Owner.String(), "stamp", li.Published.UTC().Format(stampLayout))
		m.send(ctx, li.Owner, to, ev, delay)
	}
}

// rosterGroups tells, reading each owner's roster once, whether a
// contact may have the items of owners' nodes of the roster access model.
type rosterGroups struct {
	m       *module
	contact jid.JID
	// of holds the groups of the contact, by owner, nil when it is not
	// subscribed to the owner's presence.
	of map[string][]string
}

// allowed reports whether the contact may have the items of owner's node
// with cfg, of the roster model; a failure to read the roster is no.
func (g *rosterGroups) allowed(ctx context.Context, owner jid.JID, cfg NodeConfig) bool {
	groups, read := g.of[owner.String()]
	if !read {
		subscribed, gs, err := g.m.Contacts.ContactGroups(ctx, owner, g.contact)
		if err != nil {
			g.m.Logger.Error("reading the roster groups of a contact", "jid", owner.String(), "contact", g.contact.String(), "err", err)
		}
		if subscribed && err == nil {
			groups = gs
		}
		if g.of == nil {
			g.of = map[string][]string{}
		}
		g.of[owner.String()] = groups
	}
	return cfg.allows(groups)
}

// negative reports whether the local session's priority is negative: it
// gets no notifications from the accounts it is subscribed to (XEP-0163
// §4.3.2, §4.3.3).
func (m *module) negative(session jid.JID) bool {
	p, ok := m.r.Priority(session)
	return ok && p < 0
}
