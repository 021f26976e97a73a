package roster

import (
	"context"
	"fmt"

	"mellium.im/xmpp/jid"
)

// SubscribeMutually gives the local accounts a and b a subscription both
// ways, as an invitation that b redeemed asks (XEP-0401 §5.3, XEP-0379):
// each gets the other in its roster with subscription both, pending
// requests between them answered, and its resources that requested the
// roster get a push. The available resources of each send their presence
// to the other.
func (m *Module) SubscribeMutually(ctx context.Context, a, b jid.JID) error {
	a, b = a.Bare(), b.Bare()
	for _, p := range [][2]jid.JID{{a, b}, {b, a}} {
		owner, contact := p[0], p[1]
		var item Item
		ch, turn, err := m.update(ctx, owner, contact, func(st State) (State, error) {
			if !st.InRoster {
				st.InRoster, st.Item = true, Item{}
			}
			st.Item.Subscription, st.Item.Ask, st.Item.Approved = Both, false, false
			st.PendingIn = ""
			item = st.Item
			return st, nil
		})
		if err != nil {
			return fmt.Errorf("subscribe %s to %s: %w", owner, contact, err)
		}
		turn.Run(func() {
			if ch.ItemChanged {
				item.Contact = contact
				m.push(owner, ItemElement(item), ch.Version)
			}
		})
	}
	m.SendPresence(ctx, a, b)
	m.SendPresence(ctx, b, a)
	return nil
}
