package roster

import (
	"context"
	"errors"
	"slices"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// errNoItem stops an Update that removes an item that is not there.
var errNoItem = errors.New("no such roster item")

// rosterSet adds, updates or removes one roster item (RFC 6121 §2.3-§2.5).
func (m *Module) rosterSet(ctx context.Context, iq router.IQ) *xmlstream.Element {
	own := iq.To.Equal(iq.From.Bare())
	if !own && !m.mayManage(iq.From, true) {
		return iq.Error(stanza.Forbidden, "a roster belongs to its account")
	}
	children := iq.Payload.ChildElements()
	if len(children) != 1 || children[0].Name.Space != NS || children[0].Name.Local != "item" {
		return iq.Error(stanza.BadRequest, "a roster set holds exactly one item")
	}
	el := children[0]
	contact, err := jid.Parse(el.Attr("jid"))
	if err != nil {
		return iq.Error(stanza.JIDMalformed, "the item's jid is not a valid JID")
	}
	if contact.Resourcepart() != "" {
		return iq.Error(stanza.BadRequest, "a roster item is a bare JID")
	}
	if contact.Equal(iq.To) {
		return iq.Error(stanza.NotAllowed, "an account is not its own contact")
	}
	if el.Attr("subscription") == "remove" {
		return m.remove(ctx, iq, contact)
	}
	name := el.Attr("name")
	if len(name) > maxNameLen {
		return iq.Error(stanza.NotAcceptable, "the name is too long")
	}
	var groups []string
	for _, g := range el.ChildElements() {
		if g.Name.Space != NS || g.Name.Local != "group" {
			continue
		}
		text := g.Text()
		switch {
		case text == "":
			return iq.Error(stanza.NotAcceptable, "a group name must not be empty")
		case len(text) > maxGroupLen:
			return iq.Error(stanza.NotAcceptable, "a group name is too long")
		case slices.Contains(groups, text):
			return iq.Error(stanza.BadRequest, "duplicate group "+text)
		}
		groups = append(groups, text)
	}
	if len(groups) > maxGroups {
		return iq.Error(stanza.NotAcceptable, "too many groups")
	}
	// The account's own 'subscription' is ignored (RFC 6121 §2.1.2.5);
	// a privileged entity's sets the state, as a gateway that knows the
	// legacy contacts does (XEP-0356).
	var sub Subscription
	if !own {
		switch s := Subscription(el.Attr("subscription")); s {
		case None, To, From, Both:
			sub = s
		}
	}
	var item Item
	ch, turn, err := m.update(ctx, iq.To, contact, func(st State) (State, error) {
		if !st.InRoster {
			st.InRoster, st.Item = true, Item{Subscription: None}
		}
		st.Item.Name, st.Item.Groups = name, groups
		if sub != "" {
			st.Item.Subscription = sub
			// The state set answers what was waiting: the contact's
			// request once it has a subscription from, the owner's own
			// (ask) once the owner has one to (RFC 6121 §3.1.5, §3.1.6).
			if sub.hasFrom() {
				st.PendingIn, st.Item.Approved = "", false
			}
			if sub.hasTo() {
				st.Item.Ask = false
			}
		}
		item = st.Item
		return st, nil
	})
	switch {
	case errors.Is(err, ErrTooManyItems):
		return iq.Error(stanza.PolicyViolation, "the roster is full")
	case errors.Is(err, ErrTooLong):
		return iq.Error(stanza.NotAcceptable, "the contact's JID is too long")
	case err != nil:
		m.log.Error("roster set", "jid", iq.From.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	turn.Run(func() {
		if ch.ItemChanged {
			item.Contact = contact
			m.push(iq.To, ItemElement(item), ch.Version)
		}
	})
	return iq.Result(nil)
}

// remove deletes an item (RFC 6121 §2.5): the subscriptions both ways are
// cancelled and the contact is told.
func (m *Module) remove(ctx context.Context, iq router.IQ, contact jid.JID) *xmlstream.Element {
	owner := iq.To
	var before State
	ch, turn, err := m.update(ctx, owner, contact, func(st State) (State, error) {
		if !st.InRoster {
			return st, errNoItem
		}
		before = st
		return State{}, nil
	})
	switch {
	case errors.Is(err, errNoItem) || errors.Is(err, storage.ErrNotFound):
		return iq.Error(stanza.ItemNotFound, "no such roster item")
	case err != nil:
		m.log.Error("roster remove", "jid", iq.From.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	turn.Run(func() {
		m.push(owner, xmlstream.NewElement(NS, "item", "jid", contact.String(), "subscription", "remove"), ch.Version)
	})
	sub := before.Item.Subscription
	if sub.hasFrom() {
		m.sendUnavailable(ctx, owner, contact)
	}
	if sub.hasFrom() || before.PendingIn != "" {
		m.r.Route(ctx, subscription("unsubscribed", owner, contact))
	}
	if sub.hasTo() || before.Item.Ask {
		m.r.Route(ctx, subscription("unsubscribe", owner, contact))
	}
	return iq.Result(nil)
}

// subscription returns a presence of type typ from the bare JID from to to.
func subscription(typ string, from, to jid.JID) *xmlstream.Element {
	return xmlstream.NewElement(stanza.NSClient, stanza.Presence, "type", typ, "from", from.String(), "to", to.String())
}

// sendUnavailable tells contact that every available resource of owner
// went away for it (RFC 6121 §3.2.2), before its subscription ends.
func (m *Module) sendUnavailable(ctx context.Context, owner, contact jid.JID) {
	for _, p := range m.r.Presences(owner) {
		m.r.Route(ctx, xmlstream.NewElement(stanza.NSClient, stanza.Presence, "type", "unavailable",
			"from", p.Attr("from"), "to", contact.String()))
	}
}

// sendPresence sends to to the current presence of every available
// resource of owner, e.g. after approving to's subscription (RFC 6121
// §3.1.5) or to answer its probe (§4.3.2). When owner has none, to gets
// owner's last unavailable presence as last returns it ("" for none), or
// else a bare unavailable: it learns that owner is offline.
func (m *Module) sendPresence(ctx context.Context, owner, to jid.JID, last func() string) {
	if ps := m.r.Presences(owner); len(ps) > 0 {
		for _, p := range ps {
			m.r.Route(ctx, addressed(p, to.String()))
		}
		return
	}
	reply := subscription("unavailable", owner, to)
	if l := last(); l != "" {
		if el, err := xmlstream.ParseElement([]byte(l), xmlstream.Limits{}); err == nil {
			reply = addressed(el, to.String())
		}
	}
	m.r.Route(ctx, reply)
}

// storedLast returns a function that reads owner's last unavailable
// presence from the store, for sendPresence.
func (m *Module) storedLast(ctx context.Context, owner jid.JID) func() string {
	return func() string {
		l, err := m.store.Last(ctx, owner)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			m.log.Error("reading the last presence", "jid", owner.String(), "err", err)
		}
		return l.Stanza
	}
}
