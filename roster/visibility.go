package roster

import (
	"context"

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
	return m.contacts(ctx, account, Subscription.hasFrom)
}

// Subscriptions returns the contacts whose presence account is subscribed
// to (subscription to or both).
func (m *Module) Subscriptions(ctx context.Context, account jid.JID) ([]jid.JID, error) {
	return m.contacts(ctx, account, Subscription.hasTo)
}

// contacts returns the contacts of account's roster whose subscription
// passes keep.
func (m *Module) contacts(ctx context.Context, account jid.JID, keep func(Subscription) bool) ([]jid.JID, error) {
	ros, err := m.store.Roster(ctx, account.Bare())
	if err != nil {
		return nil, err
	}
	var cs []jid.JID
	for _, it := range ros.Items {
		if keep(it.Subscription) {
			cs = append(cs, it.Contact)
		}
	}
	return cs, nil
}
