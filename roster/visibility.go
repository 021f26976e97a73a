package roster

import (
	"context"
	"fmt"
	"slices"

	"mellium.im/xmpp/jid"
)

// MaySeePresence reports whether contact is subscribed to account's
// presence: the account's roster gives contact a subscription from or both.
func (m *Module) MaySeePresence(ctx context.Context, account, contact jid.JID) (bool, error) {
	st, err := m.store.State(ctx, account.Bare(), contact.Bare())
	if err != nil {
		return false, err
	}
	return st.InRoster && st.Item.Subscription.hasFrom(), nil
}

// SendPresence sends the current presence of each of account's available
// resources to contact, if contact is subscribed to it — for example when
// the user unblocks the contact (XEP-0191 §3.4).
func (m *Module) SendPresence(ctx context.Context, account, contact jid.JID) {
	sees, err := m.MaySeePresence(ctx, account, contact)
	if err != nil {
		m.log.Error("sending presence again", "account", account.String(), "contact", contact.String(), "err", err)
		return
	}
	if !sees {
		return
	}
	for _, p := range m.r.Presences(account.Bare()) {
		m.r.Route(ctx, addressed(p, contact.String()))
	}
}

// Subscribers returns the contacts subscribed to account's presence
// (subscription from or both).
func (m *Module) Subscribers(ctx context.Context, account jid.JID) ([]jid.JID, error) {
	return m.contacts(ctx, account, func(it Item) bool { return it.Subscription.hasFrom() })
}

// Subscriptions returns the contacts whose presence account is subscribed
// to (subscription to or both).
func (m *Module) Subscriptions(ctx context.Context, account jid.JID) ([]jid.JID, error) {
	return m.contacts(ctx, account, func(it Item) bool { return it.Subscription.hasTo() })
}

// ContactGroups reports whether contact is subscribed to account's
// presence, and returns the groups of account's roster that contact is
// in, for the roster access model of PEP nodes (XEP-0060 §4.5).
func (m *Module) ContactGroups(ctx context.Context, account, contact jid.JID) (subscribed bool, groups []string, err error) {
	st, err := m.store.State(ctx, account.Bare(), contact.Bare())
	if err != nil || !st.InRoster {
		return false, nil, err
	}
	return st.Item.Subscription.hasFrom(), st.Item.Groups, nil
}

// SubscribersIn returns the contacts subscribed to account's presence
// that are in one of groups of its roster.
func (m *Module) SubscribersIn(ctx context.Context, account jid.JID, groups []string) ([]jid.JID, error) {
	return m.contacts(ctx, account, func(it Item) bool {
		return it.Subscription.hasFrom() && slices.ContainsFunc(it.Groups, func(g string) bool { return slices.Contains(groups, g) })
	})
}

// RosterGroups returns the groups of account's roster, sorted.
func (m *Module) RosterGroups(ctx context.Context, account jid.JID) ([]string, error) {
	ros, err := m.store.Roster(ctx, account.Bare())
	if err != nil {
		return nil, err
	}
	var groups []string
	for _, it := range ros.Items {
		groups = append(groups, it.Groups...)
	}
	slices.Sort(groups)
	return slices.Compact(groups), nil
}

// contacts returns the contacts of account's roster whose items pass
// keep.
func (m *Module) contacts(ctx context.Context, account jid.JID, keep func(Item) bool) ([]jid.JID, error) {
	ros, err := m.store.Roster(ctx, account.Bare())
	if err != nil {
		return nil, err
	}
	var cs []jid.JID
	for _, it := range ros.Items {
		if keep(it) {
			cs = append(cs, it.Contact)
		}
	}
	return cs, nil
}

// DropRequests forgets, without answering them, the stored subscription
// requests to account from the contacts that from reports: a user who
// blocks a contact can no longer answer the contact's request, so the
// block stands for the answer (XEP-0191 §3.3).
func (m *Module) DropRequests(ctx context.Context, account jid.JID, from func(contact jid.JID) bool) error {
	owner := account.Bare()
	pending, err := m.store.PendingIn(ctx, owner)
	if err != nil {
		return fmt.Errorf("reading the subscription requests to %s: %w", owner, err)
	}
	for _, p := range pending {
		if !from(p.Contact) {
			continue
		}
		_, err := m.store.Update(ctx, owner, p.Contact, m.max, func(cur State) (State, error) {
			cur.PendingIn = ""
			return cur, nil
		})
		if err != nil {
			return fmt.Errorf("dropping the subscription request of %s to %s: %w", p.Contact, owner, err)
		}
	}
	return nil
}
