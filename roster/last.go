package roster

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// lastActivity answers a jabber:iq:last get to an account (XEP-0012 §4):
// the seconds since its last logout and the status it left with, only for
// the account itself and contacts with a subscription to its presence.
// An account with an available resource is active now: 0 seconds.
func (m *Module) lastActivity(ctx context.Context, iq router.IQ) *xmlstream.Element {
	owner := iq.To
	if !owner.Equal(iq.From.Bare()) {
		st, err := m.store.State(ctx, owner, iq.From.Bare())
		if err != nil {
			m.log.Error("last activity", "jid", owner.String(), "from", iq.From.String(), "err", err)
			return iq.Error(stanza.InternalServerError, "")
		}
		if !st.InRoster || !st.Item.Subscription.hasFrom() {
			return iq.Error(stanza.Forbidden, "no subscription to this account's presence")
		}
	}
	if len(m.r.Presences(owner)) > 0 {
		return iq.Result(xmlstream.NewElement(NSLast, "query", "seconds", "0"))
	}
	l, err := m.store.Last(ctx, owner)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return iq.Error(stanza.ItemNotFound, "the account has not been online")
	case err != nil:
		m.log.Error("last activity", "jid", owner.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	secs := int64(m.now().Sub(l.At).Seconds())
	q := xmlstream.NewElement(NSLast, "query", "seconds", strconv.FormatInt(max(secs, 0), 10))
	if l.Status != "" {
		q.AddText(l.Status)
	}
	return iq.Result(q)
}

// uptime answers a jabber:iq:last get to the server (XEP-0012 §5): the
// seconds since it started, without a status.
func (m *Module) uptime(ctx context.Context, iq router.IQ) *xmlstream.Element {
	secs := int64(m.now().Sub(m.started).Seconds())
	return iq.Result(xmlstream.NewElement(NSLast, "query", "seconds", strconv.FormatInt(max(secs, 0), 10)))
}

// AccountDeleted ends every subscription of the account bare before it is
// deleted: contacts subscribed to it get unavailable presence, every
// contact gets 'unsubscribe' and 'unsubscribed', and those with a pending
// request get it refused (RFC 6121 §3.2, §3.3). Then the account's roster,
// requests and last presence are removed. Call it before deleting the
// account.
func (m *Module) AccountDeleted(ctx context.Context, bare jid.JID) error {
	bare = bare.Bare()
	ros, err := m.store.Roster(ctx, bare)
	if err != nil {
		return fmt.Errorf("ending the subscriptions of %s: %w", bare, err)
	}
	pending, err := m.store.PendingIn(ctx, bare)
	if err != nil {
		return fmt.Errorf("ending the subscriptions of %s: %w", bare, err)
	}
	if err := m.store.DeleteAll(ctx, bare); err != nil {
		return err
	}
	told := map[string]bool{}
	for _, it := range ros.Items {
		if it.Subscription.hasFrom() {
			m.r.Route(ctx, subscription("unavailable", bare, it.Contact))
		}
		told[it.Contact.String()] = true
		m.r.Route(ctx, subscription("unsubscribe", bare, it.Contact))
		m.r.Route(ctx, subscription("unsubscribed", bare, it.Contact))
	}
	for _, p := range pending {
		if !told[p.Contact.String()] {
			m.r.Route(ctx, subscription("unsubscribed", bare, p.Contact))
		}
	}
	return nil
}
